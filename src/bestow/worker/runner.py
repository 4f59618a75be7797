"""The worker: claims due jobs, runs them with leases, retries with backoff, shuts down gracefully.

Runs inside ``bestow serve`` by default and as any number of ``bestow worker`` processes. It polls
for due jobs; on PostgreSQL it also listens for the NOTIFY an enqueue sends at commit, so new work
starts at once instead of at the next poll. Each worker also runs the webhook dispatcher
(``bestow.webhooks.dispatcher``) unless ``BESTOW_WEBHOOK_DISPATCH=false``.

Who commits: the runner, each in a short write session of its own: the claim of a batch of jobs
(the leases, before any job runs); a job's handler together with its completion, in the one
session of ``JobContext`` (if the lease was lost meanwhile, ``jobs.complete`` says so and the
session is rolled back instead); a failure's record; a burial hook; each heartbeat's lease
extension. A task that must commit part of its work early (an issuance job per chunk, see
``issuance.processor``) opens write sessions of its own from ``JobContext.db``; tasks never
commit the runner's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import socket
import time
import traceback
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.engine import make_url

from bestow.config import Settings
from bestow.kit import jobs
from bestow.kit.db import Database, is_unavailable
from bestow.kit.ids import new_id
from bestow.models import Job
from bestow.webhooks import fanout, retention
from bestow.webhooks.dispatcher import Dispatcher
from bestow.worker.housekeeping import sweep

log = structlog.get_logger("bestow.worker")

HOUSEKEEPING_SECONDS = 60.0
LISTEN_RETRY_SECONDS = 5.0
RECORD_RETRY_SECONDS = 0.5


def import_task_modules(modules: list[str]) -> None:
    """Import the modules that register tasks (the project's own and ``BESTOW_WORKER_IMPORTS``)."""
    for name in ["bestow.tasks", *modules]:
        importlib.import_module(name)


class Worker:
    def __init__(
        self, db: Database, settings: Settings, *, queues: list[str] | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.queues = queues or list(settings.worker_queues)
        host = socket.gethostname()[:60]
        self.worker_id = f"{host}:{os.getpid()}:{new_id('wrk')[-8:]}"
        self.lease = timedelta(seconds=settings.worker_lease_seconds)
        self.concurrency = max(1, settings.worker_concurrency)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        # Keyed by attempt too: after a lapsed lease this worker may claim a job it still runs.
        self._running: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.dispatcher: Dispatcher | None = None
        if settings.webhook_dispatch:
            self.dispatcher = Dispatcher(db, settings, worker_id=self.worker_id)

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        log.info("worker.started", worker_id=self.worker_id, queues=self.queues)
        background = [
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._housekeeping()),
        ]
        if not self.db.is_sqlite:
            background.append(asyncio.create_task(self._listen()))
        dispatching = asyncio.create_task(self.dispatcher.run()) if self.dispatcher else None
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                claimed = await self._claim_batch()
                if claimed == 0 or len(self._running) >= self.concurrency:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.worker_poll_seconds)
        finally:
            # The heartbeat keeps the leases of the jobs still running until they finish.
            if self.dispatcher and dispatching:
                self.dispatcher.stop()
            await self._drain()
            if dispatching:
                await asyncio.gather(dispatching, return_exceptions=True)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            log.info("worker.stopped", worker_id=self.worker_id)

    async def _drain(self) -> None:
        if not self._running:
            return
        log.info("worker.draining", running=len(self._running))
        _, pending = await asyncio.wait(
            list(self._running.values()), timeout=self.lease.total_seconds()
        )
        if pending:
            # Rolled back; their leases lapse and another worker runs them again.
            log.warning("worker.abandoned", jobs=len(pending))
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)

    async def _claim_batch(self) -> int:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        try:
            async with self.db.write_session() as session:
                claimed = await jobs.claim(
                    session,
                    worker_id=self.worker_id,
                    limit=free,
                    lease=self.lease,
                    queues=self.queues,
                )
                await session.commit()
        except Exception as exc:  # the database may be away; keep polling
            log.warning("worker.claim_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.worker_poll_seconds)
            return 0
        for job in claimed:
            key = (job.id, job.attempt)
            task = asyncio.create_task(self._execute(job))
            self._running[key] = task
            task.add_done_callback(functools.partial(self._done, key))
        return len(claimed)

    def _done(self, key: tuple[str, int], _task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)
        self._wake.set()

    async def _execute(self, job: Job) -> None:
        try:
            await self._run(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recording the outcome failed; the lease lapses, the job reruns
            log.error(
                "job.unrecorded",
                job_id=job.id,
                kind=job.kind,
                error=type(exc).__name__,
                exc_info=exc,
            )

    async def _run(self, job: Job) -> None:
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt)
        spec = jobs.registered(job.kind)
        if spec is None or job.attempt > job.max_attempts:
            reason = "no handler for this kind" if spec is None else "attempts spent"
            if spec is not None and spec.on_buried is not None:
                # Before the burial: if this fails, the job is claimed (and buried) again.
                async with self.db.write_session() as session:
                    await spec.on_buried(
                        jobs.JobContext(
                            job=job, session=session, db=self.db, worker_id=self.worker_id
                        )
                    )
                    await session.commit()
            state = await self._record_failure(job, reason, retry=False)
            bound.error("job.dead" if state else "job.lease_lost", reason=reason)
            return
        try:
            async with self.db.write_session() as session:
                ctx = jobs.JobContext(
                    job=job, session=session, db=self.db, worker_id=self.worker_id
                )
                await spec.handler(ctx)
                if not await jobs.complete(session, job, self.worker_id):
                    await session.rollback()
                    bound.warning("job.lease_lost")
                    return
                await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            outage = is_unavailable(exc)
            state = await self._record_failure(job, detail, outage=outage)
            bound.warning(
                "job.failed" if state else "job.lease_lost",
                error=type(exc).__name__,
                state=state,
                outage=outage,
                exc_info=exc,
            )
            return
        bound.info("job.completed")

    async def _record_failure(
        self, job: Job, error: str, *, retry: bool = True, outage: bool = False
    ) -> str | None:
        """Record the attempt's failure. The database may be away (a restart): try again until
        the lease runs out rather than let it lapse, which would spend an attempt."""
        deadline = time.monotonic() + self.lease.total_seconds()
        while True:
            try:
                async with self.db.write_session() as session:
                    state = await jobs.fail(
                        session, job, self.worker_id, error, retry=retry, outage=outage
                    )
                    await session.commit()
                    return state
            except Exception as exc:
                if not is_unavailable(exc) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(RECORD_RETRY_SECONDS)

    async def _heartbeat(self) -> None:
        interval = max(0.2, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            job_ids = sorted({job_id for job_id, _ in self._running})
            if not job_ids:
                continue
            try:
                async with self.db.write_session() as session:
                    await jobs.extend_lease(session, job_ids, self.worker_id, self.lease)
                    await session.commit()
            except Exception as exc:
                log.warning("worker.heartbeat_failed", error=type(exc).__name__)

    async def _housekeeping(self) -> None:
        while True:
            try:
                await sweep(self.db, self.settings)
                purged = await retention.purge(self.db, self.settings)
                if any(purged.values()):
                    log.info("webhooks.purged", **purged)
            except Exception as exc:
                log.warning("worker.housekeeping_failed", error=type(exc).__name__)
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    async def _listen(self) -> None:
        """PostgreSQL only: wake on the NOTIFY of an enqueue for one of our queues."""
        dsn = make_url(self.db.url).set(drivername="postgresql")
        while True:
            try:
                conn = await asyncpg.connect(dsn.render_as_string(hide_password=False), timeout=5)
            except Exception as exc:
                log.warning("worker.listen_failed", error=type(exc).__name__)
                await asyncio.sleep(LISTEN_RETRY_SECONDS)
                continue
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(functools.partial(_set_on_call, lost))
                await conn.add_listener(jobs.NOTIFY_CHANNEL, self._on_notify)
                if self.dispatcher:
                    await conn.add_listener(fanout.NOTIFY_CHANNEL, self._on_deliveries)
                self.wake()  # whatever was enqueued while nobody listened
                if self.dispatcher:
                    self.dispatcher.wake()
                await lost.wait()
                log.warning("worker.listen_lost")
            except Exception as exc:
                log.warning("worker.listen_failed", error=type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    def _on_deliveries(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        if self.dispatcher:
            self.dispatcher.wake()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, queue: str) -> None:
        if queue in self.queues:
            self.wake()


def _set_on_call(event: asyncio.Event, *_args: object) -> None:
    event.set()
