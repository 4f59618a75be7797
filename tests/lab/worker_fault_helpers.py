"""Helpers of the worker-side fault tests (``tests/lab/test_worker_faults*.py``): fault rules made
through ``bestow.lab.faults`` (or written as rows, for what the service refuses to make), and
what a job or a bulk left in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.lab import faults
from bestow.models import AuditEntry, FaultRule, IssuedReward, OperatorEnrollment
from tests.conftest import ACTOR


async def make_rule(runtime: Runtime, client_id: str, kind: str, **options: Any) -> str:
    """A fault rule through the service (``share`` or ``count``, ``route``, ``params``,
    ``expires_at``): its id."""
    async with runtime.db.write_session() as session:
        rule = await faults.create_rule(
            session, client_id=client_id, kind=kind, actor=ACTOR, **options
        )
        await session.commit()
        return rule.id


async def write_rule(runtime: Runtime, client_id: str, kind: str, **fields: Any) -> str:
    """A fault rule written as a row, past the service's checks (a production client's, one
    already expired): its id."""
    async with runtime.db.write_session() as session:
        rule = FaultRule(client_id=client_id, kind=kind, created_at=utcnow(), **fields)
        session.add(rule)
        await session.commit()
        return rule.id


async def expire_rule(runtime: Runtime, rule_id: str, at: datetime) -> None:
    async with runtime.db.write_session() as session:
        await session.execute(
            update(FaultRule).where(FaultRule.id == rule_id).values(expires_at=at)
        )
        await session.commit()


async def remaining(runtime: Runtime, rule_id: str) -> int | None:
    async with runtime.db.session() as session:
        return await session.scalar(select(FaultRule.remaining).where(FaultRule.id == rule_id))


async def rewarded_indexes(runtime: Runtime, job_id: str) -> set[int]:
    """The identifier indexes the job rewarded."""
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(IssuedReward.identifier_index).where(IssuedReward.job_id == job_id)
        )
        return set(rows)


async def rewards_per_member(runtime: Runtime, campaign_id: str) -> dict[str, int]:
    """How many rewards each member got from the campaign (all its jobs)."""
    async with runtime.db.session() as session:
        members = await session.scalars(
            select(IssuedReward.member_id).where(IssuedReward.campaign_id == campaign_id)
        )
        counts: dict[str, int] = {}
        for member in members:
            counts[member] = counts.get(member, 0) + 1
        return counts


async def enrolled_players(runtime: Runtime, reward_id: str) -> set[str]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(OperatorEnrollment.operator_player_id).where(
                OperatorEnrollment.reward_id == reward_id
            )
        )
        return set(rows)


async def injected_entries(runtime: Runtime, target_id: str) -> list[dict[str, Any]]:
    """The ``fault.injected`` audit entries of a job or bulk: their changes."""
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_id == target_id, AuditEntry.action == "fault.injected")
            .order_by(AuditEntry.created_at)
        )
        return [dict(row.changes or {}) for row in rows]
