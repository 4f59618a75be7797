"""The strict field types every surface reads its input with.

One set of rules, so that a value refused on one surface is refused on all of them, and the same on
SQLite and PostgreSQL:

* date-times: ISO 8601 text with an offset (no Unix epochs), between ``MIN_DATETIME`` and
  ``MAX_DATETIME`` once normalised to UTC; anything else is out of range, never an overflow;
* integers: JSON integers (no booleans, no floats) within a 64-bit column, or a tighter bound;
* decimals: finite, bounded *before* any rounding, so that 1e308 is out of range rather than a
  decimal context overflow;
* text: no NUL or other control characters (PostgreSQL refuses NUL, SQLite would store it), no lone
  surrogates (neither database can encode them); identifiers also without path separators;
* free-form JSON: bounded depth, 64-bit integers, finite numbers, clean text.

The checks raise ``FieldError`` with a message that does not name the field: each surface puts
its own field name and wording around it. The ``Annotated`` types wrap the same checks for pydantic.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, PlainValidator, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

MIN_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
DATETIME_RANGE = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 32
"""Deepest nesting accepted in a request body or a stored JSON value. The vendors' bodies are at
most four levels deep; the JSON encoder stops at 255, the decoder at 1,024."""

_ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
    r"(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_PATH_SEPARATOR = re.compile(r"[/\\]")

NOT_DATE_TIME = "must be an ISO 8601 date-time with an offset, e.g. 2030-01-31T12:00:00Z"
NO_OFFSET = "must have an offset (Z or +hh:mm)"
DATE_OUT_OF_RANGE = f"is out of range ({DATETIME_RANGE})"
NOT_INTEGER = "must be an integer"
NOT_NUMBER = "must be a number"
CONTROL_CHARACTERS = "must not contain NUL or other control characters"
PATH_SEPARATORS = "must not contain / or \\"


class FieldError(ValueError):
    """A value breaks its field's rule; ``str()`` is the rule, without the field's name."""


class OutOfRange(FieldError):
    """A well-formed value beyond its field's bounds; ``above`` when past the upper one."""

    def __init__(self, message: str, *, above: bool) -> None:
        super().__init__(message)
        self.above = above


def out_of_range(low: object, high: object) -> str:
    return f"is out of range ({low} to {high})"


def date_time(value: object, *, naive_is_utc: bool = False) -> datetime:
    """An aware UTC datetime from ISO 8601 text; a value without an offset is UTC only when the
    field's contract says so (the Operator API's ``...Utc`` fields)."""
    if isinstance(value, datetime):  # already parsed (a default, or a service calling directly)
        parsed = value
    else:
        if not isinstance(value, str):
            raise FieldError(NOT_DATE_TIME)
        match = _ISO_8601.fullmatch(value)
        if match is None:
            raise FieldError(NOT_DATE_TIME)
        try:
            parsed = datetime.fromisoformat(value.replace(",", "."))
        except ValueError:
            raise FieldError(NOT_DATE_TIME) from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise FieldError(NO_OFFSET)
        parsed = parsed.replace(tzinfo=UTC)
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise OutOfRange(DATE_OUT_OF_RANGE, above=parsed.year > 1) from None
    if not MIN_DATETIME <= utc <= MAX_DATETIME:
        raise OutOfRange(DATE_OUT_OF_RANGE, above=utc > MAX_DATETIME)
    return utc


def integer(value: object, *, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """A JSON integer (not a boolean, not a float) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value != value:  # NaN
            raise FieldError(NOT_INTEGER)
        if isinstance(value, float) and abs(value) > 2**63:  # a huge integer read as a float
            raise OutOfRange(out_of_range(low, high), above=value > 0)
        raise FieldError(NOT_INTEGER)
    if not low <= value <= high:
        raise OutOfRange(out_of_range(low, high), above=value > high)
    return value


def decimal(value: object, *, low: Decimal, high: Decimal, places: int) -> Decimal:
    """A finite number from a JSON number or numeric string, from ``low`` to ``high``, with at
    most ``places`` decimal places. The bounds are checked before rounding: rounding 1e308 to
    cents would overflow the decimal context."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FieldError(NOT_NUMBER)
    try:
        # repr of a float is its shortest round-tripping text: 1.1 reads as 1.1, not 1.1000000001.
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except (InvalidOperation, ValueError):
        raise FieldError(NOT_NUMBER) from None
    if not amount.is_finite():
        raise FieldError(NOT_NUMBER)
    if not low <= amount <= high:
        raise OutOfRange(out_of_range(low, high), above=amount > high)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise FieldError(f"must have at most {places} decimal places")
    return amount


def text(value: str, *, multiline: bool = False) -> str:
    """``value`` unchanged when it holds no control character (tab and line breaks allowed in
    multi-line text) and no lone surrogate."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    if pattern.search(value):
        raise FieldError(CONTROL_CHARACTERS)
    return value


def is_clean(value: str) -> bool:
    """Whether ``value`` is one line of text as ``text`` accepts it (for hand-written rules
    that word the refusal themselves)."""
    return _CONTROL.search(value) is None


def identifier(value: str) -> str:
    """Text that names something in a URL path: no control character, no path separator."""
    text(value)
    if _PATH_SEPARATOR.search(value):
        raise FieldError(PATH_SEPARATORS)
    return value


def json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A free-form JSON value that both databases and the JSON encoder can hold."""
    _check_json(value, max_depth, 1)
    return value


def _check_json(value: Any, max_depth: int, depth: int) -> None:
    if isinstance(value, dict | list):
        if depth > max_depth:
            raise FieldError(f"must not be nested more than {max_depth} levels deep")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                text(key, multiline=True)
            _check_json(item, max_depth, depth + 1)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise FieldError("must not hold integers beyond 64 bits")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or abs(value) >= 2**63:
            raise FieldError("must not hold numbers beyond 64 bits")
    elif isinstance(value, str):
        text(value, multiline=True)


_QUOTED = re.compile(rb'"[^"]*"')
_EMPTY_PAIR = re.compile(rb"\[\]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


def json_too_deep(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects more than ``max_depth`` deep.

    Read without parsing, at C speed: escapes dropped, everything but brackets and quotes
    dropped, strings cut out, then innermost pairs removed once per level (a flat body of 10,000
    objects takes two passes). Unbalanced brackets (not JSON anyway) count as depth."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = unescaped.translate(_BRACES_AS_BRACKETS).translate(None, _NOT_STRUCTURE)
    brackets = _QUOTED.sub(b"", structure)
    for _ in range(max_depth):
        brackets, removed = _EMPTY_PAIR.subn(b"", brackets)
        if not brackets:
            return False
        if not removed:
            return len(brackets) > max_depth
    return True


def is_number_out_of_range(exc: BaseException | None) -> bool:
    """Whether a JSON parser refused ``exc``'s document for a number too large to hold: orjson
    reads it as infinity, the standard library refuses integers past 4,300 digits."""
    if exc is None:
        return False
    message = str(exc)
    return "number is infinity" in message or "integer string conversion" in message


def _pydantic(check: Any) -> Any:
    """``check`` as a pydantic validator whose message is the rule itself (no "Value error, ")."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except FieldError as exc:
            raise PydanticCustomError("field_rule", str(exc)) from None

    return validate


IsoDateTime = Annotated[
    datetime,
    PlainValidator(_pydantic(date_time)),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""ISO 8601 with an offset, in the supported range, returned in UTC."""

Text = Annotated[str, AfterValidator(_pydantic(text))]
"""One line of text: no control characters."""

LongText = Annotated[str, AfterValidator(_pydantic(lambda v: text(v, multiline=True)))]
"""Text that may span lines (descriptions, fine print)."""

Identifier = Annotated[str, AfterValidator(_pydantic(identifier))]
"""An id or reference that may appear in a URL path."""

Int64 = Annotated[
    int,
    PlainValidator(_pydantic(integer)),
    WithJsonSchema({"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}),
]

JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_pydantic(json_value)),
]
"""A free-form JSON object stored as is (a template's ``config``)."""


class CleanStrings(BaseModel):
    """A request body whose every string, however nested, is text as ``text`` accepts it (line
    breaks and tabs allowed): a base for bodies, so that no field is forgotten. Fields with a
    stricter type (``Text``, ``Identifier``) add their own rule."""

    @field_validator("*", mode="after")
    @classmethod
    def _clean_strings(cls, value: Any) -> Any:
        _check_strings(value)
        return value


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        try:
            text(value, multiline=True)
        except FieldError as exc:
            raise PydanticCustomError("field_rule", str(exc)) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        if value and isinstance(next(iter(value)), BaseModel):
            return  # a list of models (as many as 10,000 identifiers) checks itself
        for item in value:
            _check_strings(item)
