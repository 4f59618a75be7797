"""Values at and past the boundaries of each kind of field, and their JSON encoding.

A value is anything ``json`` encodes, or ``Raw`` JSON text for what Python cannot produce as a
value (NaN, a 5,000-digit number, -0, a lone surrogate, 300 levels of nesting)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """JSON text sent as it is."""

    text: str

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


DEPTH = 300


def deep_array(depth: int = DEPTH) -> Raw:
    return Raw("[" * depth + "]" * depth)


def deep_object(depth: int = DEPTH) -> Raw:
    return Raw('{"a":' * depth + "1" + "}" * depth)


def encode(value: Any) -> bytes:
    """JSON of ``value``, ``Raw`` text in place."""
    return _encode(value).encode("utf-8", "surrogatepass")


def _encode(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # json.dumps refuses ints past 4,300 digits
    return json.dumps(value)


def form_text(value: Any) -> str:
    """A value as a form field's text (the OAuth token request is form-encoded)."""
    if isinstance(value, str):
        return value
    return _encode(value)


HUGE = "1" + "0" * 5000

NUMBERS: list[Any] = [
    0,
    -1,
    Raw("-0"),
    Raw("-0.0"),
    0.5,
    1.005,
    Raw("1e-400"),
    Raw("1e28"),
    10**28,
    Raw("1e308"),
    Raw("-1e308"),
    Raw("1e309"),
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**30,
    Raw(HUGE),
    Raw("-" + HUGE),
    Raw(HUGE + ".5"),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    "1e308",
    "NaN",
    "12345",
]

DATES: list[Any] = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "999-06-01T12:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-12-07T12:00:00+24:00",
    "2026-12-07T12:00:00",
    "2026-12-07",
    "2026-12-07T25:61:61Z",
    12345,
    "12345",
    0,
    -62135596801,
    253402300800,
    Raw("1e308"),
    "now",
]

STRINGS: list[Any] = [
    "",
    " ",
    "\t\r\n",
    "\u0000",
    "a\u0000b",
    "\u0001\u001f\u007f",
    "\u202e\u200b\ufeff",
    Raw('"\\ud800"'),
    "x" * 10240,
    "a/b",
    "../..",
    "%2F",
    "🎁" * 50,
    "' OR 1=1 --",
]

WRONG_TYPES: list[Any] = [
    None,
    True,
    False,
    [],
    {},
    [None],
    {"unexpected": 1},
    "string",
    1,
    deep_array(),
    deep_object(),
]

FIELD_VALUES: dict[str, list[Any]] = {
    "integer": NUMBERS,
    "number": NUMBERS,
    "date-time": DATES + NUMBERS[:3],
    "string": STRINGS,
    "boolean": ["true", 0, 1, "false", "yes"],
    "array": [[""], ["x" * 10240], [None], [deep_array()], [Raw(HUGE)], ["a/b"] * 10001],
    "object": [{"": 1}, {"\u0000": "\u0000"}, {"k": Raw(HUGE)}, {"k": deep_object()}],
}
"""The values sent to a field of each kind, besides ``WRONG_TYPES`` (and ``DATES`` for a string
named like a date)."""


def catalogue(kind: str, *, date_like: bool = False) -> list[Any]:
    values = list(FIELD_VALUES.get(kind, STRINGS + NUMBERS))
    if date_like and kind != "date-time":
        values += DATES
    return values + WRONG_TYPES


@st.composite
def extreme_dates(draw: st.DrawFn) -> str:
    """A date-time anywhere from year 1 to 9999 with any offset up to a minute short of a day,
    as ISO 8601 text (datetime itself cannot leave that range after the offset is applied)."""
    when = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    text = when.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()
    return draw(st.sampled_from([text, text.replace("+00:00", "Z")]))


def generated(kind: str, *, date_like: bool = False) -> st.SearchStrategy[Any]:
    """Generated values of a kind, at and past its boundaries."""
    integers = st.one_of(
        st.integers(min_value=-(2**64) - 2, max_value=-(2**63) + 2),
        st.integers(min_value=2**31 - 2, max_value=2**64 + 2),
        st.integers(),
    )
    floats = st.floats(allow_nan=True, allow_infinity=False, width=64).filter(
        lambda f: f == f  # NaN is sent as Raw: Python's json writes it, but not as JSON
    )
    text = st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
        min_size=0,
        max_size=40,
    )
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "integer": integers,
        "number": st.one_of(integers, floats),
        "date-time": extreme_dates(),
        "string": text,
        "boolean": st.one_of(st.integers(), text),
        "array": st.lists(st.one_of(text, integers), max_size=5),
        "object": st.dictionaries(text, st.one_of(text, integers), max_size=3),
    }
    strategy = strategies.get(kind, st.one_of(text, integers))
    if date_like and kind != "date-time":
        strategy = st.one_of(strategy, extreme_dates())
    return strategy


def values_for(kind: str, *, date_like: bool = False) -> st.SearchStrategy[Any]:
    """The curated catalogue first (hypothesis shrinks towards it), then generated values."""
    return st.one_of(
        st.sampled_from(catalogue(kind, date_like=date_like)),
        generated(kind, date_like=date_like),
    )


BODIES: list[Any] = [
    Raw(""),
    Raw("{"),
    Raw("null"),
    Raw("[]"),
    Raw('"text"'),
    Raw("1"),
    Raw(HUGE),
    Raw("NaN"),
    deep_array(),
    deep_object(),
    Raw("[" * 5000 + "]" * 5000),
]
"""Whole bodies: not an object, not JSON, or nested past any parser's comfort."""

CSV_BODIES: list[str] = [
    "",
    "email\n",
    "email\n\u0000@example.com\n",
    "email,first_name\nx@example.com," + "x" * 10240 + "\n",
    "account_id\n" + HUGE + "\n",
    "email\n" + "\n".join(f"a{i}@example.com" for i in range(2000)) + "\n",
    "\ufeffemail\r\nx@example.com\r\n",
    "email,email\nx@example.com,y@example.com\n",
    '"unterminated\n',
    "unknown_column\nvalue\n",
]
"""Whole CSV uploads: empty, NUL, huge cells and numbers, many rows, a BOM, duplicate and
unknown columns, broken quoting."""

AUTHORIZATIONS: list[Any] = [
    "Basic " + "w7zDpMOf",  # base64 of non-ASCII text
    "Basic //46/w==",  # base64 of bytes that are not UTF-8
    "Basic \u00fc\u00e4\u00df",
    "Basic",
    "Basic ====",
    "Basic " + "x" * 10240,
    "Basic OnNlY3JldA==",  # ":secret", no client id
    "Bearer token",
    "",
    "\u00e9\u00e9",
]
"""``Authorization`` values of the token endpoint, where the client's secret arrives."""
