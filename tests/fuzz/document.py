"""The OpenAPI document the fuzz and boundary tests read, and the fuzz run's figures."""

from __future__ import annotations

import functools
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bestow.app import create_app
from tests.conftest import make_settings


def build_document() -> dict[str, Any]:
    """The OpenAPI document, built without a database (nothing is connected at build time)."""
    scratch = Path(tempfile.gettempdir())
    app = create_app(make_settings(f"sqlite+aiosqlite:///{scratch}/unused.db", scratch))
    return app.openapi()


@functools.cache
def document() -> dict[str, Any]:
    """``build_document()``, built once per process and shared (do not change it)."""
    return build_document()


COUNTS: dict[str, Counter[str]] = {}
"""Requests sent, 404 and 5xx answered, by database: printed at the end of the run (conftest)."""
