"""Property-based boundary tests: every field of every write operation of every surface."""
