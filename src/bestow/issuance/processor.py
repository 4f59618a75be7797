"""Processing of a batch issuance job, one chunk per transaction.

Each chunk commits its rewards (or hold-outs), its failures, its outbox events and the job's
counters together, and first re-checks that this worker still holds the job's lease. A worker that
dies mid-chunk commits nothing of it; whoever takes the job over resumes at ``processed_count``.
Unique constraints on (job, identifier index) and (job, member) back this up.

A template's kind may issue something with each reward (a voucher): its ``issue`` hook runs in the
chunk's transaction with the chunk's rewards, and the rewards it cannot serve become failures.

A row-level error (a points balance that would pass the 64-bit maximum, a row the database
refuses) fails its identifier alone: the chunk runs in a savepoint, and on such an error is split
down to the row at fault (``bestow.kit.isolation``); the rest of the chunk commits with it, in the
same single transaction, so the lease fence and resumption at ``processed_count`` hold as before.

Who commits: this module, once per chunk, in ``process_job`` (and ``fail_job``), each in a write
session of its own rather than the worker's job session. A job of 10,000 identifiers is too long
for one transaction (its locks, and all its work lost to one crash); a chunk committed is durable
progress, and the lease fence inside each chunk's transaction keeps a worker that lost the job
from committing over its new holder. The functions a chunk calls (``ledger.move_many``, a kind's
``issue`` hook) never commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, String, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from bestow.issuance import events
from bestow.issuance.campaigns import views
from bestow.issuance.service import FINISHED
from bestow.kit import isolation
from bestow.kit.db import Database, WriteSession, bulk_insert, dialect_of, insert_ignore, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.ids import new_guid, new_id
from bestow.kit.outbox import event_row
from bestow.kit.timefmt import iso
from bestow.lab import environments, worker_faults
from bestow.members.identifiers import normalise_email, normalise_phone
from bestow.models import (
    Campaign,
    CampaignVariant,
    Client,
    Holdout,
    IssuanceFailure,
    IssuanceJob,
    IssuedReward,
    Job,
    Member,
    Merchant,
    RewardTemplate,
)
from bestow.rewards import kinds
from bestow.webhooks import fanout

CHUNK_SIZE = 2_000

INVALID_EMAIL = "Invalid email"
INVALID_PHONE = "Invalid phone number; E.164 format required"
INVALID_TYPE = "Unknown identifier type"
NOT_FOUND = "User not found"
INACTIVE = "User inactive"
DUPLICATE = "Duplicate identifier"


class LeaseLost(Exception):
    """Another worker holds the job now; this one must stop without committing.

    Deliberately not a ``DomainError``: it refuses nothing a caller asked for and never reaches a
    surface. It is the worker's control flow, raised by ``fence`` inside a chunk's transaction
    and let through by the tasks (``issuance.tasks``, the operator's bulk enrolment) so that the
    chunk rolls back and the job is left to the worker that holds it. Kept apart from the
    hierarchy, no handler meant for domain refusals can swallow it."""


@dataclass
class Context:
    job_id: str
    merchant: Merchant
    campaign: Campaign
    variant: CampaignVariant
    template: RewardTemplate | None
    campaign_payload: dict[str, Any]
    kind: kinds.RewardKind | None = None
    billable: bool = False
    client_id: str = ""
    environment: str = "production"
    """The job's client's: a demo or UAT one may have ``partial_failure`` fault rules."""


@dataclass
class ChunkResult:
    rewards: list[dict[str, Any]] = field(default_factory=list)
    reward_types: dict[int, str] = field(default_factory=dict)
    holdouts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    event_data: list[dict[str, Any]] = field(default_factory=list)
    """What the kind's hook adds to each reward's event data, in the order of ``rewards``."""


@dataclass(frozen=True)
class Judged:
    """One identifier judged on its own: its normal form, or why it fails without a lookup."""

    kind: str
    value: Any
    normal: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Lease:
    """The worker job this processing runs under, and who holds it."""

    job_id: str
    attempt: int
    worker_id: str
    duration: timedelta


async def fence(session: WriteSession, lease: Lease) -> None:
    """Renew the lease inside the chunk's transaction; if it was taken over, stop."""
    result = await session.execute(
        update(Job)
        .where(
            Job.id == lease.job_id,
            Job.locked_by == lease.worker_id,
            Job.attempt == lease.attempt,
            Job.state == "running",
        )
        .values(locked_until=utcnow() + lease.duration)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(lease.job_id)


async def _context(session: AsyncSession, job: IssuanceJob) -> Context:
    merchant = await session.get(Merchant, job.merchant_id)
    client = await session.get(Client, job.client_id)
    # What a kind issues (e.g. vouchers) counts for billing when the job's client is production.
    billable = client is not None and environments.is_billable(client.environment)
    campaign = await session.get(Campaign, job.campaign_id)
    variant = await session.get(CampaignVariant, job.variant_id)
    assert merchant and campaign and variant
    template = (
        await session.get(RewardTemplate, variant.reward_template_id)
        if variant.reward_template_id
        else None
    )
    view = (await views(session, [campaign]))[0]
    payload = {
        "id": campaign.id,
        "name": campaign.name,
        "objective": campaign.objective,
        "start_at": iso(campaign.start_at),
        "end_at": iso(campaign.end_at),
        "redeemable_from": iso(campaign.redeemable_from),
        "redeemable_to": iso(campaign.redeemable_to),
        "time_zone": view.time_zone,
        "fine_print": campaign.fine_print,
        "variant": {
            "id": variant.id,
            "name": variant.name,
            "reward_template_id": variant.reward_template_id,
        },
    }
    kind = kinds.get(template.kind) if template else None
    environment = client.environment if client is not None else "production"
    return Context(
        job.id,
        merchant,
        campaign,
        variant,
        template,
        payload,
        kind,
        billable,
        job.client_id,
        environment,
    )


async def process_job(
    db: Database,
    *,
    job_id: str,
    lease: Lease,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Process every remaining chunk of the job, then finish it."""
    judged: list[Judged] | None = None
    rewarded: set[str] | None = None
    asking = True  # whether the job's client may have fault rules: until a chunk finds none
    while True:
        async with db.write_session() as session:
            await fence(session, lease)
            # The identifiers never change: read (and parse) them for the first chunk only.
            loaded = [defer(IssuanceJob.identifiers)] if judged is not None else []
            job = await session.get(IssuanceJob, job_id, with_for_update=True, options=loaded)
            if job is None or job.state in FINISHED:
                return
            now = utcnow()
            if job.state == "pending":
                job.state = "processing"
                job.started_at = now
            start = job.processed_count
            if start < job.total_count:
                ctx = await _context(session, job)
                if judged is None:
                    judged = judge(job.identifiers)
                if rewarded is None:
                    rewarded = await _rewarded_members(session, job_id)
                chunk = judged[start : start + chunk_size]
                forced: dict[int, str] = {}
                if asking:
                    injected = await _injected(session, ctx, start, chunk)
                    asking = injected is not None
                    forced = injected.reasons if injected is not None else {}
                tally = await _isolated_chunk(session, ctx, start, chunk, now, rewarded, forced)
                job.processed_count = start + len(chunk)
                job.success_count += tally["success"]
                job.failure_count += tally["failure"]
            if job.processed_count >= job.total_count:
                await _finish(session, job, now)
                await session.commit()
                return
            await session.commit()


async def _injected(
    session: WriteSession, ctx: Context, start: int, chunk: list[Judged]
) -> worker_faults.Injected | None:
    """The identifiers of the chunk that a demo or UAT client's ``partial_failure`` rules make
    fail, drawn once for the chunk among the well-formed ones (``bestow.lab.worker_faults``);
    the audit log says they were injected. ``None``: no rule applies, stop asking for this job
    (a production client: no query at all)."""
    injected = await worker_faults.batch_failures(
        session,
        client_id=ctx.client_id,
        environment=ctx.environment,
        surface=worker_faults.PARTNER,
        eligible=[start + i for i, item in enumerate(chunk) if item.normal is not None],
    )
    if injected is not None and injected.reasons:
        worker_faults.record_injected(
            session, target_type="issuance_job", target_id=ctx.job_id, injected=injected
        )
    return injected


async def _isolated_chunk(
    session: WriteSession,
    ctx: Context,
    start: int,
    chunk: list[Judged],
    now: datetime,
    rewarded: set[str],
    forced: dict[int, str],
) -> Counter[str]:
    """Process and write one chunk in the chunk's transaction; a row-level error (a member whose
    points balance would overflow, a row the database refuses) fails that identifier alone, with
    its reason, and the rest of the chunk is written (``bestow.kit.isolation``). The identifiers
    in ``forced`` (by index: injected faults, ``_injected``) fail with the reason given, as a
    real failure would."""

    async def attempt(first: int, items: Sequence[Judged]) -> Counter[str]:
        already = set(rewarded)
        result = await _process_chunk(session, ctx, first, list(items), now, already, forced)
        await _write(session, ctx, result, now)
        rewarded.clear()
        rewarded.update(already)
        return Counter(
            success=len(result.rewards) + len(result.holdouts), failure=len(result.failures)
        )

    async def fail(index: int, item: Judged, reason: str) -> Counter[str]:
        failure = _failure(ctx, index, item.kind, item.value, reason)
        await bulk_insert(session, IssuanceFailure.__table__, [failure])
        return Counter(failure=1)

    return await isolation.isolated(session, start, chunk, attempt, fail)


def _normalise(kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("not a string")
    if kind == "email":
        return normalise_email(value)
    return normalise_phone(value)


def judge(identifiers: list[list[Any]]) -> list[Judged]:
    """Every identifier of the job, in order. A repeat of an earlier one is a duplicate whichever
    chunk that one fell in, so the outcome does not depend on the chunk size."""
    judged: list[Judged] = []
    seen: set[tuple[str, str]] = set()
    for kind, value in identifiers:
        if kind not in ("email", "phone"):
            judged.append(Judged(str(kind), value, error=INVALID_TYPE))
            continue
        try:
            normal = _normalise(kind, value)
        except Invalid:
            reason = INVALID_EMAIL if kind == "email" else INVALID_PHONE
            judged.append(Judged(kind, value, error=reason))
            continue
        if (kind, normal) in seen:
            judged.append(Judged(kind, value, error=DUPLICATE))
            continue
        seen.add((kind, normal))
        judged.append(Judged(kind, value, normal=normal))
    return judged


async def _process_chunk(
    session: WriteSession,
    ctx: Context,
    start: int,
    chunk: list[Judged],
    now: datetime,
    already: set[str],
    forced: dict[int, str] | None = None,
) -> ChunkResult:
    """Judge one chunk. ``already`` holds the members the job has rewarded (or held out) so far;
    the members this chunk rewards are added to it. ``forced``: the identifiers (by index) that
    fail with the given reason whatever they are (injected faults)."""
    result = ChunkResult()
    wanted: dict[int, tuple[str, str]] = {}
    for offset, item in enumerate(chunk):
        index = start + offset
        if item.normal is None:
            error = item.error or INVALID_TYPE
            result.failures.append(_failure(ctx, index, item.kind, item.value, error))
            continue
        if forced and index in forced:
            result.failures.append(_failure(ctx, index, item.kind, item.value, forced[index]))
            continue
        wanted[index] = (item.kind, item.normal)

    members = await _members(session, ctx.merchant.id, wanted.values())
    missing = [key for key in dict.fromkeys(wanted.values()) if key not in members]
    if missing and ctx.merchant.enrol_unknown_members:
        await _enrol(session, ctx.merchant.id, missing, now)
        members |= await _members(session, ctx.merchant.id, missing)

    for index, key in wanted.items():
        kind, value = chunk[index - start].kind, chunk[index - start].value
        found = members.get(key)
        if found is None:
            result.failures.append(_failure(ctx, index, kind, value, NOT_FOUND))
        elif found[1] != "active":
            result.failures.append(_failure(ctx, index, kind, value, INACTIVE))
        elif found[0] in already:
            result.failures.append(_failure(ctx, index, kind, value, DUPLICATE))
        else:
            already.add(found[0])
            if ctx.variant.is_control:
                result.holdouts.append(_holdout(ctx, index, found[0], now))
            else:
                result.rewards.append(_reward(ctx, index, found[0], now))
                result.reward_types[index] = kind
    if result.rewards and ctx.kind is not None and ctx.kind.issue is not None:
        await _issue_with_kind(session, ctx, ctx.kind.issue, result, chunk, start, now, already)
    result.failures.sort(key=lambda f: f["identifier_index"])
    return result


async def _issue_with_kind(
    session: WriteSession,
    ctx: Context,
    issue: kinds.Issue,
    result: ChunkResult,
    chunk: list[Judged],
    start: int,
    now: datetime,
    already: set[str],
) -> None:
    """Let the kind issue its things with the chunk's rewards; the rewards it could not serve
    (the last ones: out of stock) fail instead, and their members may still be rewarded by a
    later identifier of the job."""
    batch = kinds.Batch(
        config=ctx.template.config if ctx.template else {},
        job_id=ctx.job_id,
        client_id=ctx.campaign.client_id,
        valid_from=ctx.campaign.redeemable_from,
        billable=ctx.billable,
        now=now,
        links=[(r["id"], r["member_id"]) for r in result.rewards],
        indexes=[r["identifier_index"] for r in result.rewards],
    )
    served = await issue(session, batch)
    result.event_data = served.event_data
    for reward in result.rewards[served.count :]:
        index = reward["identifier_index"]
        item = chunk[index - start]
        already.discard(reward["member_id"])
        del result.reward_types[index]
        result.failures.append(_failure(ctx, index, item.kind, item.value, served.reason))
    del result.rewards[served.count :]


async def _members(
    session: AsyncSession, merchant_id: str, keys: Any
) -> dict[tuple[str, str], tuple[str, str]]:
    emails = [v for k, v in keys if k == "email"]
    phones = [v for k, v in keys if k == "phone"]
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, column, values in (("email", Member.email, emails), ("phone", Member.phone, phones)):
        if not values:
            continue
        rows = await session.execute(
            select(column, Member.id, Member.status).where(
                Member.merchant_id == merchant_id, _one_of(session, column, values)
            )
        )
        for value, member_id, status in rows:
            found[(kind, str(value))] = (member_id, status)
    return found


async def _enrol(
    session: WriteSession, merchant_id: str, keys: list[tuple[str, str]], now: datetime
) -> None:
    rows = [
        {
            "id": new_id("mbr"),
            "merchant_id": merchant_id,
            "account_id": new_guid(),
            "email": value if kind == "email" else None,
            "phone": value if kind == "phone" else None,
            "loyalty_id": None,
            "first_name": "",
            "last_name": "",
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        for kind, value in keys
    ]
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    await session.execute(insert_ignore(dialect, Member.__table__), rows)


async def _rewarded_members(session: AsyncSession, job_id: str) -> set[str]:
    """The members the job has rewarded or held out in the chunks committed so far. Read once
    per run: the chunks that follow add theirs as they go (they alone write to the job)."""
    rewarded = await session.scalars(
        select(IssuedReward.member_id).where(IssuedReward.job_id == job_id)
    )
    held = await session.scalars(select(Holdout.member_id).where(Holdout.job_id == job_id))
    return set(rewarded) | set(held)


def _one_of(session: AsyncSession, column: Any, values: list[str]) -> ColumnElement[bool]:
    """``column IN values``. On PostgreSQL ``IN (SELECT unnest($1))``, one array parameter: no
    statement of thousands of parameters to render, parse and plan for each chunk, and a plan
    that stays good once the prepared statement goes generic (``= ANY($1)`` then filters every
    row of the merchant against the array, one by one)."""
    if dialect_of(session) == "postgresql":
        array = bindparam(None, values, type_=ARRAY(String))
        return column.in_(select(func.unnest(array)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def _failure(ctx: Context, index: int, kind: str, value: Any, error: str) -> dict[str, Any]:
    return {
        "job_id": ctx.job_id,
        "identifier_index": index,
        "identifier_type": kind[:20],
        "identifier_value": str(value)[:400],
        "error": error,
    }


def _reward(ctx: Context, index: int, member_id: str, now: datetime) -> dict[str, Any]:
    assert ctx.template is not None
    return {
        "id": new_id("rwd"),
        "client_id": ctx.campaign.client_id,
        "merchant_id": ctx.merchant.id,
        "member_id": member_id,
        "campaign_id": ctx.campaign.id,
        "variant_id": ctx.variant.id,
        "template_id": ctx.template.id,
        "job_id": ctx.job_id,
        "identifier_index": index,
        "kind": ctx.template.kind,
        "state": "active",
        "valid_from": ctx.campaign.redeemable_from,
        "valid_to": ctx.campaign.redeemable_to,
        "created_at": now,
        "revoked_at": None,
    }


def _holdout(ctx: Context, index: int, member_id: str, now: datetime) -> dict[str, Any]:
    return {
        "job_id": ctx.job_id,
        "identifier_index": index,
        "member_id": member_id,
        "campaign_id": ctx.campaign.id,
        "variant_id": ctx.variant.id,
        "created_at": now,
    }


async def _write(session: WriteSession, ctx: Context, result: ChunkResult, now: datetime) -> None:
    await bulk_insert(session, IssuedReward.__table__, result.rewards)
    await bulk_insert(session, Holdout.__table__, result.holdouts)
    await bulk_insert(session, IssuanceFailure.__table__, result.failures)
    stamp = iso(now) or ""
    # Every reward of a chunk expires at the campaign's end: format each distinct value once.
    expiry: dict[datetime | None, str | None] = {}
    outbox = []
    for reward, extra in zip(result.rewards, result.event_data or repeat({}), strict=False):
        index = reward["identifier_index"]
        valid_to = reward["valid_to"]
        if valid_to not in expiry:
            expiry[valid_to] = iso(valid_to)
        outbox.append(
            event_row(
                events.REWARD_ISSUED,
                subject_type="reward",
                subject_id=reward["id"],
                client_id=ctx.campaign.client_id,
                merchant_id=ctx.merchant.id,
                now=now,
                stamp=stamp,
                data={
                    "issuance_job_id": ctx.job_id,
                    "merchant_id": ctx.merchant.id,
                    "reward_id": reward["id"],
                    "identifier": {"type": result.reward_types[index], "index": index},
                    "user_id": reward["member_id"],
                    "state": reward["state"],
                    "expires_at": expiry[valid_to],
                    "campaign": ctx.campaign_payload,
                    **extra,
                },
            )
        )
    await fanout.write_events(session, outbox)


async def _finish(
    session: WriteSession, job: IssuanceJob, now: datetime, *, force_failed: bool = False
) -> None:
    """A job is ``completed`` when at least one identifier succeeded, ``failed`` when none did or
    when it could not be processed at all."""
    job.state = "completed" if job.success_count > 0 and not force_failed else "failed"
    job.completed_at = now
    failed = list(
        await session.execute(
            select(IssuanceFailure.identifier_value, IssuanceFailure.error)
            .where(IssuanceFailure.job_id == job.id)
            .order_by(IssuanceFailure.identifier_index)
        )
    )
    batch = event_row(
        events.REWARD_BATCH_COMPLETED,
        subject_type="issuance_job",
        subject_id=job.id,
        client_id=job.client_id,
        merchant_id=job.merchant_id,
        now=now,
        data={
            "issuance_job_id": job.id,
            "merchant_id": job.merchant_id,
            "state": job.state,
            "total_count": job.total_count,
            "issued_count": job.success_count,
            "failed_count": job.failure_count,
            "failures": [{"user_identifier": value, "reason": error} for value, error in failed],
        },
    )
    await fanout.write_events(session, [batch])


async def fail_job(db: Database, *, job_id: str, error: str) -> None:
    """Give up on a job that cannot be processed: ``failed``, with the batch event."""
    async with db.write_session() as session:
        job = await session.get(IssuanceJob, job_id, with_for_update=True)
        if job is None or job.state in FINISHED:
            return
        job.error = error[:500]
        await _finish(session, job, utcnow(), force_failed=True)
        await session.commit()
