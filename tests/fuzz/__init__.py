"""Fuzzing every surface from the OpenAPI document (schemathesis)."""
