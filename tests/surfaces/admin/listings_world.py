"""The campaigns, issuance jobs and bulk enrollments the listing tests read (``GET
/admin/campaigns``, ``/admin/issuance_jobs``, ``/admin/enrollment_bulks`` and the CLI's
``campaigns``, ``jobs`` and ``bulks``), written straight to the database: states, counts and
creation times the worker would take minutes to reach."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.ids import new_id
from bestow.models import (
    Campaign,
    CampaignVariant,
    IssuanceJob,
    OperatorEnrollmentBatch,
    OperatorReward,
)
from tests.surfaces.partner.helpers import Partner, make_template, new_partner

# Creation times of the jobs and bulks, far from those of other tests' rows.
DAY = datetime(2031, 3, 10, tzinfo=UTC)


def later_id(prefix: str) -> str:
    """A new id after every id made before: ids order by their millisecond first."""
    time.sleep(0.002)
    return new_id(prefix)


@dataclass
class World:
    a: Partner
    b: Partner
    operator_client_id: str
    template_id: str = ""
    campaigns: dict[str, str] = field(default_factory=dict)
    """A's campaigns by status (``active``...), B's ``b_active``, the operator's ``operator``."""
    variants: dict[str, str] = field(default_factory=dict)
    """The active campaign's variants: ``treatment``, ``control``."""
    jobs: dict[str, str] = field(default_factory=dict)
    bulks: dict[str, str] = field(default_factory=dict)
    rewards: dict[str, str] = field(default_factory=dict)


def _campaign(
    client_id: str, merchant_id: str | None, name: str, *, source: str = "partner", **times: object
) -> Campaign:
    now = utcnow()
    values: dict[str, object] = {
        "start_at": now - timedelta(days=1),
        "end_at": now + timedelta(days=30),
        "redeemable_from": now - timedelta(days=1) if source == "partner" else None,
        "redeemable_to": now + timedelta(days=60) if source == "partner" else None,
        **times,
    }
    return Campaign(
        id=later_id("cmp"),
        client_id=client_id,
        merchant_id=merchant_id,
        source=source,
        name=name,
        **values,
    )


def _job(world: World, name: str, *, campaign: str, hours: int, **values: object) -> IssuanceJob:
    counts = {"state": "completed", "total_count": 3, "processed_count": 3, "success_count": 3}
    partner = world.b if campaign == "b_active" else world.a
    job = IssuanceJob(
        id=later_id("job"),
        client_id=partner.client_id,
        merchant_id=partner.merchant_id,
        campaign_id=world.campaigns[campaign],
        variant_id=world.variants["b_treatment" if campaign == "b_active" else "treatment"],
        identifiers=[["email", f"{name}@example.com"]] * 3,
        created_at=DAY + timedelta(hours=hours),
        **{**counts, **values},
    )
    world.jobs[name] = job.id
    return job


def _bulk(
    world: World, name: str, *, reward: str, hours: int, **values: object
) -> OperatorEnrollmentBatch:
    counts = {"status": "Completed", "total_count": 4, "processed_count": 4, "enrolled_count": 4}
    batch = OperatorEnrollmentBatch(
        id=later_id("oeb"),
        client_id=world.operator_client_id,
        reward_id=world.rewards[reward],
        player_ids=["p1", "p2", "p3", "p4"],
        bet_value_minor=125,
        bet_count=2,
        created_by="operator:test",
        created_at=DAY + timedelta(hours=hours),
        **{**counts, **values},
    )
    world.bulks[name] = batch.id
    return batch


def _reward(world: World, name: str) -> OperatorReward:
    now = utcnow()
    reward = OperatorReward(
        id=later_id("orw"),
        campaign_id=world.campaigns["operator"],
        reward_type="FreeBets",
        name=name,
        start_at=now - timedelta(days=1),
        end_at=now + timedelta(days=10),
        details_type="Fixed",
        currency="EUR",
        min_bet_value_minor=125,
        max_bet_value_minor=125,
        min_bet_count=2,
        max_bet_count=2,
        credit_wallet_type="Bonus",
        stake_not_returned=True,
        created_by="operator:test",
    )
    world.rewards[name] = reward.id
    return reward


async def build(runtime: Runtime) -> World:
    """Partner A's campaigns in each status (the active one with a Treatment and a Control),
    partner B's active one, an operator's campaign with two rewards; A's jobs in several states
    (one with failures), one of B's; the operator's bulks (one with failures, one failed)."""
    world = World(
        a=await new_partner(runtime),
        b=await new_partner(runtime),
        operator_client_id=(await new_partner(runtime)).client_id,
    )
    world.template_id = (await make_template(runtime, world.a.merchant_id)).id
    b_template = (await make_template(runtime, world.b.merchant_id)).id
    now = utcnow()
    past = {"start_at": now - timedelta(days=9), "end_at": now - timedelta(days=2)}
    rows: dict[str, Campaign] = {
        "ended": _campaign(world.a.client_id, world.a.merchant_id, "Ended", **past),
        "cancelled": _campaign(
            world.a.client_id, world.a.merchant_id, "Cancelled", cancelled_at=now
        ),
        "scheduled": _campaign(
            world.a.client_id,
            world.a.merchant_id,
            "Scheduled",
            start_at=now + timedelta(days=2),
        ),
        "active": _campaign(world.a.client_id, world.a.merchant_id, "Active"),
        "b_active": _campaign(world.b.client_id, world.b.merchant_id, "B active"),
        "operator": _campaign(world.operator_client_id, None, "Operator", source="operator"),
    }
    world.campaigns = {name: c.id for name, c in rows.items()}
    variants = {
        "treatment": CampaignVariant(
            id=later_id("var"),
            campaign_id=rows["active"].id,
            name="Treatment",
            reward_template_id=world.template_id,
            position=0,
        ),
        "control": CampaignVariant(
            id=later_id("var"),
            campaign_id=rows["active"].id,
            name="Control",
            is_control=True,
            position=1,
        ),
        "b_treatment": CampaignVariant(
            id=later_id("var"),
            campaign_id=rows["b_active"].id,
            name="Treatment",
            reward_template_id=b_template,
            position=0,
        ),
    }
    world.variants = {name: v.id for name, v in variants.items()}
    async with runtime.db.write_session() as session:
        session.add_all(rows.values())
        await session.flush()
        session.add_all(variants.values())
        await session.flush()
        session.add_all([_reward(world, "first"), _reward(world, "second")])
        await session.flush()
        session.add_all(
            [
                _job(world, "done", campaign="active", hours=1),
                _job(
                    world,
                    "partial",
                    campaign="active",
                    hours=2,
                    success_count=1,
                    failure_count=2,
                ),
                _job(
                    world,
                    "failed",
                    campaign="active",
                    hours=3,
                    state="failed",
                    success_count=0,
                    failure_count=3,
                    error="every identifier failed",
                ),
                _job(
                    world,
                    "pending",
                    campaign="active",
                    hours=4,
                    state="pending",
                    processed_count=0,
                    success_count=0,
                ),
                _job(world, "other", campaign="b_active", hours=5),
            ]
        )
        session.add_all(
            [
                _bulk(world, "done", reward="first", hours=1),
                _bulk(
                    world,
                    "partial",
                    reward="first",
                    hours=2,
                    enrolled_count=2,
                    existing_count=1,
                    failed_count=1,
                ),
                _bulk(
                    world,
                    "failed",
                    reward="second",
                    hours=3,
                    status="Failed",
                    processed_count=0,
                    enrolled_count=0,
                    failed_count=0,
                    error="the reward was cancelled",
                ),
                _bulk(
                    world,
                    "pending",
                    reward="second",
                    hours=4,
                    status="Pending",
                    processed_count=0,
                    enrolled_count=0,
                ),
            ]
        )
        await session.commit()
    return world
