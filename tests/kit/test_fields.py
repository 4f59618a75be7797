"""The strict field types: what each accepts and refuses, with the rule as the message."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bestow.kit import fields
from bestow.kit.fields import FieldError
from bestow.kit.timefmt import iso, rfc3339


def test_years_before_1000_are_written_with_four_digits() -> None:
    value = datetime(999, 6, 1, 12, 0, tzinfo=UTC)
    assert (iso(value), rfc3339(value)) == ("0999-06-01T12:00:00Z", "0999-06-01T12:00:00+00:00")
    assert iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31T23:59:59-23:59",
        "1969-12-31T23:59:59Z",
    ],
)
def test_date_times_outside_the_supported_range_are_out_of_range(value: str) -> None:
    with pytest.raises(FieldError, match="out of range"):
        fields.date_time(value)


@pytest.mark.parametrize("value", [12345, "12345", 1.5, True, None, "2030-13-01T00:00:00Z", ""])
def test_only_iso_8601_text_is_a_date_time(value: object) -> None:
    with pytest.raises(FieldError, match="ISO 8601"):
        fields.date_time(value)


def test_a_date_time_is_normalised_to_utc_and_needs_an_offset_unless_told() -> None:
    assert fields.date_time("9999-12-31T09:59:59-14:00") == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=UTC
    )
    with pytest.raises(FieldError, match="offset"):
        fields.date_time("2030-01-01T00:00:00")
    assert fields.date_time("2030-01-01T00:00:00", naive_is_utc=True) == datetime(
        2030, 1, 1, tzinfo=UTC
    )


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30, 1e308, float("inf")])
def test_integers_past_64_bits_are_out_of_range(value: object) -> None:
    with pytest.raises(FieldError, match="out of range"):
        fields.integer(value)


@pytest.mark.parametrize("value", [1e308, 1e28, "1e28", -1e308, -1, 10**30, "9" * 5000])
def test_huge_decimals_are_out_of_range_not_a_decimal_overflow(value: object) -> None:
    with pytest.raises(FieldError, match="out of range"):
        fields.decimal(value, low=Decimal(0), high=Decimal(1_000_000_000), places=2)


@pytest.mark.parametrize("value", ["NaN", float("nan"), "Infinity", "abc", True, None])
def test_a_decimal_is_a_finite_number(value: object) -> None:
    with pytest.raises(FieldError, match="number"):
        fields.decimal(value, low=Decimal(0), high=Decimal(10), places=2)


@pytest.mark.parametrize("value", ["a\x00b", "a\x07", "a\nb", "\ud800"])
def test_text_refuses_control_characters_and_lone_surrogates(value: str) -> None:
    with pytest.raises(FieldError, match="control"):
        fields.text(value)


def test_multiline_text_keeps_tabs_and_line_breaks() -> None:
    assert fields.text("a\tb\r\nc", multiline=True) == "a\tb\r\nc"
    with pytest.raises(FieldError):
        fields.text("a\x00", multiline=True)


@pytest.mark.parametrize("value", ["a/b", "..\\x"])
def test_identifiers_refuse_path_separators(value: str) -> None:
    with pytest.raises(FieldError, match="/"):
        fields.identifier(value)


@pytest.mark.parametrize(
    "value",
    [{"a": 2**63}, {"a": [1e300]}, {"a": "x\x00"}, {"a": float("nan")}],
)
def test_free_form_json_holds_only_what_every_store_can(value: object) -> None:
    with pytest.raises(FieldError):
        fields.json_value(value)


def test_free_form_json_is_bounded_in_depth() -> None:
    deep: object = 1
    for _ in range(fields.MAX_JSON_DEPTH + 1):
        deep = [deep]
    with pytest.raises(FieldError, match="nested"):
        fields.json_value(deep)
    assert fields.json_value({"a": [[1]]}) == {"a": [[1]]}


@pytest.mark.parametrize(
    ("body", "too_deep"),
    [
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a": ' * 33 + b"1" + b"}" * 33, True),
        (b'{"a": "' + b"[" * 100 + b'"}', False),
        (b'{"a": "\\"' + b"[" * 100 + b'"}', False),
        (b'["\\\\", ' + b"[" * 33 + b"]" * 33 + b"]", True),
        (b"[" + b"{},".join([b""] * 10_000) + b"{}]", False),
        (b"[" * 1000, True),
    ],
    ids=[
        "32-deep",
        "33-deep",
        "objects-33-deep",
        "brackets-in-a-string",
        "escaped-quote-then-brackets",
        "escaped-backslash-then-deep",
        "flat-10000",
        "unclosed",
    ],
)
def test_json_depth_is_read_without_parsing(body: bytes, too_deep: bool) -> None:
    assert fields.json_too_deep(body) is too_deep
