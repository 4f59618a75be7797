"""The jobs table: atomic enqueue in the caller's transaction, claiming with leases.

Modelled on database-backed queues that run at scale (Oban, River, Solid Queue): a job is claimed
by one UPDATE that marks it ``running`` with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite serialises writers instead). A job whose lease ran out (its worker died) is claimed again.
A task's writes and the job's completion commit in one transaction, guarded by the lease holder, so
a task that only writes to the database takes effect exactly once however often it is retried.

The lease holder is the worker id together with the attempt number, the fencing token: a worker
whose lease lapsed and which then claimed the same job again cannot complete it twice.

An attempt that failed because the database was unavailable (a restart, a lost connection) says
nothing about the job: it is retried after a short backoff and gives its attempt back (the job's
``max_attempts`` grows by one, so that ``attempt`` stays the ever-growing fencing token). Only
the task's own errors, and workers dying on it, spend its attempts.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import Database, dialect_of, for_update_skip_locked, insert_ignore, utcnow
from bestow.kit.ids import new_id
from bestow.models import Job

DEFAULT_QUEUE = "default"
DEFAULT_MAX_ATTEMPTS = 20
NOTIFY_CHANNEL = "bestow_jobs"
"""PostgreSQL channel on which an enqueue announces its queue when the transaction commits."""


@dataclass
class JobContext:
    job: Job
    session: AsyncSession
    db: Database
    worker_id: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True)
class TaskSpec:
    kind: str
    handler: Handler
    max_attempts: int
    queue: str
    on_buried: Handler | None = None
    """Run (instead of the handler) when the job is buried with its attempts spent by workers
    that died on it, so that what the job stood for does not stay in progress for ever."""


_REGISTRY: dict[str, TaskSpec] = {}


def task(
    kind: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    queue: str = DEFAULT_QUEUE,
    on_buried: Handler | None = None,
) -> Callable[[Handler], Handler]:
    """Register a task handler under ``kind`` (``on_buried``: see ``TaskSpec``), in a domain
    module: ``bestow.domains.load`` imports them all, in the worker and in the server."""

    def register(handler: Handler) -> Handler:
        _REGISTRY[kind] = TaskSpec(kind, handler, max_attempts, queue, on_buried)
        return handler

    return register


def registered(kind: str) -> TaskSpec | None:
    return _REGISTRY.get(kind)


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    unique_key: str | None = None,
    max_attempts: int | None = None,
    priority: int = 0,
    queue: str | None = None,
) -> str | None:
    """Add a job in the caller's transaction. With ``unique_key``, a second enqueue is a no-op
    (returns ``None``) for as long as the first job's row exists, whatever its state."""
    spec = _REGISTRY.get(kind)
    now = utcnow()
    job_id = new_id("job")
    queue = queue or (spec.queue if spec else DEFAULT_QUEUE)
    if max_attempts is None:
        max_attempts = spec.max_attempts if spec else DEFAULT_MAX_ATTEMPTS
    values = {
        "id": job_id,
        "kind": kind,
        "queue": queue,
        "payload": payload or {},
        "state": "available",
        "priority": priority,
        "attempt": 0,
        "max_attempts": max_attempts,
        "unique_key": unique_key,
        "run_at": run_at or now,
        "created_at": now,
    }
    dialect = dialect_of(session)
    result = await session.execute(insert_ignore(dialect, Job.__table__).values(values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if dialect == "postgresql" and (run_at is None or run_at <= now):
        # Delivered at commit, never for a rolled-back enqueue; PostgreSQL folds repeats into one.
        await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, queue)))
    return job_id


async def claim(
    session: AsyncSession, *, worker_id: str, limit: int, lease: timedelta, queues: list[str]
) -> list[Job]:
    """Mark up to ``limit`` due jobs as running for ``worker_id``; the caller commits."""
    now = utcnow()
    due = (
        select(Job.id)
        .where(
            Job.queue.in_(queues),
            or_(
                and_(Job.state == "available", Job.run_at <= now),
                and_(Job.state == "running", Job.locked_until < now),
            ),
        )
        .order_by(Job.priority.desc(), Job.run_at)
        .limit(limit)
    )
    locking = for_update_skip_locked(dialect_of(session))
    if locking:
        due = due.with_for_update(**locking)
    stmt = (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(
            state="running",
            attempt=Job.attempt + 1,
            locked_by=worker_id,
            locked_until=now + lease,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(stmt)).all())


def _held_by(job: Job, worker_id: str) -> ColumnElement[bool]:
    return and_(
        Job.id == job.id,
        Job.locked_by == worker_id,
        Job.attempt == job.attempt,
        Job.state == "running",
    )


async def complete(session: AsyncSession, job: Job, worker_id: str) -> bool:
    """Mark done in the task's own transaction; ``False`` means the lease was lost."""
    result = await session.execute(
        update(Job)
        .where(_held_by(job, worker_id))
        .values(state="completed", finished_at=utcnow(), locked_until=None, last_error=None)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


OUTAGE_BACKOFF_CAP_SECONDS = 30.0
"""The longest wait before retrying an attempt the database's unavailability failed: once it is
back, the job resumes within this."""


def backoff(attempt: int, *, cap: float = 3600.0) -> timedelta:
    """Exponential with jitter, capped (at an hour by default): 2 s, 4 s, 8 s, ..."""
    base = min(cap, 2.0 ** min(attempt, 12))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


async def fail(
    session: AsyncSession,
    job: Job,
    worker_id: str,
    error: str,
    *,
    retry: bool = True,
    outage: bool = False,
) -> str | None:
    """Schedule a retry, or bury the job once its attempts are spent (or at once without
    ``retry``). An ``outage`` (the database unavailable) is always retried and spends no
    attempt. Returns the new state, or ``None`` when the lease was lost."""
    retry = retry and (outage or job.attempt < job.max_attempts)
    state = "available" if retry else "dead"
    values: dict[str, Any] = {"state": state, "last_error": error[:4000], "locked_until": None}
    if state == "dead":
        values["finished_at"] = utcnow()
    elif outage:
        values["max_attempts"] = Job.max_attempts + 1
        values["run_at"] = utcnow() + backoff(job.attempt, cap=OUTAGE_BACKOFF_CAP_SECONDS)
    else:
        values["run_at"] = utcnow() + backoff(job.attempt)
    result = await session.execute(update(Job).where(_held_by(job, worker_id)).values(**values))
    return state if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def extend_lease(
    session: AsyncSession, job_ids: list[str], worker_id: str, lease: timedelta
) -> int:
    """Push out the leases ``worker_id`` still holds; returns how many it holds."""
    if not job_ids:
        return 0
    result = await session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.locked_by == worker_id, Job.state == "running")
        .values(locked_until=utcnow() + lease)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
