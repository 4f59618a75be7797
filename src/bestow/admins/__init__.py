"""The deployment's administrators: the bearer tokens of the Admin API."""
