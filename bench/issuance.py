"""Batch issuance throughput: one 10,000-identifier job end to end, sustained rewards/s, raw COPY.

Everything runs against a fresh database (PostgreSQL by default: ``CREATE DATABASE
bestow_bench_<random>``, dropped at the end; or a temporary SQLite file with ``--database
sqlite``) migrated with ``bestow.kit.migrate.upgrade`` and seeded through the services: one
merchant with ``--members`` members (bulk insert), a published discount template, a partner client
on the ``unlimited`` tier granted that merchant, and an active campaign. Every job targets the
same 10,000 members (a job rewards a member at most once; different jobs may reward the same one).

Phases (real processes, 127.0.0.1 only):

1. ``latency``: seconds from sending ``POST /partner/campaigns/issue`` to the first
   ``GET /partner/issuance_jobs/:id?merchant_id=`` that answers ``completed`` (polled every
   ``--poll`` s), for a job of 10,000 valid members and for one with 10 % invalid or unknown
   identifiers (5 % malformed emails, 5 % unknown addresses). Two deployments: ``bestow serve
   --no-worker`` plus one ``bestow worker`` process, and ``bestow serve`` with its in-process
   worker. The first job of each deployment is reported apart (``cold``); then ``--repeat`` jobs
   of each kind. The job's row splits the time into queue wait (``created_at`` ->
   ``started_at``) and processing (``started_at`` -> seen completed; ``completed_at`` is stamped
   when the last chunk starts, so it would miss that chunk). CPU seconds of the worker process
   and of the database's backends (PostgreSQL on this host, read from ``/proc``) are printed
   beside: on a shared machine they vary much less than the wall time.
2. ``raw``: ``--jobs`` x 10,000 rows of the same reward rows (same columns, same value shapes)
   into the same ``issued_rewards`` table, one transaction per 10,000: asyncpg
   ``copy_records_to_table`` on PostgreSQL, ``sqlite3`` ``executemany`` on SQLite (same pragmas
   as the application). Only the insert calls are timed. The rows are deleted afterwards (and the
   table vacuumed on PostgreSQL) so that the sustained runs start from the same table.
3. ``sustained``: ``--jobs`` jobs are submitted through the API with no worker running, then
   ``--workers`` ``bestow worker`` processes are started; rewards/s is the rewards issued divided
   by the span from the first job's ``started_at`` to the moment all were seen completed (the wall
   time from spawning the workers is printed beside it). Ratio = sustained / raw.

The output is a table and, last, one JSON line with every figure. Exit status 2 when a process
does not start or a job does not finish in time, 1 when a job ends in another state or with other
counts than expected.

    .venv/bin/python bench/issuance.py [--database sqlite] [--jobs 100] [--repeat 3]
        [--workers 1,2] [--phases latency,raw,sustained] [--concurrency N]
        [--worker-poll-seconds S] [--setting BESTOW_NAME=VALUE] [--profile DIR --py-spy PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchkit
import httpx
from benchkit import (
    ADMIN_TOKEN,
    DEFAULT_PG_URL,
    SECRET_KEY,
    BenchFailed,
    DirectReader,
    Proc,
    WrongResult,
    bench_campaign,
    bench_partner,
    bestow_env,
    check_alive,
    cpu_delta,
    database,
    failure_status,
    member_rows,
    pg_dsn,
    proc_cpu,
    procs_cpu,
    stopping,
    venv_script,
)

JOB_SIZE = 10_000
JOB_TIMEOUT_SECONDS = 300.0
FINISHED = ("completed", "failed")
PHASES = ("latency", "raw", "sustained")


@dataclass
class World:
    url: str
    client_id: str
    token: str
    merchant_id: str
    campaign_id: str
    variant_id: str
    template_id: str
    template_kind: str
    valid_from: datetime | None
    valid_to: datetime | None
    emails: list[str]
    member_ids: list[str]

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-ClientId": self.client_id,
            "Accept-Version": "v4.0",
            "Content-Type": "application/json",
        }


@dataclass
class JobRow:
    id: str
    state: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    success_count: int
    failure_count: int


@dataclass
class Payload:
    """One prepared request body and the counts the job must end with."""

    name: str
    body: bytes
    successes: int
    failures: int


@dataclass
class Timing:
    total_s: float
    post_s: float
    queue_s: float
    process_s: float
    worker_cpu_s: float | None
    db_cpu_s: float | None


@dataclass
class Options:
    database: str
    pg_url: str
    jobs: int
    repeat: int
    workers: list[int]
    phases: list[str]
    members: int
    poll: float
    worker_poll_seconds: float | None
    concurrency: int | None
    timeout: float
    profile: Path | None
    py_spy: str | None
    profile_rate: int
    keep_logs: Path | None
    settings_env: dict[str, str] = field(default_factory=dict)


# --- database ------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def _sqlite_time(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class Probe(DirectReader):
    """Direct reads of the jobs' rows (not through the API), for timestamps and progress."""

    async def jobs(self, ids: list[str]) -> list[JobRow]:
        sql = (
            "SELECT id, state, created_at, started_at, completed_at, success_count, "
            "failure_count FROM issuance_jobs"
        )
        if self._lite is not None:
            marks = ",".join("?" * len(ids))
            rows = self._lite.execute(f"{sql} WHERE id IN ({marks})", ids).fetchall()
            self._lite.commit()
            return [
                JobRow(
                    r[0],
                    r[1],
                    _sqlite_time(r[2]) or datetime.now(UTC),
                    _sqlite_time(r[3]),
                    _sqlite_time(r[4]),
                    r[5],
                    r[6],
                )
                for r in rows
            ]
        records = await self._pg.fetch(f"{sql} WHERE id = ANY($1::text[])", ids)
        return [JobRow(*tuple(r)) for r in records]

    async def finished(self, ids: list[str]) -> int:
        sql = "SELECT count(*) FROM issuance_jobs WHERE state IN ('completed', 'failed') AND id"
        if self._lite is not None:
            marks = ",".join("?" * len(ids))
            row = self._lite.execute(f"{sql} IN ({marks})", ids).fetchone()
            self._lite.commit()
            return int(row[0])
        return int(await self._pg.fetchval(f"{sql} = ANY($1::text[])", ids))

    async def rewards_of(self, ids: list[str]) -> int:
        sql = "SELECT count(*) FROM issued_rewards WHERE job_id"
        if self._lite is not None:
            marks = ",".join("?" * len(ids))
            row = self._lite.execute(f"{sql} IN ({marks})", ids).fetchone()
            self._lite.commit()
            return int(row[0])
        return int(await self._pg.fetchval(f"{sql} = ANY($1::text[])", ids))


# --- seed ----------------------------------------------------------------------------------------


def _settings(url: str, var_dir: Path) -> Any:
    from bestow.config import Settings

    return Settings(
        database_url=url, var_dir=var_dir, secret_key=SECRET_KEY, admin_token=ADMIN_TOKEN
    )


async def seed(url: str, var_dir: Path, member_count: int) -> World:
    """Through the services (members in bulk): merchant, members, template, partner, campaign."""
    from bestow.app import build_runtime
    from bestow.kit.actor import Actor
    from bestow.kit.db import bulk_insert, utcnow
    from bestow.merchants import service as merchants
    from bestow.models import Member
    from bestow.rewards import templates

    actor = Actor("bench")
    runtime = build_runtime(_settings(url, var_dir))
    suffix = uuid.uuid4().hex[:8]
    try:
        async with runtime.db.write_session() as session:
            merchant = await merchants.create_merchant(
                session,
                name="Bench Merchant",
                handle=f"bench-{suffix}",
                time_zone="America/New_York",
                actor=actor,
            )
            client, token = await bench_partner(
                session,
                runtime,
                merchant_id=merchant.id,
                name=f"bench-partner-{suffix}",
                actor=actor,
            )
            template = await templates.create_template(
                session,
                merchant_id=merchant.id,
                kind="discount",
                name="Free slice",
                discount={"type": "free_item", "value": None},
                actor=actor,
                publish=True,
            )
            now = utcnow()
            emails = [f"member{i:06d}@example.com" for i in range(member_count)]
            members = member_rows(merchant.id, emails, now, numbered=True)
            await bulk_insert(session, Member.__table__, members)
            view = await bench_campaign(
                session,
                client_id=client.id,
                merchant_id=merchant.id,
                template_id=template.id,
                name="Bench campaign",
                now=now,
            )
            await session.commit()
        return World(
            url=url,
            client_id=client.id,
            token=token,
            merchant_id=merchant.id,
            campaign_id=view.campaign.id,
            variant_id=view.variants[0].id,
            template_id=template.id,
            template_kind=template.kind,
            valid_from=view.campaign.redeemable_from,
            valid_to=view.campaign.redeemable_to,
            emails=[str(m["email"]) for m in members],
            member_ids=[str(m["id"]) for m in members],
        )
    finally:
        await runtime.db.dispose()


def payloads(world: World) -> dict[str, Payload]:
    """The all-valid job and the job with 10 % invalid (5 % malformed, 5 % unknown) identifiers."""
    base = {
        "campaign_id": world.campaign_id,
        "merchant_id": world.merchant_id,
        "variant_id": world.variant_id,
    }
    emails = world.emails[:JOB_SIZE]
    valid = [{"type": "email", "value": e} for e in emails]
    mixed: list[dict[str, str]] = []
    for i, email in enumerate(emails):
        if i % 20 == 0:
            mixed.append({"type": "email", "value": f"not-an-email-{i}"})
        elif i % 20 == 10:
            mixed.append({"type": "email", "value": f"unknown{i:06d}@example.org"})
        else:
            mixed.append({"type": "email", "value": email})
    bad = sum(1 for i in range(JOB_SIZE) if i % 10 == 0)
    return {
        "valid": Payload("valid", json.dumps(base | {"identifiers": valid}).encode(), JOB_SIZE, 0),
        "invalid10": Payload(
            "invalid10",
            json.dumps(base | {"identifiers": mixed}).encode(),
            JOB_SIZE - bad,
            bad,
        ),
    }


# --- processes -----------------------------------------------------------------------------------


class Processes(benchkit.Processes):
    """Every process the bench starts, each stopped (SIGINT, then SIGKILL) by ``stop_all``."""

    def __init__(self, opts: Options, world: World, var_dir: Path, logs: Path) -> None:
        super().__init__(logs, logs)
        self.opts = opts
        self.spies: dict[int, subprocess.Popen[bytes]] = {}
        extra = {}
        if opts.worker_poll_seconds is not None:
            extra["BESTOW_WORKER_POLL_SECONDS"] = str(opts.worker_poll_seconds)
        if opts.concurrency is not None:
            extra["BESTOW_WORKER_CONCURRENCY"] = str(opts.concurrency)
        self.env = bestow_env(world.url, var_dir, **extra) | opts.settings_env

    async def api(self, *, worker: bool) -> tuple[Proc, str]:
        """``bestow serve`` (``--no-worker`` unless ``worker``) and its base URL, once ready."""
        proc, base = await self.serve(self.env, worker=worker)
        if worker:
            self.profile(proc)
        return proc, base

    async def workers(self, count: int) -> list[Proc]:
        """Start ``count`` ``bestow worker`` processes; wait for each one's ``worker.started``."""
        env = self.env | {"BESTOW_LOG_LEVEL": "INFO"}  # for worker.started; one line per job
        commands = {f"worker{n + 1}": [venv_script("bestow"), "worker"] for n in range(count)}
        return await self.start_workers(commands, env, on_ready=self.profile)

    def profile(self, proc: Proc) -> None:
        if self.opts.profile is None:
            return
        py_spy = self.opts.py_spy or shutil.which("py-spy") or "py-spy"
        if not Path(py_spy).exists():
            raise SystemExit(f"--profile needs py-spy (--py-spy PATH): {py_spy} not found")
        out = self.opts.profile / f"{self.opts.database}-{proc.log.stem}.txt"
        command = [py_spy, "record", "--pid", str(proc.process.pid), "--format", "raw"]
        command += ["--rate", str(self.opts.profile_rate), "--output", str(out), "--nonblocking"]
        self.spies[proc.pid] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def stop(self, proc: Proc, sig: int | None = None) -> None:
        super().stop(proc, sig)
        spy = self.spies.pop(proc.pid, None)
        if spy is not None:
            try:
                spy.wait(30)  # py-spy writes its output once the profiled process is gone
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(10)


# --- phase 1: one job, POST to completed ---------------------------------------------------------


async def submit(http: httpx.AsyncClient, world: World, payload: Payload) -> str:
    response = await http.post("/partner/campaigns/issue", content=payload.body)
    if response.status_code != 202:
        raise BenchFailed(f"POST /partner/campaigns/issue: {response.status_code} {response.text}")
    job_id: str = response.json()["issuance_job"]["id"]
    return job_id


def check(row: JobRow, payload: Payload) -> None:
    if (row.state, row.success_count, row.failure_count) != (
        "completed",
        payload.successes,
        payload.failures,
    ):
        raise WrongResult(
            f"job {row.id} ({payload.name}): {row.state}, {row.success_count} succeeded, "
            f"{row.failure_count} failed; expected completed, {payload.successes}, "
            f"{payload.failures}"
        )


async def one_job(
    http: httpx.AsyncClient,
    probe: Probe,
    world: World,
    payload: Payload,
    poll: float,
    worker: Proc | None,
) -> Timing:
    """POST one job and poll it until it is finished.

    ``process_s`` runs from the job's ``started_at`` to the moment the client saw it finished
    (its ``completed_at`` is stamped when the last chunk starts, so it misses that chunk)."""
    cpu_before = proc_cpu(worker.process.pid) if worker else None
    db_before = await probe.backend_cpu()
    start = time.perf_counter()
    job_id = await submit(http, world, payload)
    posted = time.perf_counter()
    deadline = start + JOB_TIMEOUT_SECONDS
    while True:
        response = await http.get(
            f"/partner/issuance_jobs/{job_id}", params={"merchant_id": world.merchant_id}
        )
        if response.status_code != 200:
            raise BenchFailed(f"GET issuance job: {response.status_code} {response.text}")
        if response.json()["issuance_job"]["state"] in FINISHED:
            break
        if time.perf_counter() > deadline:
            raise BenchFailed(f"job {job_id} not finished in {JOB_TIMEOUT_SECONDS} s")
        await asyncio.sleep(poll)
    seen = time.time()
    total = time.perf_counter() - start
    cpu_after = proc_cpu(worker.process.pid) if worker else None
    db_after = await probe.backend_cpu()
    (row,) = await probe.jobs([job_id])
    check(row, payload)
    assert row.started_at is not None
    worker_cpu = None
    if cpu_after is not None and cpu_before is not None:
        worker_cpu = cpu_after - cpu_before
    return Timing(
        total_s=total,
        post_s=posted - start,
        queue_s=(row.started_at - row.created_at).total_seconds(),
        process_s=seen - row.started_at.timestamp(),
        worker_cpu_s=worker_cpu,
        db_cpu_s=cpu_delta(db_before, db_after) if db_after else None,
    )


def _stats(timings: list[Timing]) -> dict[str, Any]:
    totals = [t.total_s for t in timings]
    return {
        "median_s": round(statistics.median(totals), 3),
        "min_s": round(min(totals), 3),
        "max_s": round(max(totals), 3),
        "post_s": round(statistics.median(t.post_s for t in timings), 3),
        "queue_s": round(statistics.median(t.queue_s for t in timings), 3),
        "process_s": round(statistics.median(t.process_s for t in timings), 3),
        "worker_cpu_s": _median([t.worker_cpu_s for t in timings]),
        "db_cpu_s": _median([t.db_cpu_s for t in timings]),
        "runs": len(timings),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


async def latency(
    opts: Options, procs: Processes, probe: Probe, world: World, bodies: dict[str, Payload]
) -> dict[str, Any]:
    """Both deployments: ``serve --no-worker`` + one ``bestow worker``, and ``serve`` alone."""
    results: dict[str, Any] = {}
    for deployment in ("api+worker", "serve"):
        print(f"  latency: {deployment} ...", flush=True)
        started: list[Proc] = []
        try:
            if deployment == "serve":
                proc, base = await procs.api(worker=True)
                started.append(proc)
            else:
                proc, base = await procs.api(worker=False)
                started.append(proc)
                started += await procs.workers(1)
            worker = started[-1]
            async with httpx.AsyncClient(
                base_url=base, headers=world.headers(), timeout=120
            ) as http:
                cold = await one_job(http, probe, world, bodies["valid"], opts.poll, worker)
                figures: dict[str, Any] = {"cold": {k: _round(v) for k, v in vars(cold).items()}}
                for name in ("valid", "invalid10"):
                    runs = [
                        await one_job(http, probe, world, bodies[name], opts.poll, worker)
                        for _ in range(opts.repeat)
                    ]
                    figures[name] = _stats(runs)
                results[deployment] = figures
        finally:
            for proc in reversed(started):
                procs.stop(proc)
    return results


# --- phase 2: raw insert of the same reward rows -------------------------------------------------


def reward_rows(world: World, job_id: str, now: datetime) -> list[dict[str, Any]]:
    """The rows the processor writes for one all-valid job: same columns, same value shapes."""
    from bestow.kit.ids import new_id

    return [
        {
            "id": new_id("rwd"),
            "client_id": world.client_id,
            "merchant_id": world.merchant_id,
            "member_id": member_id,
            "campaign_id": world.campaign_id,
            "variant_id": world.variant_id,
            "template_id": world.template_id,
            "job_id": job_id,
            "identifier_index": index,
            "kind": world.template_kind,
            "state": "active",
            "valid_from": world.valid_from,
            "valid_to": world.valid_to,
            "created_at": now,
            "revoked_at": None,
        }
        for index, member_id in enumerate(world.member_ids[:JOB_SIZE])
    ]


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores a UTC datetime in SQLite: naive, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def raw_insert(world: World, batches: int) -> dict[str, Any]:
    from bestow.kit.db import utcnow
    from bestow.models import IssuedReward

    columns = [c.name for c in IssuedReward.__table__.columns]
    prefix = f"job_raw{uuid.uuid4().hex[:8]}_"
    elapsed = 0.0
    client_cpu = 0.0
    server_cpu: float | None = None
    rows_total = 0
    if world.url.startswith("sqlite"):
        conn = sqlite3.connect(_sqlite_path(world.url), timeout=30, isolation_level=None)
        try:
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            sql = (
                f"INSERT INTO issued_rewards ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})"
            )
            for b in range(batches):
                rows = reward_rows(world, f"{prefix}{b}", utcnow())
                records = [tuple(_sqlite_value(r[c]) for c in columns) for r in rows]
                start, cpu = time.perf_counter(), time.process_time()
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, records)
                conn.execute("COMMIT")
                elapsed += time.perf_counter() - start
                client_cpu += time.process_time() - cpu
                rows_total += len(records)
            conn.execute("DELETE FROM issued_rewards WHERE job_id LIKE ?", (prefix + "%",))
        finally:
            conn.close()
        method = "sqlite3 executemany"
    else:
        import asyncpg  # type: ignore[import-untyped]

        pg = await asyncpg.connect(pg_dsn(world.url.replace("+asyncpg", "")))
        try:
            backend = pg.get_server_pid()
            backend_before = proc_cpu(backend)
            for b in range(batches):
                rows = reward_rows(world, f"{prefix}{b}", utcnow())
                records = [tuple(r[c] for c in columns) for r in rows]
                start, cpu = time.perf_counter(), time.process_time()
                async with pg.transaction():
                    await pg.copy_records_to_table(
                        "issued_rewards", records=records, columns=columns
                    )
                elapsed += time.perf_counter() - start
                client_cpu += time.process_time() - cpu
                rows_total += len(records)
            backend_after = proc_cpu(backend)
            if backend_before is not None and backend_after is not None:
                server_cpu = backend_after - backend_before
            await pg.execute("DELETE FROM issued_rewards WHERE job_id LIKE $1", prefix + "%")
            await pg.execute("VACUUM ANALYZE issued_rewards")
        finally:
            await pg.close()
        method = "asyncpg copy_records_to_table"
    return {
        "method": method,
        "rows": rows_total,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows_total / elapsed) if elapsed else None,
        "rows_per_transaction": JOB_SIZE,
        "client_cpu_us_per_row": round(client_cpu / rows_total * 1e6, 1) if rows_total else None,
        "db_cpu_us_per_row": (
            round(server_cpu / rows_total * 1e6, 1) if server_cpu and rows_total else None
        ),
    }


# --- phase 3: sustained --------------------------------------------------------------------------


async def sustained(
    opts: Options,
    procs: Processes,
    probe: Probe,
    world: World,
    payload: Payload,
    worker_count: int,
) -> dict[str, Any]:
    print(f"  sustained: {opts.jobs} jobs, {worker_count} worker process(es) ...", flush=True)
    api, base = await procs.api(worker=False)
    ids: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=base, headers=world.headers(), timeout=120) as http:
            start = time.perf_counter()
            for _ in range(opts.jobs):
                ids.append(await submit(http, world, payload))
            submit_s = time.perf_counter() - start
        workers: list[Proc] = []
        try:
            spawned = time.perf_counter()
            workers = await procs.workers(worker_count)
            cpu_before = procs_cpu(workers)
            db_before = await probe.backend_cpu()
            load_before = os.getloadavg()[0]
            deadline = spawned + opts.timeout
            while (done := await probe.finished(ids)) < len(ids):
                if time.perf_counter() > deadline:
                    raise BenchFailed(
                        f"{done} of {len(ids)} jobs finished in {opts.timeout} s "
                        f"({worker_count} workers)"
                    )
                check_alive(workers)
                await asyncio.sleep(0.1)
            seen = time.time()
            wall_s = time.perf_counter() - spawned
            cpu_after = procs_cpu(workers)
            db_after = await probe.backend_cpu()
            load_after = os.getloadavg()[0]
        finally:
            for proc in reversed(workers):
                procs.stop(proc)
    finally:
        procs.stop(api)
    rows = await probe.jobs(ids)
    for row in rows:
        check(row, payload)
    first = min(r.started_at for r in rows if r.started_at is not None)
    span = seen - first.timestamp()
    rewards = sum(r.success_count for r in rows)
    stored = await probe.rewards_of(ids)
    if stored != rewards:
        raise WrongResult(f"{stored} issued_rewards rows for {rewards} rewards counted")
    worker_cpu = cpu_delta(cpu_before, cpu_after)
    db_cpu = cpu_delta(db_before, db_after) if db_after else None
    return {
        "workers": worker_count,
        "jobs": len(ids),
        "rewards": rewards,
        "submit_s": round(submit_s, 2),
        "submit_jobs_per_s": round(len(ids) / submit_s, 2),
        "span_s": round(span, 2),
        "wall_s": round(wall_s, 2),
        "rewards_per_s": round(rewards / span) if span else None,
        "rewards_per_s_wall": round(rewards / wall_s) if wall_s else None,
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_cpu_us_per_reward": round(worker_cpu / rewards * 1e6, 1) if rewards else None,
        "db_cpu_s": None if db_cpu is None else round(db_cpu, 2),
        "db_cpu_us_per_reward": (
            None if db_cpu is None or not rewards else round(db_cpu / rewards * 1e6, 1)
        ),
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


# --- report --------------------------------------------------------------------------------------


def _cell(value: float | None, width: int, fmt: str = ".2f") -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"


def table(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [
        "",
        f"Bestow batch issuance, {cfg['database']}, {cfg['cpus']} CPUs, worker concurrency "
        f"{cfg['worker_concurrency']}, worker poll {cfg['worker_poll_seconds']} s, "
        f"client poll {cfg['client_poll_s']} s, load average at start {cfg['load_average']}",
    ]
    if "latency" in report:
        head = (
            f"{'10,000-identifier job, POST -> completed':<42}{'cold':>7}{'median':>8}"
            f"{'min':>7}{'max':>7}{'post':>7}{'queue':>7}{'process':>8}{'wrk cpu':>8}"
            f"{'db cpu':>8}"
        )
        lines += ["", head, "-" * len(head)]
        labels = {"api+worker": "serve --no-worker + 1 worker", "serve": "serve (in-process)"}
        for deployment, figures in report["latency"].items():
            for kind, label in (("valid", "all valid"), ("invalid10", "10% invalid")):
                s = figures[kind]
                cold = _cell(figures["cold"]["total_s"], 7, ".3f") if kind == "valid" else " " * 7
                lines.append(
                    f"{labels[deployment] + ', ' + label:<42}{cold}{s['median_s']:>8.3f}"
                    f"{s['min_s']:>7.3f}{s['max_s']:>7.3f}{s['post_s']:>7.3f}{s['queue_s']:>7.3f}"
                    f"{s['process_s']:>8.3f}{_cell(s['worker_cpu_s'], 8)}{_cell(s['db_cpu_s'], 8)}"
                )
        lines.append(
            "(seconds; post = POST round trip, queue = created -> started, process = started ->"
        )
        lines.append(
            " seen completed; cpu = CPU s of the worker process (with the API when in-process)"
        )
        lines.append(" and of the database backends; medians over the repeats)")
    raw = report.get("raw")
    if raw:
        lines += [
            "",
            f"raw {raw['method']}: {raw['rows_per_s']:,} rows/s ({raw['rows']:,} rows, "
            f"{raw['rows_per_transaction']:,} per transaction; CPU per row: client "
            f"{raw['client_cpu_us_per_row']} us, database {raw['db_cpu_us_per_row']} us)",
        ]
    if report.get("sustained"):
        head = (
            f"{'sustained':<22}{'jobs':>6}{'rewards':>11}{'submit s':>10}{'span s':>8}"
            f"{'wall s':>8}{'rewards/s':>11}{'/ raw':>7}{'wrk us/r':>10}{'db us/r':>9}"
        )
        lines += ["", head, "-" * len(head)]
        for s in report["sustained"]:
            lines.append(
                f"{str(s['workers']) + ' worker process(es)':<22}{s['jobs']:>6}"
                f"{s['rewards']:>11,}{s['submit_s']:>10.1f}{s['span_s']:>8.1f}{s['wall_s']:>8.1f}"
                f"{s['rewards_per_s']:>11,}{_cell(s.get('ratio_to_raw'), 7, '.3f')}"
                f"{_cell(s['worker_cpu_us_per_reward'], 10, '.1f')}"
                f"{_cell(s['db_cpu_us_per_reward'], 9, '.1f')}"
            )
        lines.append(
            "(span = first job started -> all seen completed; wall = from spawning the workers;"
        )
        lines.append(" us/r = CPU microseconds per reward, worker processes and database backends)")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BESTOW_BENCH_PG_URL", DEFAULT_PG_URL),
        help="server where the throw-away database is created (default: %(default)s)",
    )
    parser.add_argument("--jobs", type=int, default=100, help="jobs of the sustained runs")
    parser.add_argument("--repeat", type=int, default=3, help="warm jobs per latency figure")
    parser.add_argument("--workers", default="1,2", help="worker processes per sustained run")
    parser.add_argument("--phases", default=",".join(PHASES), help="any of " + ",".join(PHASES))
    parser.add_argument("--members", type=int, default=JOB_SIZE, help="members to seed")
    parser.add_argument("--poll", type=float, default=0.05, help="client poll interval, s")
    parser.add_argument(
        "--worker-poll-seconds", type=float, help="BESTOW_WORKER_POLL_SECONDS (default: the app's)"
    )
    parser.add_argument("--concurrency", type=int, help="BESTOW_WORKER_CONCURRENCY")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per sustained run, s")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra BESTOW_* setting for the servers and workers (repeatable)",
    )
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy every worker into DIR")
    parser.add_argument("--py-spy", help="py-spy executable (default: from PATH)")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy process logs to DIR")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    try:
        workers = [int(w) for w in args.workers.split(",") if w]
    except ValueError:
        parser.error("--workers is a comma-separated list of integers")
    if not 1 <= args.jobs <= 1000 or not 1 <= args.repeat <= 50:
        parser.error("--jobs must be in [1, 1000] and --repeat in [1, 50]")
    if any(not 1 <= w <= 16 for w in workers):
        parser.error("--workers must be between 1 and 16")
    if args.members < JOB_SIZE:
        parser.error(f"--members must be at least {JOB_SIZE}")
    if not 0.001 <= args.poll <= 5 or not 1 <= args.timeout <= 7200:
        parser.error("--poll must be in [0.001, 5] and --timeout in [1, 7200]")
    settings_env: dict[str, str] = {}
    for item in args.setting:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("BESTOW_"):
            parser.error(f"--setting {item!r}: expected BESTOW_NAME=VALUE")
        settings_env[name] = value
    return Options(
        database=args.database,
        pg_url=args.pg_url,
        jobs=args.jobs,
        repeat=args.repeat,
        workers=workers,
        phases=phases,
        members=args.members,
        poll=args.poll,
        worker_poll_seconds=args.worker_poll_seconds,
        concurrency=args.concurrency,
        timeout=args.timeout,
        profile=args.profile,
        py_spy=args.py_spy,
        profile_rate=args.profile_rate,
        keep_logs=args.keep_logs,
        settings_env=settings_env,
    )


async def run(opts: Options, tmp: Path) -> dict[str, Any]:
    from bestow.config import Settings

    defaults = Settings()
    report: dict[str, Any] = {
        "config": {
            "database": opts.database,
            "cpus": os.cpu_count(),
            "jobs": opts.jobs,
            "job_size": JOB_SIZE,
            "repeat": opts.repeat,
            "workers": opts.workers,
            "worker_concurrency": opts.concurrency or defaults.worker_concurrency,
            "worker_poll_seconds": opts.worker_poll_seconds or defaults.worker_poll_seconds,
            "client_poll_s": opts.poll,
            "members": opts.members,
            "settings": opts.settings_env,
            "load_average": round(os.getloadavg()[0], 2),
        }
    }
    var_dir = tmp / "var"
    var_dir.mkdir()
    logs = tmp / "logs"
    logs.mkdir()
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
    try:
        async with database(opts.database, tmp, opts.pg_url) as url:
            print(f"  seeding {opts.members:,} members ...", flush=True)
            world = await seed(url, var_dir, opts.members)
            bodies = payloads(world)
            probe = Probe(url)
            await probe.open()
            try:
                with stopping(Processes(opts, world, var_dir, logs)) as procs:
                    if "latency" in opts.phases:
                        report["latency"] = await latency(opts, procs, probe, world, bodies)
                    if "raw" in opts.phases:
                        print(f"  raw insert: {opts.jobs * JOB_SIZE:,} rows ...", flush=True)
                        report["raw"] = await raw_insert(world, opts.jobs)
                    if "sustained" in opts.phases:
                        report["sustained"] = []
                        for count in opts.workers:
                            result = await sustained(
                                opts, procs, probe, world, bodies["valid"], count
                            )
                            raw = report.get("raw")
                            if raw and raw["rows_per_s"] and result["rewards_per_s"]:
                                ratio = result["rewards_per_s"] / raw["rows_per_s"]
                                result["ratio_to_raw"] = round(ratio, 3)
                            report["sustained"].append(result)
            finally:
                await probe.close()
    finally:
        if opts.keep_logs is not None:
            shutil.copytree(logs, opts.keep_logs, dirs_exist_ok=True)
    return report


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    print(
        f"bench: batch issuance on {opts.database}, phases {','.join(opts.phases)}, "
        f"{opts.jobs} sustained jobs, workers {opts.workers}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bestow-bench-issuance-") as tmp:
        try:
            report = asyncio.run(run(opts, Path(tmp)))
        except (BenchFailed, WrongResult) as exc:
            return failure_status(exc)
    print(table(report))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
