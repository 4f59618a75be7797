"""How the Operator API reads a body's fields, in the vendor's words (``bestow.surfaces.bodies``).

Each reader takes the raw JSON value (``MISSING`` when the body leaves the field out) and the
field's name as the vendor prints it, and returns the field's value or raises ``Invalid``.
Missing and ``null`` read alike: the vendor words "is required" itself. Bet values are read as
decimals (at most two places) and kept as integer hundredths: never a float.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import WithJsonSchema

from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.fields import FieldError, OutOfRange
from bestow.surfaces.bodies import MISSING

T = TypeVar("T")
Reader = Callable[[Any, str], T]

NAME_REQUIRED = "name is required and cannot be empty or whitespace"
CREATED_BY_REQUIRED = "createdBy is required and cannot be empty or whitespace"
CANCELLED_BY_REQUIRED = "cancelledBy is required and cannot be empty or whitespace"
START_REQUIRED = "startTimeUtc is required"
END_REQUIRED = "endTimeUtc is required"
NOT_DATE_TIME = "{field} must be an ISO 8601 date-time"
NOT_STRING = "{field} must be a string"
TOO_LONG = "{field} must be at most {size} characters"
VALUE = "{field} must be a number greater than 0 with at most 2 decimal places"
VALUE_TOO_LARGE = "{field} must be at most 1000000000"
COUNT = "{field} must be an integer from 1 to 1000000"
SIZES = {
    "name": 200,
    "createdBy": 200,
    "cancelledBy": 200,
    "operatorReference": 200,
    "termsAndConditionsUrl": 2000,
    "description": 4000,
    "operatorPlayerId": 200,
    "betId": 200,
    "product": 200,
}
"""The columns' sizes (``Campaign``); ``description`` is bounded here, not by its column."""
MULTILINE = ("description",)
MAX_VALUE = Decimal(1_000_000_000)
MAX_COUNT = 1_000_000

NUMBER = WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "null"}]})
"""The wire type of an optional bet value read into hundredths."""
DECIMAL = WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]})
"""The wire type of an optional bet value that may be a numeric string."""


def given(value: Any) -> Any:
    """``None`` for a field left out, else the value."""
    return None if value is MISSING else value


def text(value: Any, name: str) -> str | None:
    """An optional string within its column's size, without control characters; as sent."""
    value = given(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(NOT_STRING.format(field=name), field=name)
    if len(value) > SIZES[name]:
        raise Invalid(TOO_LONG.format(field=name, size=SIZES[name]), field=name)
    try:
        # Blank is the caller's to judge (the vendor words "required" itself).
        fields.text(value.strip(), multiline=name in MULTILINE)
        return value
    except FieldError as exc:
        raise Invalid(f"{name} {exc}", field=name) from None


def required(missing: str) -> Reader[str]:
    """A string that must not be blank (refused with ``missing``), stripped."""

    def read(value: Any, name: str) -> str:
        found = text(value, name)
        if found is None or not found.strip():
            raise Invalid(missing, field=name)
        return found.strip()

    return read


def date_time(value: Any, name: str) -> datetime | None:
    """An optional ISO 8601 date-time; one without an offset is UTC, as the names say."""
    value = given(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(NOT_DATE_TIME.format(field=name), field=name)
    try:
        return fields.date_time(value, naive_is_utc=True)
    except OutOfRange as exc:
        raise Invalid(f"{name} {exc}", field=name) from None
    except FieldError:
        raise Invalid(NOT_DATE_TIME.format(field=name), field=name) from None


def required_date_time(missing: str) -> Reader[datetime]:
    def read(value: Any, name: str) -> datetime:
        found = date_time(value, name)
        if found is None:
            raise Invalid(missing, field=name)
        return found

    return read


def bet_value(value: Any, name: str) -> int:
    """A bet value in hundredths: a JSON number or numeric string > 0 with at most 2 places."""
    try:
        amount = fields.decimal(given(value), low=Decimal(0), high=MAX_VALUE, places=2)
    except OutOfRange as exc:
        message = VALUE_TOO_LARGE if exc.above else VALUE
        raise Invalid(message.format(field=name), field=name) from None
    except FieldError:
        raise Invalid(VALUE.format(field=name), field=name) from None
    if amount == 0:
        raise Invalid(VALUE.format(field=name), field=name)
    return int(amount * 100)


def bet_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise Invalid(COUNT.format(field=name), field=name)
    return value


def optional(reader: Reader[T]) -> Reader[T | None]:
    """``reader``, except that a field left out or ``null`` is ``None``."""

    def read(value: Any, name: str) -> T | None:
        return None if given(value) is None else reader(value, name)

    return read
