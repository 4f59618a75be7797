"""Output shapes in Bestow's own casing, shared by the front ends that show Bestow's objects as they
are (the Admin API, the `bestow` CLI, the console): one module per resource, each a pydantic model
and the function that builds it from domain objects. Vendor surfaces keep their vendors' shapes."""
