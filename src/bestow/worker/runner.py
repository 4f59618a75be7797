"""The worker: claims due jobs, runs them with leases, retries with backoff, shuts down gracefully.

Runs inside ``bestow serve`` by default and as any number of ``bestow worker`` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import traceback
from datetime import timedelta

import structlog

from bestow.config import Settings
from bestow.kit import jobs
from bestow.kit.db import Database
from bestow.kit.ids import new_id
from bestow.models import Job

log = structlog.get_logger("bestow.worker")

HOUSEKEEPING_SECONDS = 60.0


def import_task_modules(modules: list[str]) -> None:
    """Import the modules that register tasks (the project's own and ``BESTOW_WORKER_IMPORTS``)."""
    for name in ["bestow.tasks", *modules]:
        importlib.import_module(name)


class Worker:
    def __init__(self, db: Database, settings: Settings, *, queues: list[str] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.queues = queues or ["default"]
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{new_id('wrk')[-8:]}"
        self.lease = timedelta(seconds=settings.worker_lease_seconds)
        self.concurrency = max(1, settings.worker_concurrency)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        log.info("worker.started", worker_id=self.worker_id, queues=self.queues)
        heartbeat = asyncio.create_task(self._heartbeat())
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            while not self._stopping.is_set():
                claimed = await self._claim_batch()
                if claimed == 0 or len(self._running) >= self.concurrency:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.worker_poll_seconds)
        finally:
            heartbeat.cancel()
            housekeeping.cancel()
            if self._running:
                log.info("worker.draining", running=len(self._running))
                await asyncio.wait(list(self._running.values()), timeout=self.lease.total_seconds())
            log.info("worker.stopped", worker_id=self.worker_id)

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
            task = asyncio.create_task(self._execute(job))
            self._running[job.id] = task
            task.add_done_callback(lambda _t, job_id=job.id: self._done(job_id))
        return len(claimed)

    def _done(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _execute(self, job: Job) -> None:
        spec = jobs.registered(job.kind)
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt)
        if spec is None or job.attempt > job.max_attempts:
            reason = "no handler for this kind" if spec is None else "attempts spent"
            await self._record_failure(job, reason, bury=True)
            bound.error("job.dead", reason=reason)
            return
        try:
            async with self.db.write_session() as session:
                ctx = jobs.JobContext(job=job, session=session, db=self.db, worker_id=self.worker_id)
                await spec.handler(ctx)
                if await jobs.complete(session, job, self.worker_id):
                    await session.commit()
                    bound.info("job.completed")
                else:
                    await session.rollback()
                    bound.warning("job.lease_lost")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            state = await self._record_failure(job, detail)
            bound.warning("job.failed", error=type(exc).__name__, state=state)

    async def _record_failure(self, job: Job, error: str, *, bury: bool = False) -> str:
        if bury:
            job.attempt = job.max_attempts
        async with self.db.write_session() as session:
            state = await jobs.fail(session, job, self.worker_id, error)
            await session.commit()
            return state

    async def _heartbeat(self) -> None:
        interval = max(0.2, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            if not self._running:
                continue
            try:
                async with self.db.write_session() as session:
                    await jobs.extend_lease(session, list(self._running), self.worker_id, self.lease)
                    await session.commit()
            except Exception as exc:
                log.warning("worker.heartbeat_failed", error=type(exc).__name__)

    async def _housekeeping(self) -> None:
        from bestow.kit.housekeeping import sweep

        while True:
            try:
                await sweep(self.db, self.settings)
            except Exception as exc:
                log.warning("worker.housekeeping_failed", error=type(exc).__name__)
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
