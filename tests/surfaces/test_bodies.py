"""``Body``: one declaration reads a request body in the vendor's words and documents it."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import WithJsonSchema

from bestow.kit.errors import Invalid
from bestow.surfaces.bodies import MISSING, Body, Read


def cents(value: Any, name: str) -> int:
    if value is MISSING:
        raise Invalid(f"{name} is mandatory", field=name)
    if not isinstance(value, int | float) or value <= 0:
        raise Invalid(f"{name} must be a positive amount", field=name)
    return round(value * 100)


class Details(Body):
    amount: Annotated[int, Read(cents), WithJsonSchema({"type": "number"})]
    note: str | None = None


class Order(Body):
    name: Annotated[str, Read(lambda v, n: v if isinstance(v, str) else "anonymous")]
    details: Details
    low: int = 0
    high: int = 10

    def check(self, prefix: str) -> None:
        if self.low > self.high:
            raise Invalid(f"{prefix}low must not be greater than {prefix}high", field="low")


def refusal(data: dict[str, Any]) -> tuple[str, str | None]:
    with pytest.raises(Invalid) as refused:
        Order.read(data)
    return refused.value.message, refused.value.field


def test_fields_are_read_by_their_readers_into_their_python_types() -> None:
    order = Order.read({"name": "Ada", "details": {"amount": 12.5}, "high": 3})
    assert (order.name, order.details.amount, order.details.note, order.high) == (
        "Ada",
        1250,
        None,
        3,
    )


def test_the_first_refusal_in_declaration_order_wins_with_the_vendor_s_words() -> None:
    assert refusal({"details": {"amount": -1}, "low": "x"}) == (
        "details.amount must be a positive amount",
        "details.amount",
    )
    assert refusal({"details": {}}) == ("details.amount is mandatory", "details.amount")
    assert refusal({}) == ("details is required", "details")
    assert refusal({"details": 3}) == ("details must be an object", "details")


def test_an_unknown_field_is_refused_by_name_before_any_other_rule() -> None:
    assert refusal({"surname": "x"}) == ("surname is not a known field", "surname")
    assert refusal({"details": {"amount": 1, "colour": 2}}) == (
        "details.colour is not a known field",
        "details.colour",
    )


def test_fields_without_a_reader_are_validated_strictly() -> None:
    assert refusal({"details": {"amount": 1}, "low": "1"}) == ("low is invalid", "low")


def test_rules_across_fields_run_once_every_field_is_read() -> None:
    assert refusal({"details": {"amount": 1}, "low": 11}) == (
        "low must not be greater than high",
        "low",
    )


def test_the_same_declaration_is_the_openapi_request_body() -> None:
    body = Order.openapi()["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert schema["required"] == ["name", "details"]
    details = schema["$defs"]["Details"]["properties"]
    assert details["amount"]["type"] == "number"


class Prize(Body):
    kind: str
    amount: Annotated[
        int | None,
        Read(
            lambda v, n, earlier: cents(v, n) if earlier["kind"] == "cash" else None, earlier=True
        ),
    ] = None


def test_a_reader_may_depend_on_the_fields_read_before_it() -> None:
    assert Prize.read({"kind": "cash", "amount": 2}).amount == 200
    assert Prize.read({"kind": "points", "amount": "ignored"}).amount is None
    with pytest.raises(Invalid, match="amount is mandatory"):
        Prize.read({"kind": "cash"})
