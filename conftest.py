"""The whole suite: its log output is scanned for personal data and secrets."""

pytest_plugins = ["tests.fixtures.logscan"]
