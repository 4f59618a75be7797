"""Boundaries of the Loyalty API's write operations: sessions and ad hoc awards."""

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
    values_for,
    whole_cases,
)
from tests.loyalty.helpers import REWARD, UNIT
from tests.security.world import World


async def start(world: World) -> Request:
    return Request(
        params={"identifier": world.objects["loyalty.identifier"]},
        body={"correlationId": str(uuid.uuid4()), "channel": "APP", "externalAgentSessionId": "a"},
        headers={"X-Identifier-Type": "ACCOUNT_ID"},
    )


async def award(world: World) -> Request:
    body = {
        "channel": "APP",
        "businessUnit": UNIT,
        "issuerId": "cashier-1",
        "rewardId": REWARD,
        "rewardAmount": 10,
        "externalReferenceId": str(uuid.uuid4()),
    }
    return Request(
        params={"correlation_id": world.objects["loyalty.correlation_id"]},
        body=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


OPERATIONS = [
    Operation("POST", "/client/users/{identifier}/sessions", start),
    Operation("POST", "/client/users/{correlation_id}/adhoc-reward/", award),
]


@pytest.mark.parametrize(("operation", "target"), cases(OPERATIONS))
@BOUNDARY_SETTINGS
@given(data=st.data())
async def test_loyalty_field(
    world: World, operation: Operation, target: Field, data: st.DataObject
) -> None:
    await check(world, operation, target, data.draw(values_for(target), label=str(target)))


@pytest.mark.parametrize(("operation", "target"), whole_cases(OPERATIONS))
async def test_loyalty_whole(world: World, operation: Operation, target: Field) -> None:
    await check_every_value(world, operation, target)
