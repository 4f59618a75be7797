"""Campaigns of kind ``points``: the batch issuance engine credits each rewarded member in the
points ledger, once per identifier, and revoking the job takes the points back (not below 0)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.loyalty import ledger
from bestow.models import (
    IssuedReward,
    OutboxEvent,
    PointsBalance,
    PointsEntry,
    PointsTransaction,
    RewardTemplate,
)
from bestow.rewards import kinds, templates
from tests.campaigns import failures, issue_campaign, revoke_job, small_chunks
from tests.conftest import ACTOR
from tests.loyalty.helpers import points_template
from tests.surfaces.partner.helpers import (
    Partner,
    email,
    make_members,
    new_partner,
    worker_client,
)

pytestmark = pytest.mark.asyncio

CONFIG = {"points": 100, "reward_id": "SPRING", "issuer_id": "HQ"}


async def run_job(
    settings: Settings,
    runtime: Runtime,
    partner: Partner,
    addresses: list[str],
    config: dict[str, Any] = CONFIG,
    *,
    revoke: bool = False,
) -> dict[str, Any]:
    """A points campaign issued to ``addresses`` and processed by the in-process worker (then
    revoked when ``revoke``): the job."""
    template = await points_template(runtime, partner.merchant_id, config)
    async with worker_client(settings) as client:
        _, job = await issue_campaign(client, partner, template.id, addresses)
        if revoke:
            job = await revoke_job(client, partner, job["id"])
    return job


async def award(runtime: Runtime, partner: Partner, member_id: str, amount: int) -> None:
    """An ad hoc movement of ``amount`` points."""
    async with runtime.db.write_session() as session:
        await ledger.move(
            session,
            member_id=member_id,
            merchant_id=partner.merchant_id,
            amount=amount,
            reward_id="ADHOC",
            issuer_id="TILL",
            client_id=partner.client_id,
        )
        await session.commit()


async def balances(runtime: Runtime, members: list[str]) -> list[int]:
    async with runtime.db.session() as session:
        return [await ledger.balance_of(session, m) for m in members]


async def transactions(runtime: Runtime, members: list[str]) -> list[PointsTransaction]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(PointsTransaction)
            .where(PointsTransaction.member_id.in_(members))
            .order_by(PointsTransaction.created_at, PointsTransaction.kind)
        )
        return list(rows)


async def assert_ledger_holds(runtime: Runtime, members: list[str]) -> None:
    """Each member's balance is the sum of its account's entries, and each of its transactions
    has two entries that sum to zero."""
    async with runtime.db.session() as session:
        for member_id in members:
            entries = await session.scalar(
                select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
                    PointsEntry.account == ledger.member_account(member_id)
                )
            )
            balance = await session.scalar(
                select(func.coalesce(func.sum(PointsBalance.balance), 0)).where(
                    PointsBalance.member_id == member_id
                )
            )
            assert entries == balance, member_id
        sums = await session.execute(
            select(PointsEntry.transaction_id, func.sum(PointsEntry.amount), func.count())
            .join(PointsTransaction, PointsTransaction.id == PointsEntry.transaction_id)
            .where(PointsTransaction.member_id.in_(members))
            .group_by(PointsEntry.transaction_id)
        )
        assert all((total, count) == (0, 2) for _, total, count in sums)


# --- Issuance ---------------------------------------------------------------------------------


async def test_a_points_campaign_credits_each_rewarded_member_once(
    settings: Settings, runtime: Runtime
) -> None:
    partner = await new_partner(runtime)
    addresses = [email("p0"), email("p1"), email("nobody"), email("p3")]
    members = await make_members(
        runtime, partner.merchant_id, emails=[addresses[0], addresses[1], addresses[3]]
    )

    job = await run_job(settings, runtime, partner, addresses)

    assert (job["state"], job["success_count"], failures(job)) == (
        "completed",
        3,
        [(2, "User not found")],
    )
    assert await balances(runtime, members) == [100, 100, 100]
    moved = await transactions(runtime, members)
    assert sorted((t.member_id, t.external_reference_id) for t in moved) == sorted(
        [
            (members[0], f"job:{job['id']}:0"),
            (members[1], f"job:{job['id']}:1"),
            (members[2], f"job:{job['id']}:3"),
        ]
    )
    for t in moved:
        assert (t.kind, t.job_id, t.amount, t.balance_after) == ("campaign", job["id"], 100, 100)
        assert (t.reward_id, t.issuer_id, t.merchant_id, t.client_id) == (
            "SPRING",
            "HQ",
            partner.merchant_id,
            partner.client_id,
        )
    await assert_ledger_holds(runtime, members)

    by_member = {t.member_id: t for t in moved}
    async with runtime.db.session() as session:
        issued = list(
            await session.scalars(
                select(OutboxEvent)
                .join(IssuedReward, IssuedReward.id == OutboxEvent.subject_id)
                .where(OutboxEvent.type == "reward.issued", IssuedReward.job_id == job["id"])
            )
        )
        awarded = list(
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.type == "points.awarded",
                    OutboxEvent.subject_id.in_([t.id for t in moved]),
                )
            )
        )
    assert len(issued) == 3
    for event in issued:
        t = by_member[event.payload["data"]["user_id"]]
        assert event.payload["data"]["points"] == {
            "transaction_id": t.id,
            "points": 100,
            "balance": 100,
            "reward_id": "SPRING",
            "issuer_id": "HQ",
        }
    assert len(awarded) == 3
    for event in awarded:
        data = event.payload["data"]
        assert (data["kind"], data["points"], data["balance"]) == ("campaign", 100, 100)
        assert (
            data["external_reference_id"]
            == by_member[data["account_member_id"]].external_reference_id
        )


async def test_a_member_already_holding_points_gets_them_added(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two: the second chunk's member already has points."""
    small_chunks(settings, monkeypatch, 2)
    partner = await new_partner(runtime)
    addresses = [email(f"h{n}") for n in range(3)]
    members = await make_members(runtime, partner.merchant_id, emails=addresses)
    await award(runtime, partner, members[2], 40)

    job = await run_job(settings, runtime, partner, addresses, {"points": 25})

    assert (job["state"], job["success_count"]) == ("completed", 3)
    assert await balances(runtime, members) == [25, 25, 65]
    latest = (await transactions(runtime, [members[2]]))[-1]
    assert (latest.kind, latest.amount, latest.balance_after) == ("campaign", 25, 65)
    # The defaults of the template's labels.
    assert (latest.reward_id, latest.issuer_id) == ("CAMPAIGN", "CAMPAIGN")
    await assert_ledger_holds(runtime, members)


async def test_a_retried_chunk_credits_nothing_twice(settings: Settings, runtime: Runtime) -> None:
    """The kind's hook run again on a chunk already credited (as a retry would) returns the
    earlier transactions and moves nothing."""
    partner = await new_partner(runtime)
    addresses = [email(f"r{n}") for n in range(3)]
    members = await make_members(runtime, partner.merchant_id, emails=addresses)
    job = await run_job(settings, runtime, partner, addresses)
    before = {t.member_id: t.id for t in await transactions(runtime, members)}

    async with runtime.db.write_session() as session:
        rewards = list(
            await session.scalars(
                select(IssuedReward)
                .where(IssuedReward.job_id == job["id"])
                .order_by(IssuedReward.identifier_index)
            )
        )
        template = await session.get(RewardTemplate, rewards[0].template_id)
        assert template is not None
        batch = kinds.Batch(
            config=template.config,
            job_id=job["id"],
            client_id=partner.client_id,
            valid_from=None,
            billable=False,
            now=utcnow(),
            links=[(r.id, r.member_id) for r in rewards],
            indexes=[r.identifier_index for r in rewards],
        )
        issue = kinds.get("points").issue
        assert issue is not None
        served = await issue(session, batch)
        await session.commit()

    assert served.count == 3
    assert [d["points"]["transaction_id"] for d in served.event_data] == [
        before[r.member_id] for r in rewards
    ]
    assert await balances(runtime, members) == [100, 100, 100]
    assert len(await transactions(runtime, members)) == 3
    await assert_ledger_holds(runtime, members)


# --- Revocation -------------------------------------------------------------------------------


async def test_revoking_the_job_takes_back_what_is_left_of_the_points(
    settings: Settings, runtime: Runtime
) -> None:
    """Member 0 spent 30 of its 100, member 1 all of them, member 2 none; member 3 had 50 of its
    own before: it keeps them."""
    partner = await new_partner(runtime)
    addresses = [email(f"v{n}") for n in range(4)]
    members = await make_members(runtime, partner.merchant_id, emails=addresses)
    await award(runtime, partner, members[3], 50)
    template = await points_template(runtime, partner.merchant_id, CONFIG)
    async with worker_client(settings) as client:
        _, job = await issue_campaign(client, partner, template.id, addresses)
        await award(runtime, partner, members[0], -30)
        await award(runtime, partner, members[1], -100)
        assert await balances(runtime, members) == [70, 0, 100, 150]
        await revoke_job(client, partner, job["id"])

    assert await balances(runtime, members) == [0, 0, 0, 50]
    reversals = [t for t in await transactions(runtime, members) if t.kind == "campaign_reversal"]
    assert sorted((t.member_id, t.amount, t.balance_after) for t in reversals) == sorted(
        [(members[0], -70, 0), (members[2], -100, 0), (members[3], -100, 50)]
    )
    for t in reversals:
        assert t.job_id == job["id"]
        assert t.external_reference_id is not None
        assert t.external_reference_id.endswith(":reversal")
        assert (t.reward_id, t.issuer_id) == ("SPRING", "HQ")
    async with runtime.db.session() as session:
        deducted = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.type == "points.deducted",
                OutboxEvent.subject_id.in_([t.id for t in reversals]),
            )
        )
    assert deducted == 3
    await assert_ledger_holds(runtime, members)


# --- Templates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({}, "config", "config.points must be an integer from 1 to"),
        ({"points": 0}, "config", "config.points must be an integer from 1 to"),
        ({"points": -5}, "config", "config.points must be an integer"),
        ({"points": "100"}, "config", "config.points must be an integer"),
        ({"points": True}, "config", "config.points must be an integer"),
        ({"points": 10.5}, "config", "config.points must be an integer"),
        ({"points": 2_000_000_000}, "config", "from 1 to 1,000,000,000"),
        ({"points": 10, "reward_id": ""}, "config", "config.reward_id must be 1 to 100"),
        ({"points": 10, "reward_id": 7}, "config", "config.reward_id must be 1 to 100"),
        ({"points": 10, "issuer_id": "x" * 101}, "config", "config.issuer_id must be 1 to 100"),
        ({"points": 10, "colour": "red"}, "config", "not colour"),
    ],
)
async def test_a_points_template_needs_a_positive_whole_number_of_points(
    runtime: Runtime, config: dict[str, Any], field: str, message: str
) -> None:
    partner = await new_partner(runtime)
    with pytest.raises(Invalid) as raised:
        await points_template(runtime, partner.merchant_id, config)
    assert raised.value.field == field
    assert message in raised.value.message


async def test_a_points_template_has_no_discount_and_stores_its_defaults(
    runtime: Runtime,
) -> None:
    partner = await new_partner(runtime)
    async with runtime.db.write_session() as session:
        with pytest.raises(Invalid) as raised:
            await templates.create_template(
                session,
                merchant_id=partner.merchant_id,
                kind="points",
                name="Points",
                actor=ACTOR,
                discount={"type": "amount", "value": 5},
                config={"points": 5},
            )
    template = await points_template(runtime, partner.merchant_id, {"points": 5})

    assert raised.value.field == "discount"
    assert (template.kind, template.type, template.subtype, template.discount) == (
        "points",
        "points",
        None,
        None,
    )
    assert template.config == {"points": 5, "reward_id": "CAMPAIGN", "issuer_id": "CAMPAIGN"}
