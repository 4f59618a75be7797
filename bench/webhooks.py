"""Webhook delivery: deliveries/s to a local receiver, and issue-to-delivered latency.

Everything runs against fresh databases (PostgreSQL: ``CREATE DATABASE bestow_bench_<random>`` on
``--pg-url``, dropped at the end; SQLite: a temporary file), migrated with
``bestow.kit.migrate.upgrade``, and real processes on 127.0.0.1: the receiver
(``tests/fixtures/receiver.py``, uvloop + httptools, counting requests, answering 200 at once),
``bestow worker`` processes (each runs the webhook dispatcher) and, for the latency phase,
``bestow serve --no-worker``.

0. ``capacity`` (once): the receiver alone under a raw-asyncio keep-alive load generator (uvloop,
   ``--connections`` connections, one request in flight each, the same POST body and headers as a
   webhook), and ``bestow.webhooks.dispatcher.send`` alone (aiohttp, signing, the dispatcher's
   connector settings, same in-flight limit, no database) in this process.
1. ``throughput``, per database and per ``--workers`` count: a fresh partner client with one
   endpoint on a fresh receiver; the workers are started and waited for (``worker.started``),
   then ``--events`` outbox events of type ``reward.issued`` (a ~780-byte payload shaped as
   ``bestow.issuance.processor._write`` writes it) are committed in one bulk insert, and the
   deliveries are counted every 0.2 s until all are ``succeeded``. deliveries/s = events / (commit
   -> all seen succeeded): process start-up is not counted. Beside it: the receiver's own rate
   (first -> last request), CPU microseconds per delivery (workers, PostgreSQL backends,
   receiver, counted from the commit), and where the time goes, from the rows: fan-out
   (deliveries' ``created_at``), sends (attempts' ``created_at`` = start of each request,
   ``latency_ms``), records (deliveries' ``updated_at``, one value per record batch), the mean
   number of requests in flight (sum of latencies / send span).
2. ``latency``, per database and per ``--workers`` count: a partner client with ``--job-size``
   members, a campaign and one endpoint on a fresh receiver; a job of ``--job-size`` identifiers
   is issued through ``POST /partner/campaigns/issue``; the job's row is polled every 0.05 s until
   ``completed``, then the deliveries every 0.2 s until all of its ``job-size + 1`` events
   (``reward.issued`` each, one ``reward_batch.completed``) are ``succeeded``. Printed: the job's
   time (POST -> seen completed) and the extra seconds until everything was delivered.
3. ``costs``, per database: the dispatcher's own functions run in this process (a standard asyncio
   loop, as in a worker) one step at a time over ``--costs-events`` deliveries: ``fan_out`` until
   nothing is left, ``claim`` (the concurrency per call) until nothing is due, ``send`` (the
   concurrency in flight), ``record`` (batches of the concurrency). Wall and CPU microseconds per
   delivery of each step, for this process and the PostgreSQL backends, and the cost of an empty
   ``fan_out``. CPU per delivery hardly depends on other load on the machine; rates do.

Output: the figures with their ratios to the receiver's capacity and to the aim (1,000
deliveries/s), then one JSON line with every figure. Exit status 2 when a process does not start
or a run does not finish in time, 1 when the receiver did not get exactly one request per
delivery or an attempt failed, 0 otherwise. Every process started is stopped (SIGINT, then
SIGKILL) and every database dropped, also on Ctrl-C or SIGTERM.

    .venv/bin/python bench/webhooks.py [--events 20000] [--workers 1,2]
        [--databases postgresql,sqlite] [--phases capacity,throughput,latency,costs] [--quick]
        [--concurrency N] [--setting BESTOW_NAME=VALUE] [--profile DIR] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import benchkit
import httpx
from benchkit import (
    ADMIN_TOKEN,
    DEFAULT_PG_URL,
    HOST,
    SECRET_KEY,
    START_TIMEOUT_SECONDS,
    BenchFailed,
    DirectReader,
    Proc,
    WrongResult,
    bench_dirs,
    bestow_env,
    check_alive,
    cprofiled,
    cpu_delta,
    database,
    failure_status,
    print_report,
    proc_cpu,
    stopping,
    tail,
    venv_script,
)

from issuance import World, seed

REPOSITORY = Path(__file__).resolve().parents[1]
RECEIVER = REPOSITORY / "tests" / "fixtures" / "receiver.py"
AIM = 1000.0
"""Deliveries per second the dispatcher should reach."""
DATABASES = ("postgresql", "sqlite")
PHASES = ("capacity", "throughput", "latency", "costs")
COUNT_POLL_SECONDS = 0.2
JOB_POLL_SECONDS = 0.05
JOB_TIMEOUT_SECONDS = 300.0
QUICK_EVENTS = 1000
WORKER_ON_UVLOOP = (
    "import asyncio, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
    "from bestow.cli.main import app; app(prog_name='bestow')"
)
"""``bestow worker`` with uvloop's event loop (``--uvloop``): a candidate change measured from
the outside; the command itself runs on the standard loop."""
QUICK_JOB_SIZE = 1000


@dataclass
class Options:
    events: int
    job_size: int
    costs_events: int
    workers: list[int]
    databases: list[str]
    phases: list[str]
    pg_url: str
    connections: int
    capacity_seconds: float
    timeout: float
    concurrency: int | None
    settings_env: dict[str, str]
    profile: Path | None
    keep_logs: Path | None
    quick: bool
    uvloop: bool = False


# --- databases -----------------------------------------------------------------------------------


def _as_utc(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Row:
    """One attempt of one delivery (times as ``time.time()`` seconds)."""

    fanned_out: float  # the delivery's created_at
    recorded: float  # the delivery's updated_at (its last record)
    sent: float  # the attempt's created_at: when the request started
    latency_ms: int
    success: bool


class Probe(DirectReader):
    """Direct reads of the rows (not through the API): counts, job state, timestamps."""

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """``sql`` with ``$1``-style parameters on both databases."""
        if self._lite is not None:
            for n in range(len(args), 0, -1):
                sql = sql.replace(f"${n}", "?")
            rows = self._lite.execute(sql, args).fetchall()
            self._lite.commit()  # end the read transaction: the next read sees new commits
            return [tuple(r) for r in rows]
        return [tuple(r) for r in await self._pg.fetch(sql, *args)]

    async def counts(self, endpoint_id: str) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT state, count(*) FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY state",
            endpoint_id,
        )
        return {str(state): int(n) for state, n in rows}

    async def succeeded(self, endpoint_id: str) -> int:
        rows = await self._fetch(
            "SELECT count(*) FROM webhook_deliveries "
            "WHERE endpoint_id = $1 AND state = 'succeeded'",
            endpoint_id,
        )
        return int(rows[0][0])

    async def job(self, job_id: str) -> tuple[str, datetime | None, datetime | None, int, int]:
        """(state, created_at, completed_at, success_count, failure_count)."""
        rows = await self._fetch(
            "SELECT state, created_at, completed_at, success_count, failure_count "
            "FROM issuance_jobs WHERE id = $1",
            job_id,
        )
        state, created, completed, successes, failures = rows[0]
        return str(state), _as_utc(created), _as_utc(completed), int(successes), int(failures)

    async def rows(self, endpoint_id: str) -> list[Row]:
        found = await self._fetch(
            "SELECT d.created_at, d.updated_at, a.created_at, a.latency_ms, a.success "
            "FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id "
            "WHERE d.endpoint_id = $1",
            endpoint_id,
        )
        return [
            Row(
                fanned_out=_stamp(created),
                recorded=_stamp(updated),
                sent=_stamp(sent),
                latency_ms=int(latency),
                success=bool(success),
            )
            for created, updated, sent, latency, success in found
        ]


def _stamp(value: Any) -> float:
    moment = _as_utc(value)
    assert moment is not None
    return moment.timestamp()


# --- processes -----------------------------------------------------------------------------------


@dataclass
class ReceiverCount:
    received: int
    first_at: float | None
    last_at: float | None


class Processes(benchkit.BenchProcesses[Options]):
    """Every process the bench starts; ``stop_all`` stops those still running (SIGINT for workers
    and the API, SIGTERM for receivers, then SIGKILL)."""

    def env(self, url: str, **extra: str) -> dict[str, str]:
        env = bestow_env(
            url,
            self.var_dir,
            BESTOW_ENVIRONMENT="sandbox",  # http://127.0.0.1 endpoints are allowed
            BESTOW_WEBHOOK_DISPATCH="true",
        )
        if self.opts.concurrency is not None:
            env["BESTOW_WEBHOOK_CONCURRENCY"] = str(self.opts.concurrency)
        return env | self.opts.settings_env | extra

    async def receiver(self) -> tuple[Proc, str]:
        """A receiver process on a free port; returns it with the URL to deliver to."""
        proc = self.start(
            "receiver", [sys.executable, str(RECEIVER), "--host", HOST, "--port", "0"]
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for line in proc.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    port = json.loads(line).get("listening")
                    if port:
                        return proc, f"http://{HOST}:{port}/hooks"
            if proc.process.poll() is not None:
                raise BenchFailed(f"the receiver exited\n{tail(proc.log)}")
            await asyncio.sleep(0.02)
        raise BenchFailed(f"the receiver did not start in {START_TIMEOUT_SECONDS} s")

    def stop_receiver(self, proc: Proc) -> ReceiverCount:
        self.stop(proc, signal.SIGTERM)
        for line in reversed(proc.log.read_text(errors="replace").splitlines()):
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if "received" in data:
                    return ReceiverCount(data["received"], data["first_at"], data["last_at"])
        raise BenchFailed(f"the receiver printed no count\n{tail(proc.log)}")

    async def workers(self, url: str, count: int, label: str) -> list[Proc]:
        """``count`` ``bestow worker`` processes, each waited for (``worker.started``); under
        cProfile with ``--profile``."""
        commands = {}
        for n in range(count):
            command = [venv_script("bestow"), "worker"]
            if self.opts.uvloop:
                command = [sys.executable, "-c", WORKER_ON_UVLOOP, "worker"]
            if self.opts.profile is not None:
                out = self.opts.profile / f"{label}-worker{n + 1}.prof"
                self.profiles.append(out)
                command = cprofiled(command, out)
            commands[f"{label}-worker{n + 1}"] = command
        env = self.env(url, BESTOW_LOG_LEVEL="INFO")  # for worker.started; one line per job
        return await self.start_workers(commands, env)

    async def api(self, url: str) -> tuple[Proc, str]:
        """``bestow serve --no-worker``; returns it with its base URL once ``/healthz`` answers."""
        return await self.serve(self.env(url))

    def stop_signal(self, proc: Proc) -> int:
        return signal.SIGTERM if proc.name == "receiver" else signal.SIGINT


# --- events --------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    from bestow.kit.timefmt import iso as app_iso

    return app_iso(moment) or ""


def campaign_payload(now: datetime) -> dict[str, Any]:
    """What ``bestow.issuance.processor._context`` puts in every event's ``campaign`` (with the
    campaign ``bench/issuance.py`` seeds)."""
    from bestow.kit.ids import new_id

    return {
        "id": new_id("cmp"),
        "name": "Bench campaign",
        "objective": "throughput",
        "start_at": iso(now - timedelta(hours=1)),
        "end_at": iso(now + timedelta(days=30)),
        "redeemable_from": iso(now),
        "redeemable_to": iso(now + timedelta(days=60)),
        "time_zone": "America/New_York",
        "fine_print": "terms apply",
        "variant": {"id": new_id("var"), "name": "Treatment", "reward_template_id": new_id("tpl")},
    }


def outbox_rows(client_id: str, merchant_id: str, count: int) -> list[dict[str, Any]]:
    """``count`` unpublished ``reward.issued`` events shaped as ``processor._write`` writes them."""
    from bestow.issuance import events
    from bestow.kit.db import utcnow
    from bestow.kit.ids import new_guid, new_id
    from bestow.kit.outbox import event_row

    now = utcnow()
    stamp = iso(now)
    job_id = new_id("job")
    campaign = campaign_payload(now)
    expires = campaign["redeemable_to"]
    rows = []
    for index in range(count):
        reward_id = new_id("rwd")
        row = event_row(
            events.REWARD_ISSUED,
            subject_type="reward",
            subject_id=reward_id,
            client_id=client_id,
            merchant_id=merchant_id,
            now=now,
            stamp=stamp,
            data={
                "issuance_job_id": job_id,
                "merchant_id": merchant_id,
                "reward_id": reward_id,
                "identifier": {"type": "email", "index": index},
                "user_id": "mbr_" + new_guid().replace("-", "")[:26],
                "state": "available",
                "expires_at": expires,
                "campaign": campaign,
            },
        )
        rows.append({**row, "published_at": None})  # left for the dispatcher's fan-out
    return rows


# --- phase 0: capacity of the receiver, and of send() alone ---------------------------------------


def _sample_request(port: int) -> tuple[bytes, dict[str, str], bytes]:
    """A webhook's body, its headers as the dispatcher sends them, and the raw request bytes."""
    import orjson

    from bestow.webhooks import signing

    row = outbox_rows("cli_bench", "mch_bench", 1)[0]
    body = orjson.dumps(row["payload"])
    secret = signing.new_secret()
    now = int(time.time())
    headers = {
        "Host": f"{HOST}:{port}",
        "Content-Type": "application/json",
        "User-Agent": "Bestow-Webhooks/bench",
        "webhook-id": row["id"],
        "webhook-timestamp": str(now),
        "webhook-signature": signing.standard_signature([secret], row["id"], now, body),
        "X-Thanx-Signature": signing.thanx_signature(secret, body),
        "Content-Length": str(len(body)),
    }
    head = "POST /hooks HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return body, headers, (head + "\r\n").encode() + body


class _Client(asyncio.Protocol):
    """One keep-alive connection with one request in flight, reading status + Content-Length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("closed by the receiver"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head.split(" ", 2)[1])
        del self.buffer[: end + 4 + length]
        if not self.waiter.done():
            self.waiter.set_result(status)

    async def request(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await asyncio.wait_for(self.waiter, 5.0)


async def _raw_load(port: int, connections: int, warmup: float, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    _, _, request = _sample_request(port)
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(_Client, HOST, port)
        clients.append(client)
    counted = [0, 0]  # requests, errors (non-200)
    measuring = False
    start = time.perf_counter()
    stop_at = start + warmup + seconds

    async def drive(client: _Client) -> None:
        while time.perf_counter() < stop_at:
            status = await client.request(request)
            if measuring:
                counted[0 if status == 200 else 1] += 1

    tasks = [asyncio.create_task(drive(c)) for c in clients]
    await asyncio.sleep(warmup)
    measuring = True
    measured_from = time.perf_counter()
    cpu_from = time.process_time()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - measured_from
    cpu = time.process_time() - cpu_from
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    return {
        "rps": round(counted[0] / elapsed),
        "requests": counted[0],
        "errors": counted[1],
        "seconds": round(elapsed, 2),
        "loadgen_cpu": round(cpu / elapsed, 2),
    }


def receiver_capacity(port: int, connections: int, seconds: float) -> dict[str, Any]:
    """The receiver under the raw generator, on uvloop (as the receiver), in a loop of its own."""
    factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_raw_load(port, connections, min(1.0, seconds / 3), seconds))


async def send_capacity(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """``dispatcher.send`` alone, ``concurrency`` at a time, on this process's (standard) event loop
    as a worker runs it: aiohttp with the dispatcher's connector, signing, no database."""
    import aiohttp

    from bestow.kit.ids import new_id
    from bestow.webhooks import dispatcher, signing, urls

    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    body, _, _ = _sample_request(port)
    secret = signing.new_secret()
    target = dispatcher.Target(
        id="ep_bench",
        url=url,
        enabled=True,
        max_attempts=8,
        headers={},
        secrets=[secret],
        vendor_secret=secret,
    )
    connector = aiohttp.TCPConnector(
        limit=concurrency, resolver=urls.resolver(False), keepalive_timeout=30
    )
    counted = [0, 0]
    stop_at = time.perf_counter() + seconds
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=15),
        auto_decompress=False,
        trust_env=False,
    ) as http:

        async def drive() -> None:
            while time.perf_counter() < stop_at:
                item = dispatcher.Claimed(
                    delivery_id=new_id("dlv"),
                    event_id=new_id("evt"),
                    event_type="reward.issued",
                    attempt_count=1,
                    run_attempts=1,
                    origin="schedule",
                    body=body,
                    target=target,
                )
                outcome = await dispatcher.send(http, item, production=False, timeout=15)
                counted[0 if outcome.success else 1] += 1

        started = time.perf_counter()
        cpu_from = time.process_time()
        await asyncio.gather(*(drive() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_from
    return {
        "rps": round(counted[0] / elapsed),
        "requests": counted[0],
        "errors": counted[1],
        "seconds": round(elapsed, 2),
        "cpu": round(cpu / elapsed, 2),
        "cpu_us_per_request": round(cpu / max(1, counted[0]) * 1e6, 1),
    }


async def capacity(opts: Options, procs: Processes, concurrency: int) -> dict[str, Any]:
    print(
        f"  capacity: receiver alone, {opts.connections} keep-alive connections, "
        f"{opts.capacity_seconds:g} s ...",
        flush=True,
    )
    receiver, url = await procs.receiver()
    try:
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        cpu_before = proc_cpu(receiver.pid) or 0.0
        raw = await asyncio.to_thread(
            receiver_capacity, port, opts.connections, opts.capacity_seconds
        )
        raw["receiver_cpu"] = round(
            ((proc_cpu(receiver.pid) or 0.0) - cpu_before)
            / (raw["seconds"] + min(1.0, opts.capacity_seconds / 3)),
            2,
        )
        print(f"  capacity: dispatcher.send() alone, {concurrency} in flight ...", flush=True)
        sent = await send_capacity(url, concurrency, opts.capacity_seconds)
    finally:
        procs.stop_receiver(receiver)
    return {"receiver": raw, "send_only": sent}


# --- phase 1: deliveries/s -----------------------------------------------------------------------


@dataclass
class DbContext:
    """The bench's own connection to a database: services, bulk inserts, and the probe."""

    url: str
    kind: str
    rt: Any
    probe: Probe
    world: World | None = None
    api: str | None = None
    endpoint_ids: list[str] = field(default_factory=list)


async def new_client(rt: Any) -> tuple[str, str]:
    """A partner client and a merchant it may use: (client id, merchant id)."""
    from bestow.clients import service as clients
    from bestow.kit.actor import Actor
    from bestow.merchants import service as merchants

    actor = Actor("bench")
    suffix = uuid.uuid4().hex[:8]
    async with rt.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session,
            name=f"Webhook Bench {suffix}",
            handle=f"whbench-{suffix}",
            time_zone="America/New_York",
            actor=actor,
        )
        client = await clients.create_client(
            session,
            name=f"webhook-bench-{suffix}",
            scopes=["rewards.issue"],
            rate_limit_tier="unlimited",
            known_tiers=rt.rate_limiter.tier_names(),
            actor=actor,
        )
        await session.commit()
    return client.id, merchant.id


async def new_endpoint(rt: Any, client_id: str, url: str) -> str:
    from bestow.kit.actor import Actor
    from bestow.webhooks import endpoints

    async with rt.db.write_session() as session:
        made = await endpoints.create_endpoint(
            session,
            rt.sealer,
            client_id=client_id,
            url=url,
            actor=Actor("bench"),
            production=False,
            description="bench receiver",
        )
        await session.commit()
    endpoint_id: str = made.endpoint.id
    return endpoint_id


async def drop_endpoint(rt: Any, endpoint_id: str) -> None:
    from bestow.kit.actor import Actor
    from bestow.webhooks import endpoints

    async with rt.db.write_session() as session:
        await endpoints.delete_endpoint(session, endpoint_id=endpoint_id, actor=Actor("bench"))
        await session.commit()


async def insert_events(
    rt: Any, client_id: str, merchant_id: str, count: int
) -> tuple[float, float]:
    """``count`` outbox events committed in one transaction (the rows are built before it starts);
    returns the mean payload size in bytes and ``time.time()`` once the commit returned."""
    import orjson

    from bestow.kit.db import bulk_insert
    from bestow.models import OutboxEvent

    rows = outbox_rows(client_id, merchant_id, count)
    size = statistics.fmean(len(orjson.dumps(r["payload"])) for r in rows[:100])
    async with rt.db.write_session() as session:
        for start in range(0, len(rows), 10_000):
            await bulk_insert(session, OutboxEvent.__table__, rows[start : start + 10_000])
        await session.commit()
        committed = time.time()
    return size, committed


def _spread(values: list[float], t0: float) -> dict[str, float]:
    return {"first_s": round(min(values) - t0, 3), "last_s": round(max(values) - t0, 3)}


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def breakdown(rows: list[Row], t0: float) -> dict[str, Any]:
    """Where the time of a run went, from the delivery and attempt rows (seconds from ``t0``)."""
    if not rows:
        return {}
    sends = [r.sent for r in rows]
    send_span = max(sends) - min(sends)
    records = {r.recorded for r in rows}
    fanouts = {r.fanned_out for r in rows}
    in_flight_s = sum(r.latency_ms for r in rows) / 1000
    queue = [r.sent - r.fanned_out for r in rows]
    latency = [float(r.latency_ms) for r in rows]
    lag = [r.recorded - r.sent - r.latency_ms / 1000 for r in rows if r.success]
    return {
        "attempts": len(rows),
        "failed_attempts": sum(1 for r in rows if not r.success),
        "fan_out": _spread([r.fanned_out for r in rows], t0) | {"batches": len(fanouts)},
        "sends": _spread(sends, t0)
        | {"rate_per_s": round(len(rows) / send_span) if send_span > 0 else None},
        "records": _spread([r.recorded for r in rows], t0)
        | {"batches": len(records), "mean_batch": round(len(rows) / len(records), 1)},
        "mean_in_flight": round(in_flight_s / send_span, 2) if send_span > 0 else None,
        "request_ms": {
            "p50": _pct(latency, 0.5),
            "p90": _pct(latency, 0.9),
            "p99": _pct(latency, 0.99),
            "max": max(latency),
        },
        "fan_out_to_send_s": {
            "p50": round(_pct(queue, 0.5), 3),
            "p99": round(_pct(queue, 0.99), 3),
        },
        "response_to_record_s": {
            "p50": round(_pct(lag, 0.5), 3) if lag else None,
            "p99": round(_pct(lag, 0.99), 3) if lag else None,
        },
    }


async def wait_delivered(
    probe: Probe, endpoint_id: str, expected: int, workers: list[Proc], timeout: float
) -> float:
    """Poll until ``expected`` deliveries of the endpoint succeeded; returns ``time.time()``."""
    deadline = time.monotonic() + timeout
    while True:
        done = await probe.succeeded(endpoint_id)
        if done >= expected:
            return time.time()
        check_alive(workers)
        if time.monotonic() > deadline:
            counts = await probe.counts(endpoint_id)
            raise BenchFailed(f"{done} of {expected} delivered in {timeout:g} s: {counts}")
        await asyncio.sleep(COUNT_POLL_SECONDS)


def verify(label: str, counts: dict[str, int], got: ReceiverCount, expected: int) -> list[str]:
    """Problems of a run: failed deliveries, requests missing or repeated."""
    problems = []
    if counts.get("succeeded", 0) != expected or len(counts) != 1:
        problems.append(f"{label}: deliveries {counts}, expected {expected} succeeded")
    if got.received != expected:
        problems.append(f"{label}: the receiver got {got.received} requests for {expected}")
    return problems


async def throughput(
    opts: Options, procs: Processes, db: DbContext, worker_count: int
) -> dict[str, Any]:
    """Workers started and ready (idle), then the events committed at once; the clock runs from
    that commit, so process start-up is not counted, and CPU is counted from the same moment."""
    label = f"{db.kind}-throughput-{worker_count}w"
    print(
        f"  throughput: {db.kind}, {opts.events:,} events, {worker_count} worker(s) ...", flush=True
    )
    client_id, merchant_id = await new_client(db.rt)
    receiver, url = await procs.receiver()
    workers: list[Proc] = []
    try:
        endpoint_id = await new_endpoint(db.rt, client_id, url)
        spawned = time.time()
        workers = await procs.workers(db.url, worker_count, label)
        ready = time.time()
        await asyncio.sleep(0.5)  # let the workers finish starting up (connections, first polls)
        worker_before = sum(proc_cpu(p.pid) or 0.0 for p in workers)
        receiver_before = proc_cpu(receiver.pid) or 0.0
        db_before = await db.probe.backend_cpu()
        load_before = os.getloadavg()[0]
        inserting = time.time()
        size, t0 = await insert_events(db.rt, client_id, merchant_id, opts.events)
        done = await wait_delivered(db.probe, endpoint_id, opts.events, workers, opts.timeout)
        worker_cpu = sum(proc_cpu(p.pid) or 0.0 for p in workers) - worker_before
        db_after = await db.probe.backend_cpu()
        receiver_cpu = (proc_cpu(receiver.pid) or 0.0) - receiver_before
        load_after = os.getloadavg()[0]
    finally:
        for proc in reversed(workers):
            procs.stop(proc)
        got = procs.stop_receiver(receiver)
    counts = await db.probe.counts(endpoint_id)
    rows = await db.probe.rows(endpoint_id)
    # No fan-out can precede the commit: a first fan-out stamped earlier means this process
    # resumed late after the commit (a loaded machine); the fan-out is then the better clock.
    t0 = min([t0, *(r.fanned_out for r in rows)])
    span = done - t0
    db_cpu = cpu_delta(db_before, db_after) if db_after else None
    receiver_span = (got.last_at or 0) - (got.first_at or 0)
    per = 1e6 / opts.events
    wall = done - inserting
    return {
        "workers": worker_count,
        "events": opts.events,
        "payload_bytes": round(size),
        "startup_s": round(ready - spawned, 2),
        "insert_s": round(t0 - inserting, 2),
        "span_s": round(span, 2),
        "deliveries_per_s": round(opts.events / span),
        "receiver_per_s": round(got.received / receiver_span) if receiver_span > 0 else None,
        "received": got.received,
        "counts": counts,
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_cpu_us": round(worker_cpu * per),
        "db_cpu_us": None if db_cpu is None else round(db_cpu * per),
        "receiver_cpu_us": round(receiver_cpu * per),
        "worker_cores": round(worker_cpu / wall, 2),
        "db_cores": None if db_cpu is None else round(db_cpu / wall, 2),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "breakdown": breakdown(rows, t0),
        "problems": verify(label, counts, got, opts.events),
    }


# --- phase 3: the cost of each step, one step at a time -----------------------------------------


def _own_cpu() -> float:
    """CPU seconds of this process, every thread (aiosqlite runs SQLite in one)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def costs(opts: Options, procs: Processes, db: DbContext, concurrency: int) -> dict[str, Any]:
    """The dispatcher's steps run in this process (a standard asyncio loop, as a worker runs them),
    one after the other over the same deliveries: every event fanned out, then every delivery
    claimed (``concurrency`` per claim), sent (``concurrency`` in flight) and recorded
    (``concurrency`` outcomes per batch). CPU per delivery of each step, for this process and for
    the PostgreSQL backends: these hardly depend on other load, unlike the rates."""
    import aiohttp

    from bestow.webhooks import dispatcher, urls

    count = opts.costs_events
    print(f"  costs: {db.kind}, {count:,} deliveries, one step at a time ...", flush=True)
    client_id, merchant_id = await new_client(db.rt)
    receiver, url = await procs.receiver()
    steps: dict[str, dict[str, float | None]] = {}

    async def measure(name: str, work: Any) -> Any:
        db_before = await db.probe.backend_cpu()
        cpu = _own_cpu()
        start = time.perf_counter()
        result = await work
        wall = time.perf_counter() - start
        cpu = _own_cpu() - cpu
        db_after = await db.probe.backend_cpu()
        db_cpu = cpu_delta(db_before, db_after) if db_after else None
        steps[name] = {
            "wall_us": round(wall / count * 1e6),
            "cpu_us": round(cpu / count * 1e6),
            "db_cpu_us": None if db_cpu is None else round(db_cpu / count * 1e6),
        }
        return result

    try:
        endpoint_id = await new_endpoint(db.rt, client_id, url)
        await insert_events(db.rt, client_id, merchant_id, count)

        async def fan_out_all() -> None:
            while await dispatcher.fan_out(db.rt.db):
                pass

        await measure("fan_out", fan_out_all())
        empty_cpu = _own_cpu()
        empty_start = time.perf_counter()
        for _ in range(20):
            await dispatcher.fan_out(db.rt.db)
        empty = {
            "wall_ms": round((time.perf_counter() - empty_start) / 20 * 1000, 2),
            "cpu_ms": round((_own_cpu() - empty_cpu) / 20 * 1000, 2),
        }

        async def claim_all() -> list[Any]:
            items: list[Any] = []
            while claimed := await dispatcher.claim(
                db.rt.db,
                db.rt.sealer,
                worker_id="bench-costs",
                limit=concurrency,
                lease=timedelta(seconds=600),
            ):
                items += claimed
            return items

        items = await measure("claim", claim_all())
        connector = aiohttp.TCPConnector(
            limit=concurrency, resolver=urls.resolver(False), keepalive_timeout=30
        )
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=15),
            auto_decompress=False,
            trust_env=False,
        ) as http:
            gate = asyncio.Semaphore(concurrency)

            async def send_one(item: Any) -> Any:
                async with gate:
                    return await dispatcher.send(http, item, production=False, timeout=15)

            async def send_all() -> list[Any]:
                return list(await asyncio.gather(*(send_one(i) for i in items)))

            outcomes = await measure("send", send_all())

        async def record_all() -> None:
            for start in range(0, len(outcomes), concurrency):
                batch = outcomes[start : start + concurrency]
                await dispatcher.record(db.rt.db, batch, worker_id="bench-costs")

        await measure("record", record_all())
    finally:
        got = procs.stop_receiver(receiver)
    counts = await db.probe.counts(endpoint_id)
    total_cpu = sum(s["cpu_us"] or 0 for s in steps.values())
    total_db = (
        None
        if any(s["db_cpu_us"] is None for s in steps.values())
        else sum(s["db_cpu_us"] or 0 for s in steps.values())
    )
    return {
        "deliveries": count,
        "batch": concurrency,
        "steps": steps,
        "empty_fan_out": empty,
        "cpu_us": total_cpu,
        "db_cpu_us": total_db,
        "per_core_ceiling": round(1e6 / total_cpu) if total_cpu else None,
        "problems": verify(f"{db.kind}-costs", counts, got, count),
    }


# --- phase 2: issue -> delivered -----------------------------------------------------------------


def issue_body(world: World, size: int) -> bytes:
    identifiers = [{"type": "email", "value": e} for e in world.emails[:size]]
    return json.dumps(
        {
            "campaign_id": world.campaign_id,
            "merchant_id": world.merchant_id,
            "variant_id": world.variant_id,
            "identifiers": identifiers,
        }
    ).encode()


async def latency(
    opts: Options, procs: Processes, db: DbContext, worker_count: int, var_dir: Path
) -> dict[str, Any]:
    label = f"{db.kind}-latency-{worker_count}w"
    print(
        f"  latency: {db.kind}, {opts.job_size:,}-identifier job, {worker_count} worker(s) ...",
        flush=True,
    )
    if db.world is None:
        print(f"  seeding {opts.job_size:,} members ...", flush=True)
        db.world = await seed(db.url, var_dir, opts.job_size)
        _, db.api = await procs.api(db.url)
    world = db.world
    assert db.api is not None
    for old in db.endpoint_ids:  # the previous runs' receivers are gone
        await drop_endpoint(db.rt, old)
    db.endpoint_ids.clear()
    expected = opts.job_size + 1
    body = issue_body(world, opts.job_size)
    receiver, url = await procs.receiver()
    workers: list[Proc] = []
    try:
        endpoint_id = await new_endpoint(db.rt, world.client_id, url)
        db.endpoint_ids.append(endpoint_id)
        workers = await procs.workers(db.url, worker_count, label)
        async with httpx.AsyncClient(base_url=db.api, headers=world.headers(), timeout=120) as http:
            posted_at = time.time()
            response = await http.post("/partner/campaigns/issue", content=body)
            post_s = time.time() - posted_at
        if response.status_code != 202:
            raise BenchFailed(
                f"POST /partner/campaigns/issue: {response.status_code} {response.text}"
            )
        job_id = response.json()["issuance_job"]["id"]
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while (job := await db.probe.job(job_id))[0] not in ("completed", "failed"):
            check_alive(workers)
            if time.monotonic() > deadline:
                raise BenchFailed(f"job {job_id} not finished in {JOB_TIMEOUT_SECONDS} s")
            await asyncio.sleep(JOB_POLL_SECONDS)
        completed_seen = time.time()
        delivered_by_then = await db.probe.succeeded(endpoint_id)
        done = await wait_delivered(db.probe, endpoint_id, expected, workers, opts.timeout)
    finally:
        for proc in reversed(workers):
            procs.stop(proc)
        got = procs.stop_receiver(receiver)
    state, created, completed, successes, failures = job
    counts = await db.probe.counts(endpoint_id)
    rows = await db.probe.rows(endpoint_id)
    problems = verify(label, counts, got, expected)
    if (state, successes, failures) != ("completed", opts.job_size, 0):
        problems.append(f"{label}: job {job_id} {state}, {successes} issued, {failures} failed")
    return {
        "workers": worker_count,
        "job_size": opts.job_size,
        "events": expected,
        "post_s": round(post_s, 3),
        "job_s": round(completed_seen - posted_at, 3),
        "job_row_s": round((completed - created).total_seconds(), 3)
        if completed and created
        else None,
        "delivered_at_completion": delivered_by_then,
        "extra_s": round(done - completed_seen, 3),
        "extra_receiver_s": round((got.last_at or completed_seen) - completed_seen, 3),
        "total_s": round(done - posted_at, 3),
        "received": got.received,
        "counts": counts,
        "breakdown": breakdown(rows, posted_at),
        "problems": problems,
    }


# --- report --------------------------------------------------------------------------------------


def _ratio(value: float | None, base: float | None) -> str:
    return "-" if not value or not base else f"{value / base:.3f}"


def report_lines(report: dict[str, Any]) -> list[str]:
    cfg = report["config"]
    lines = [
        "",
        f"Bestow webhook delivery, {cfg['cpus']} CPUs, webhook concurrency {cfg['concurrency']} "
        f"per worker, poll {cfg['poll_seconds']} s, load average at start {cfg['load_average']}"
        + (", workers and this process on uvloop (--uvloop)" if cfg["uvloop"] else ""),
    ]
    cap = report.get("capacity")
    receiver_rps = cap["receiver"]["rps"] if cap else None
    if cap:
        r, s = cap["receiver"], cap["send_only"]
        lines += [
            "",
            f"receiver alone (raw keep-alive POSTs, {cfg['connections']} connections): "
            f"{r['rps']:,} req/s (receiver CPU {r['receiver_cpu']}, load generator CPU "
            f"{r['loadgen_cpu']}, {r['errors']} errors)",
            f"dispatcher.send() alone (aiohttp + signing, {cfg['concurrency']} in flight, one "
            f"process, no database): {s['rps']:,} req/s, {s['cpu_us_per_request']} us CPU per "
            f"request ({s['errors']} errors)",
            f"aim: {AIM:,.0f} deliveries/s",
        ]
    for kind in cfg["databases"]:
        runs = [r for r in report.get("throughput", []) if r["database"] == kind]
        if runs:
            head = (
                f"{kind + ' deliveries/s':<22}{'events':>8}{'span s':>8}{'deliv/s':>9}"
                f"{'recv/s':>8}{'/ aim':>7}{'/ recv':>8}{'wrk us':>8}{'db us':>7}{'rcv us':>8}"
                f"{'wrk cores':>10}"
            )
            lines += ["", head, "-" * len(head)]
            for r in runs:
                lines.append(
                    f"{str(r['workers']) + ' worker(s)':<22}{r['events']:>8,}{r['span_s']:>8.1f}"
                    f"{r['deliveries_per_s']:>9,}{r['receiver_per_s'] or 0:>8,}"
                    f"{_ratio(r['deliveries_per_s'], AIM):>7}"
                    f"{_ratio(r['deliveries_per_s'], receiver_rps):>8}"
                    f"{r['worker_cpu_us']:>8}{_or_dash(r['db_cpu_us']):>7}"
                    f"{r['receiver_cpu_us']:>8}{r['worker_cores']:>10.2f}"
                )
            lines.append(
                "(span = events committed -> all seen succeeded; recv/s = the receiver's first -> "
                "last request; us = CPU"
            )
            lines.append(
                " microseconds per delivery of the workers, the PostgreSQL backends, the receiver; "
                "wrk cores = worker CPU / (insert + span))"
            )
            for r in runs:
                lines += _breakdown_lines(f"{r['workers']} worker(s)", r["breakdown"])
        jobs = [r for r in report.get("latency", []) if r["database"] == kind]
        if jobs:
            head = (
                f"{kind + ' issue -> delivered':<26}{'post':>7}{'job':>8}{'job row':>9}"
                f"{'sent by then':>14}{'extra':>8}{'extra rcv':>11}{'total':>8}"
            )
            lines += ["", head, "-" * len(head)]
            for r in jobs:
                name = f"{r['workers']} worker(s), {r['events']:,} events"
                lines.append(
                    f"{name:<26}"
                    f"{r['post_s']:>7.2f}{r['job_s']:>8.2f}{r['job_row_s'] or 0:>9.2f}"
                    f"{r['delivered_at_completion']:>14,}{r['extra_s']:>8.2f}"
                    f"{r['extra_receiver_s']:>11.2f}{r['total_s']:>8.2f}"
                )
            lines.append(
                "(seconds; job = POST -> job seen completed; job row = created_at -> completed_at; "
                "sent by then ="
            )
            lines.append(
                " deliveries succeeded when the job was seen completed; extra = job seen completed "
                "-> all"
            )
            lines.append(
                " deliveries seen succeeded; extra rcv = the same to the receiver's last request)"
            )
            for r in jobs:
                lines += _breakdown_lines(
                    f"{r['workers']} worker(s), from the POST", r["breakdown"]
                )
        for r in (r for r in report.get("costs", []) if r["database"] == kind):
            lines += _costs_lines(kind, r)
    problems = [p for r in _runs(report) for p in r["problems"]]
    if problems:
        lines += ["", "PROBLEMS:", *(f"  {p}" for p in problems)]
    return lines


def _runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for phase in ("throughput", "latency", "costs") for r in report.get(phase, [])]


def _costs_lines(kind: str, r: dict[str, Any]) -> list[str]:
    head = f"{kind + ' cost per delivery, us':<34}{'wall':>8}{'process cpu':>13}{'db cpu':>8}"
    lines = ["", head, "-" * len(head)]
    labels = {
        "fan_out": "fan_out (2,000 events per call)",
        "claim": f"claim ({r['batch']} per call)",
        "send": f"send ({r['batch']} in flight)",
        "record": f"record ({r['batch']} per batch)",
    }
    for name, step in r["steps"].items():
        lines.append(
            f"{labels[name]:<34}{step['wall_us']:>8}{step['cpu_us']:>13}"
            f"{_or_dash(step['db_cpu_us']):>8}"
        )
    lines.append(f"{'total':<34}{'':>8}{r['cpu_us']:>13}{_or_dash(r['db_cpu_us']):>8}")
    empty = r["empty_fan_out"]
    lines.append(
        f"(one step at a time in this process, {r['deliveries']:,} deliveries; process CPU "
        f"includes SQLite's thread; an empty fan_out, run before every claim, costs "
        f"{empty['wall_ms']} ms wall and {empty['cpu_ms']} ms CPU; one core at "
        f"{r['cpu_us']} us per delivery delivers at most {r['per_core_ceiling']:,}/s)"
    )
    return lines


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _breakdown_lines(label: str, b: dict[str, Any]) -> list[str]:
    if not b:
        return []
    f, s, r = b["fan_out"], b["sends"], b["records"]
    return [
        f"  {label}: fan-out {f['first_s']:.2f} -> {f['last_s']:.2f} s ({f['batches']} batches); "
        f"sends {s['first_s']:.2f} -> {s['last_s']:.2f} s ({s['rate_per_s'] or 0:,}/s, "
        f"{b['mean_in_flight']} in flight on average); records {r['first_s']:.2f} -> "
        f"{r['last_s']:.2f} s ({r['batches']} batches of {r['mean_batch']})",
        f"    request ms p50 {b['request_ms']['p50']:.0f} p90 {b['request_ms']['p90']:.0f} "
        f"p99 {b['request_ms']['p99']:.0f} max {b['request_ms']['max']:.0f}; fan-out -> send s "
        f"p50 {b['fan_out_to_send_s']['p50']} p99 {b['fan_out_to_send_s']['p99']}; response -> "
        f"record s p50 {b['response_to_record_s']['p50']} p99 {b['response_to_record_s']['p99']}; "
        f"{b['attempts']:,} attempts, {b['failed_attempts']} failed",
    ]


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, help="outbox events per throughput run (20,000)")
    parser.add_argument("--job-size", type=int, help="identifiers of the latency job (10,000)")
    parser.add_argument("--costs-events", type=int, help="deliveries of the costs phase (10,000)")
    parser.add_argument("--workers", default="1,2", help="worker processes per run: 1,2")
    parser.add_argument("--databases", default=",".join(DATABASES), help="postgresql,sqlite")
    parser.add_argument("--phases", default=",".join(PHASES), help="any of " + ",".join(PHASES))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 events, 1 s")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BESTOW_BENCH_PG_URL", DEFAULT_PG_URL),
        help="server where the throw-away databases are created (default: %(default)s)",
    )
    parser.add_argument(
        "--connections", type=int, help="load generator connections (default: the concurrency)"
    )
    parser.add_argument("--capacity-seconds", type=float, help="per capacity measurement (3)")
    parser.add_argument("--timeout", type=float, default=900.0, help="per run, s")
    parser.add_argument("--concurrency", type=int, help="BESTOW_WEBHOOK_CONCURRENCY")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra BESTOW_* setting for the workers and the API (repeatable)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="run every worker under cProfile into DIR"
    )
    parser.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy process logs to DIR")
    parser.add_argument(
        "--uvloop",
        action="store_true",
        help="candidate: run the workers, send() alone and the costs phase on uvloop",
    )
    args = parser.parse_args(argv)
    if args.uvloop and args.profile:
        parser.error("--profile runs the bestow script under cProfile: not with --uvloop")

    def listed(value: str, known: tuple[str, ...], name: str) -> list[str]:
        items = [v for v in value.split(",") if v]
        if unknown := set(items) - set(known):
            parser.error(f"unknown {name}: {', '.join(sorted(unknown))}")
        return items

    try:
        workers = [int(w) for w in args.workers.split(",") if w]
    except ValueError:
        parser.error("--workers is a comma-separated list of integers")
    if not workers or any(not 1 <= w <= 16 for w in workers):
        parser.error("--workers must be between 1 and 16")
    events = args.events or (QUICK_EVENTS if args.quick else 20_000)
    job_size = args.job_size or (QUICK_JOB_SIZE if args.quick else 10_000)
    costs_events = args.costs_events or (QUICK_EVENTS if args.quick else 10_000)
    if not 1 <= events <= 1_000_000 or not 1 <= job_size <= 100_000:
        parser.error("--events must be in [1, 1000000] and --job-size in [1, 100000]")
    settings_env: dict[str, str] = {}
    for item in args.setting:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("BESTOW_"):
            parser.error(f"--setting {item!r}: expected BESTOW_NAME=VALUE")
        settings_env[name] = value
    return Options(
        events=events,
        job_size=job_size,
        costs_events=costs_events,
        workers=workers,
        databases=listed(args.databases, DATABASES, "databases"),
        phases=listed(args.phases, PHASES, "phases"),
        pg_url=args.pg_url,
        connections=args.connections or 0,
        capacity_seconds=args.capacity_seconds or (1.0 if args.quick else 3.0),
        timeout=args.timeout,
        concurrency=args.concurrency,
        settings_env=settings_env,
        profile=args.profile,
        keep_logs=args.keep_logs,
        quick=args.quick,
        uvloop=args.uvloop,
    )


async def run(opts: Options, procs: Processes, tmp: Path) -> dict[str, Any]:
    from bestow.app import build_runtime
    from bestow.config import Settings

    defaults = Settings()
    concurrency = opts.concurrency or int(
        opts.settings_env.get("BESTOW_WEBHOOK_CONCURRENCY", defaults.webhook_concurrency)
    )
    opts.connections = opts.connections or concurrency
    report: dict[str, Any] = {
        "config": {
            "cpus": os.cpu_count(),
            "databases": opts.databases,
            "workers": opts.workers,
            "events": opts.events,
            "job_size": opts.job_size,
            "concurrency": concurrency,
            "poll_seconds": float(
                opts.settings_env.get("BESTOW_WEBHOOK_POLL_SECONDS", defaults.webhook_poll_seconds)
            ),
            "connections": opts.connections,
            "settings": opts.settings_env,
            "load_average": round(os.getloadavg()[0], 2),
            "aim_per_s": AIM,
            "uvloop": opts.uvloop,
        },
        "throughput": [],
        "latency": [],
        "costs": [],
    }
    if "capacity" in opts.phases:
        report["capacity"] = await capacity(opts, procs, concurrency)
    for kind in opts.databases:
        if not {"throughput", "latency", "costs"} & set(opts.phases):
            break
        async with database(kind, tmp, opts.pg_url, sqlite_name="bestow-webhooks.db") as url:
            settings = Settings(
                database_url=url,
                var_dir=procs.var_dir,
                secret_key=SECRET_KEY,
                admin_token=ADMIN_TOKEN,
            )
            rt = build_runtime(settings)
            probe = Probe(url)
            await probe.open()
            db = DbContext(url=url, kind=kind, rt=rt, probe=probe)
            try:
                if "throughput" in opts.phases:
                    for count in opts.workers:
                        result = await throughput(opts, procs, db, count)
                        report["throughput"].append({"database": kind} | result)
                if "latency" in opts.phases:
                    for count in opts.workers:
                        result = await latency(opts, procs, db, count, procs.var_dir)
                        report["latency"].append({"database": kind} | result)
                if "costs" in opts.phases:
                    result = await costs(opts, procs, db, concurrency)
                    report["costs"].append({"database": kind} | result)
            finally:
                procs.stop_all()  # the API, before its database goes
                await probe.close()
                await rt.db.dispose()
    return report


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    print(
        f"bench: webhook delivery, phases {','.join(opts.phases)}, databases "
        f"{','.join(opts.databases)}, {opts.events:,} events, workers {opts.workers}",
        flush=True,
    )
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
    status = 0
    with bench_dirs("bestow-bench-webhooks-", opts.keep_logs) as tmp:
        procs = Processes(opts, tmp / "var", tmp / "logs")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleaned up as Ctrl-C is
        try:
            factory = None
            if opts.uvloop:
                import uvloop

                factory = uvloop.new_event_loop
            with stopping(procs), asyncio.Runner(loop_factory=factory) as runner:
                report = runner.run(run(opts, procs, tmp))
        except (BenchFailed, WrongResult, KeyboardInterrupt) as exc:
            return failure_status(exc)
    print_report(report, report_lines(report), procs.profiles, "the workers")
    if any(r["problems"] for r in _runs(report)):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
