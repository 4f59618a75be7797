"""Boundaries of the Voucher API's write operations: issuance, and the merchant routes that
redeem and void."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.boundaries.engine import (
    BOUNDARY_SETTINGS,
    Field,
    Operation,
    Request,
    cases,
    check,
    check_every_value,
    once,
    values_for,
    whole_cases,
)
from tests.security.world import World
from tests.vouchers.helpers import create as create_product
from tests.vouchers.helpers import fixed


async def _open_product(world: World) -> str:
    async def make() -> str:
        product = await create_product(world.runtime, **fixed(is_open_value=True, face_value=None))
        return str(product.code)

    return await once(world, "boundaries.vouchers.open_product", make)


async def _voucher(world: World) -> str:
    """A voucher of its own each time: a redeemed or voided one refuses every later request."""
    code = world.objects["vouchers.product_code"]
    response = await world.http.post(
        f"/v3/products/{code}",
        json={"quantity": 1},
        headers={**world.voucher_a[2], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["vouchers"][0]["voucher_code"])


async def issue(world: World) -> Request:
    return Request(
        params={"code": await _open_product(world)},
        body={"quantity": 1, "face_value": 500, "allow_partial": False},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


async def redeem(world: World) -> Request:
    body = {"amount": 100, "reference": "till-1", "location": "Main Street"}
    return Request(params={"voucher_code": await _voucher(world)}, body=body)


async def void(world: World) -> Request:
    return Request(params={"voucher_code": await _voucher(world)}, body={"reason": "lost"})


OPERATIONS = [
    Operation(
        "POST",
        "/v3/products/{code}",
        issue,
        undocumented=(
            ("quantity", "integer"),
            ("face_value", "integer"),
            ("allow_partial", "boolean"),
        ),
    ),
    Operation("POST", "/v3/merchant/vouchers/{voucher_code}/redeem", redeem),
    Operation("POST", "/v3/merchant/vouchers/{voucher_code}/void", void),
]


@pytest.mark.parametrize(("operation", "target"), cases(OPERATIONS))
@BOUNDARY_SETTINGS
@given(data=st.data())
async def test_voucher_field(
    world: World, operation: Operation, target: Field, data: st.DataObject
) -> None:
    await check(world, operation, target, data.draw(values_for(target), label=str(target)))


@pytest.mark.parametrize(("operation", "target"), whole_cases(OPERATIONS))
async def test_voucher_whole(world: World, operation: Operation, target: Field) -> None:
    await check_every_value(world, operation, target)
