"""Template kind ``points``: a campaign whose rewards each credit loyalty points to the member's
account, in the points ledger, by the batch issuance engine.

The template's ``config`` gives ``points`` (a positive integer), the ledger's ``reward_id`` (a
label, by default ``CAMPAIGN``) and ``issuer_id`` (the issuing side's account, by default
``CAMPAIGN``). A chunk credits its members in its own transaction with ``ledger.move_many``: one
transaction of kind ``campaign`` per reward, whose external reference ``job:<job id>:<identifier
index>`` makes a chunk that is processed again credit nothing twice.

Revoking the job takes the points back with one ``campaign_reversal`` transaction per credit, but
never below zero: a member who has spent some of them loses what is left of the balance, up to
the credit (nothing when the balance is 0, and then no reversal is written); the shortfall is not
kept as a debt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import WriteSession
from bestow.kit.errors import Invalid
from bestow.loyalty import ledger
from bestow.loyalty.rewards import MAX_POINTS
from bestow.models import IssuanceJob, PointsTransaction
from bestow.rewards.kinds import Batch, RewardKind, Served, TemplateFields, register

CONFIG_KEYS = ("points", "reward_id", "issuer_id")
DEFAULT_LABEL = "CAMPAIGN"
LABEL_SIZE = 100
CAMPAIGN = "campaign"
REVERSAL = "campaign_reversal"


def _label(config: dict[str, Any], key: str) -> str:
    value = config.get(key, DEFAULT_LABEL)
    if not isinstance(value, str) or not value.strip() or len(value) > LABEL_SIZE:
        raise Invalid(f"config.{key} must be 1 to {LABEL_SIZE} characters", field="config")
    return value


def _validate(fields: TemplateFields) -> TemplateFields:
    if fields.discount is not None:
        raise Invalid("a points template has no discount", field="discount")
    config = fields.config
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise Invalid(
            f"config holds points, reward_id and issuer_id, not {', '.join(unknown)}",
            field="config",
        )
    points = config.get("points")
    if type(points) is not int or not 1 <= points <= MAX_POINTS:
        raise Invalid(f"config.points must be an integer from 1 to {MAX_POINTS:,}", field="config")
    normal = {
        "points": points,
        "reward_id": _label(config, "reward_id"),
        "issuer_id": _label(config, "issuer_id"),
    }
    return TemplateFields(type="points", subtype=None, discount=None, config=normal)


def reference(job_id: str, index: int) -> str:
    """The external reference of a campaign's credit: one per job and identifier."""
    return f"job:{job_id}:{index}"


async def _merchant_of(session: AsyncSession, job_id: str) -> str:
    """The job's merchant: the job row is already in the session (the engine locked it)."""
    job = await session.get(IssuanceJob, job_id)
    assert job is not None
    return job.merchant_id


async def _issue(session: WriteSession, batch: Batch) -> Served:
    """Credit every member of the chunk, in one ``move_many``; each ``reward.issued`` event
    carries its member's transaction."""
    config = batch.config
    postings = [
        ledger.Posting(
            member_id=member_id,
            amount=config["points"],
            external_reference_id=reference(batch.job_id, index),
            reward_id=config.get("reward_id", DEFAULT_LABEL),
            issuer_id=config.get("issuer_id", DEFAULT_LABEL),
        )
        for (_, member_id), index in zip(batch.links, batch.indexes, strict=True)
    ]
    moved = await ledger.move_many(
        session,
        postings,
        merchant_id=await _merchant_of(session, batch.job_id),
        kind=CAMPAIGN,
        now=batch.now,
        client_id=batch.client_id,
        job_id=batch.job_id,
    )
    data = []
    for _, member_id in batch.links:
        row = moved[member_id]
        data.append(
            {
                "points": {
                    "transaction_id": row["id"],
                    "points": row["amount"],
                    "balance": row["balance_after"],
                    "reward_id": row["reward_id"],
                    "issuer_id": row["issuer_id"],
                }
            }
        )
    return Served(len(batch.links), "", data)


async def _revoke(session: WriteSession, job_id: str, now: datetime) -> None:
    """Take back the job's credits, each at most down to a zero balance (module docstring)."""
    credits = list(
        await session.execute(
            select(
                PointsTransaction.member_id,
                PointsTransaction.amount,
                PointsTransaction.external_reference_id,
                PointsTransaction.reward_id,
                PointsTransaction.issuer_id,
                PointsTransaction.client_id,
            ).where(PointsTransaction.job_id == job_id, PointsTransaction.kind == CAMPAIGN)
        )
    )
    if not credits:
        return
    postings = [
        ledger.Posting(
            member_id=member_id,
            amount=-amount,
            external_reference_id=f"{external_reference_id}:reversal",
            reward_id=reward_id,
            issuer_id=issuer_id,
        )
        for member_id, amount, external_reference_id, reward_id, issuer_id, _ in credits
    ]
    await ledger.move_many(
        session,
        postings,
        merchant_id=await _merchant_of(session, job_id),
        kind=REVERSAL,
        now=now,
        client_id=credits[0].client_id,
        job_id=job_id,
    )


POINTS = register(
    RewardKind(
        "points",
        "Loyalty points credited to each recipient (config: points, reward_id, issuer_id)",
        _validate,
        issue=_issue,
        revoke=_revoke,
    )
)
