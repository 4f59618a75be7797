"""Defaults of the member import, in a module without imports so that the CLI shows them in
``--help`` without importing the importer (and with it the models)."""

from __future__ import annotations

CHUNK_SIZE = 5_000
"""Rows per transaction."""
