"""Boundaries of the Operator API's write operations: campaigns, rewards, enrollments (one and
in bulk), bets and cancellations."""

from __future__ import annotations

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
from tests.conftest import unique
from tests.operator.helpers import RANGED, at, call, reward_body
from tests.operator.helpers import campaign as make_campaign
from tests.operator.helpers import create as make_reward
from tests.security.world import World


async def _campaign(world: World) -> str:
    return await make_campaign(world.http, world.operator_a)


async def _ranged_reward(world: World) -> str:
    """A ranged reward, so that an enrollment's bet value and count are read, not refused."""

    async def make() -> str:
        campaign_id = await once(world, "boundaries.operator.campaign", lambda: _campaign(world))
        reward = await make_reward(world.http, world.operator_a, campaign_id, freeBetDetails=RANGED)
        return str(reward["id"])

    return await once(world, "boundaries.operator.ranged_reward", make)


async def _enrollment(world: World) -> str:
    """An enrollment of its own each time: a cancelled or used one refuses what follows."""
    reward_id = world.objects["operator.reward_id"]
    url = f"/v1/rewards/{reward_id}/enrollments"
    response = await call(
        world.http, world.operator_a, "POST", url, {"operatorPlayerId": unique("p")}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


async def create_campaign(world: World) -> Request:
    body = {
        "name": "Boundaries",
        "description": "A campaign",
        "operatorReference": "OP-1",
        "termsAndConditionsUrl": "https://example.com/terms",
        "startTimeUtc": at(-1),
        "endTimeUtc": at(30),
        "createdBy": "ops@example.com",
    }
    return Request(body=body)


async def cancel_campaign(world: World) -> Request:
    return Request(params={"campaign_id": await _campaign(world)}, body={"cancelledBy": "ops"})


async def create_reward(world: World) -> Request:
    campaign_id = await once(world, "boundaries.operator.campaign", lambda: _campaign(world))
    return Request(params={"campaign_id": campaign_id}, body=reward_body())


async def cancel_reward(world: World) -> Request:
    campaign_id = await once(world, "boundaries.operator.campaign", lambda: _campaign(world))
    reward = await make_reward(world.http, world.operator_a, campaign_id)
    return Request(params={"reward_id": reward["id"]}, body={"cancelledBy": "ops"})


async def enrol(world: World) -> Request:
    body = {"operatorPlayerId": unique("p"), "betValue": 1.5, "betCount": 2}
    return Request(params={"reward_id": await _ranged_reward(world)}, body=body)


async def enrol_bulk(world: World) -> Request:
    body = {
        "operatorPlayerIds": [unique("p"), unique("p")],
        "betValue": 1.5,
        "betCount": 2,
        "createdBy": "ops",
    }
    return Request(params={"reward_id": await _ranged_reward(world)}, body=body)


async def cancel_enrollment(world: World) -> Request:
    return Request(params={"enrollment_id": await _enrollment(world)}, body={"cancelledBy": "ops"})


async def bet(world: World) -> Request:
    body = {"betId": unique("bet"), "product": "starburst"}
    return Request(params={"enrollment_id": await _enrollment(world)}, body=body)


OPERATIONS = [
    Operation("POST", "/v1/campaigns", create_campaign),
    Operation("POST", "/v1/campaigns/{campaign_id}/cancel", cancel_campaign),
    Operation("POST", "/v1/campaigns/{campaign_id}/rewards", create_reward),
    Operation("POST", "/v1/rewards/{reward_id}/cancel", cancel_reward),
    Operation("POST", "/v1/rewards/{reward_id}/enrollments", enrol),
    Operation("POST", "/v1/rewards/{reward_id}/enrollments/bulk", enrol_bulk),
    Operation("POST", "/v1/enrollments/{enrollment_id}/cancel", cancel_enrollment),
    Operation("POST", "/v1/enrollments/{enrollment_id}/bets", bet),
]


@pytest.mark.parametrize(("operation", "target"), cases(OPERATIONS))
@BOUNDARY_SETTINGS
@given(data=st.data())
async def test_operator_field(
    world: World, operation: Operation, target: Field, data: st.DataObject
) -> None:
    await check(world, operation, target, data.draw(values_for(target), label=str(target)))


@pytest.mark.parametrize(("operation", "target"), whole_cases(OPERATIONS))
async def test_operator_whole(world: World, operation: Operation, target: Field) -> None:
    await check_every_value(world, operation, target)
