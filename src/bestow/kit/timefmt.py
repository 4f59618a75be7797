"""ISO 8601 on the wire: UTC with a ``Z``, whole seconds, as the vendors' examples show.

Years are always written with four digits (``strftime("%Y")`` writes year 999 as ``999``, which
strict RFC 3339 parsers refuse)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from bestow.kit.errors import Invalid


def _utc_seconds(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
@overload
def iso(value: datetime | None) -> str | None: ...
def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return _utc_seconds(value) + "Z"


def rfc3339(value: datetime) -> str:
    """The Voucher API's form: an explicit ``+00:00`` offset."""
    return _utc_seconds(value) + "+00:00"


def aware(value: datetime | None, name: str) -> datetime | None:
    """A time filter in UTC; a time without an offset is taken as UTC. ``name`` is the field a
    time out of range is refused for."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Invalid(f"{name} is out of range", field=name) from None
