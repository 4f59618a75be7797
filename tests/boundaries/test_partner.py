"""Boundaries of the Partner API's write operations: campaigns, issuance and revocation."""

from __future__ import annotations

import uuid
from typing import Any

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
from tests.conftest import unique
from tests.security.world import World
from tests.surfaces.partner.helpers import ISSUE, campaign_body, create_campaign, variant_id


async def _campaign(world: World) -> dict[str, Any]:
    """A live campaign of client A (a treatment and a Control), made once per world."""
    if "boundaries.partner.campaign" not in world.objects:
        campaign = await create_campaign(
            world.http, world.partner_a, world.objects["partner.template_id"]
        )
        world.objects["boundaries.partner.campaign"] = campaign["id"]
        world.objects["boundaries.partner.variant"] = variant_id(campaign, "Treatment")
    return {
        "id": world.objects["boundaries.partner.campaign"],
        "variant": world.objects["boundaries.partner.variant"],
    }


def _issue_body(world: World, campaign: dict[str, Any]) -> dict[str, Any]:
    return {
        "campaign_id": campaign["id"],
        "merchant_id": world.partner_a.merchant_id,
        "variant_id": campaign["variant"],
        "identifiers": [{"type": "email", "value": f"{unique('b')}@example.com"}],
    }


async def create(world: World) -> Request:
    return Request(
        body=campaign_body(world.partner_a.merchant_id, world.objects["partner.template_id"])
    )


async def issue(world: World) -> Request:
    body = _issue_body(world, await _campaign(world))
    return Request(body=body, headers={"X-Idempotency-Key": str(uuid.uuid4())})


async def revoke(world: World) -> Request:
    """A job of its own each time: a revoked job answers every later revocation alike."""
    response = await world.http.post(
        ISSUE,
        headers=world.partner_a.headers(),
        json=_issue_body(world, await _campaign(world)),
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["issuance_job"]["id"]
    return Request(params={"job_id": job_id}, body={"merchant_id": world.partner_a.merchant_id})


OPERATIONS = [
    Operation("POST", "/partner/campaigns", create),
    Operation("POST", "/partner/campaigns/issue", issue),
    Operation("POST", "/partner/issuance_jobs/{job_id}/revoke", revoke),
]


@pytest.mark.parametrize(("operation", "target"), cases(OPERATIONS))
@BOUNDARY_SETTINGS
@given(data=st.data())
async def test_partner_field(
    world: World, operation: Operation, target: Field, data: st.DataObject
) -> None:
    value = data.draw(values_for(target), label=str(target))
    await check(world, operation, target, value)


@pytest.mark.parametrize(("operation", "target"), whole_cases(OPERATIONS))
async def test_partner_whole(world: World, operation: Operation, target: Field) -> None:
    await check_every_value(world, operation, target)
