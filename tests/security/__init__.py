"""Security checks generated from the route table."""
