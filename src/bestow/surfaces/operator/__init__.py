"""Operator API (Gamnify-compatible) under ``/v1``: hash authentication, campaigns."""
