"""ISO 8601 on the wire: UTC with a ``Z``, whole seconds, as the vendors' examples show."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
