"""Chaos run: processes killed under load, then the invariants that must hold whatever happened.

Two API processes (``bestow serve --no-worker``, each on a port of its own, restarted on the same
port) and two ``bestow worker`` processes on a fresh PostgreSQL database + Redis, the demo data set
(``bestow demo --json``, its clients moved to the ``unlimited`` rate tier), a webhook receiver in
this process (``tests/fixtures/receiver.py``: a real HTTP server recording every delivery), and a
load generator on the SDK (``bestow_client.AsyncBestow``, its retries and idempotency keys) that
issues Partner batch jobs (with duplicate identifiers), voucher orders, loyalty points and
Operator enrollments, single and bulk, round-robin over both APIs.

Meanwhile a chaos task SIGKILLs a worker or an API process at random and restarts it, and cuts the
database once: the full run restarts PostgreSQL itself (``pg_ctlcluster``: never while a test suite
uses the server); ``--quick`` (for CI) cuts a TCP proxy between Bestow and PostgreSQL instead, for
a few seconds, leaving the real service alone.

Then every idempotent request is repeated with its key (the answers must be the first ones), the
jobs and deliveries are waited for, and the invariants are checked from the database:

* no identifier rewarded twice in a job (``issued_rewards`` per job and member);
* every accepted job terminal (issuance jobs, Operator bulk enrollments), its counts those of its
  rows;
* every points balance equal to its ledger (the sum of its transactions);
* every idempotency key mapped to exactly one result (Partner issue keys to one job, voucher order
  keys to one order of the asked quantity, loyalty references to one transaction), the same one
  the client was answered each time;
* every failed issuance job failed for its documented reason (no identifier could be rewarded:
  no error, no success, a failure for each identifier), never for an outage or a kill;
* no points award of one client answered with another client's transaction: two Loyalty clients
  of one programme award the same member under the same ``externalReferenceId`` (``order-N``,
  as two partners' order numbers collide), and every transaction each was answered is its own;
* every outbox event of the load's clients delivered at least once to the receiver, under its
  own id (``webhook-id``);
* no voucher overspent (remaining amount within 0 and its face value, equal to face value minus
  redemptions).

    python bench/chaos.py [--quick] [--seconds 60] [--keep-logs DIR]

Prints the figures (requests, retries seen, kills, invariants PASS/FAIL) and a JSON line; exits 1
on any invariant failure, 2 when the run itself could not be carried out. The processes' logs of a
run that broke an invariant are kept (in ``--keep-logs``, or else ``var/chaos/<time>-seed<seed>``
in the repository) and the path printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import benchkit
import httpx
from benchkit import (
    ADMIN_TOKEN,
    DEFAULT_PG_URL,
    HOST,
    REPOSITORY,
    BenchFailed,
    DirectReader,
    Proc,
    Processes,
    bench_dirs,
    bestow_env,
    free_port,
    venv_script,
)

sys.path.insert(0, str(REPOSITORY))  # tests.fixtures: the receiver and the TCP proxy

from tests.fixtures.proxy import TcpProxy
from tests.fixtures.receiver import Receiver

PG_CLUSTER = ("15", "main")
SETTLE_TIMEOUT_SECONDS = 240.0
MAX_RETRIES = 10
LOCK_LEASE_SECONDS = 60.0  # Settings.idempotency_lock_seconds
SDK_TIMEOUT_SECONDS = 15.0
SECOND_LOYALTY = "loyalty_second"
"""A second Loyalty client of the demo's programme, made by the run (``second_loyalty_client``)."""
KEPT_LOGS = REPOSITORY / "var" / "chaos"
RETRYABLE = {409, 429, 500, 502, 503, 504}


@dataclass
class Options:
    quick: bool
    seconds: float
    concurrency: int
    pg_url: str
    redis_url: str
    keep_logs: Path | None
    seed: int


@dataclass
class Stats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)
    gave_up: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    db_outages: list[str] = field(default_factory=list)

    @property
    def retries_seen(self) -> int:
        retryable = sum(n for status, n in self.statuses.items() if status in RETRYABLE)
        return retryable + sum(self.transport_errors.values())


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts every HTTP exchange the SDK makes (its retries included)."""

    def __init__(self, stats: Stats) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.stats = stats

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.stats.requests += 1
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self.stats.transport_errors[type(exc).__name__] += 1
            raise
        self.stats.statuses[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Ledger:
    """What the load asked and what it was answered, per idempotency key."""

    partner: dict[str, tuple[list[str], set[str]]] = field(default_factory=dict)
    """key -> (identifiers, job ids answered)"""
    vouchers: dict[str, tuple[int, dict[str, set[tuple[str, ...]]]]] = field(default_factory=dict)
    """caller key -> (quantity, order key -> voucher id tuples answered)"""
    loyalty: dict[str, tuple[int, set[str]]] = field(default_factory=dict)
    """external reference -> (amount, transaction ids answered)"""
    shared: dict[tuple[str, str], tuple[int, set[str]]] = field(default_factory=dict)
    """(loyalty client id, external reference shared by both clients) -> (amount, answered)"""
    players: set[str] = field(default_factory=set)
    bulks: set[str] = field(default_factory=set)


# --- processes -----------------------------------------------------------------------------------


class ChaosProcesses(Processes):
    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        super().__init__(logs, REPOSITORY)
        self.env = env
        self.api_ports: list[int] = []
        self.apis: dict[int, Proc] = {}
        self.workers: dict[str, Proc] = {}

    async def start_api(self, port: int) -> Proc:
        command = [venv_script("bestow"), "serve", "--no-worker", "--host", HOST]
        proc = self.start(f"api-{port}", [*command, "--port", str(port)], self.env)
        deadline = time.monotonic() + benchkit.START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=5) as http:
            while time.monotonic() < deadline:
                benchkit.check_alive([proc])
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        self.apis[port] = proc
                        return proc
                await asyncio.sleep(0.1)
        raise BenchFailed(f"api on {port} not ready\n{benchkit.tail(proc.log)}")

    async def start_worker(self, name: str) -> Proc:
        env = self.env | {"BESTOW_LOG_LEVEL": "INFO"}  # worker.started
        [proc] = await self.start_workers({name: [venv_script("bestow"), "worker"]}, env)
        self.workers[name] = proc
        return proc

    def kill(self, proc: Proc) -> None:
        if proc.process.poll() is None:
            proc.process.send_signal(signal.SIGKILL)
            proc.process.wait(benchkit.STOP_TIMEOUT_SECONDS)
        if proc in self.running:
            self.running.remove(proc)


# --- set-up --------------------------------------------------------------------------------------


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [venv_script("bestow"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPOSITORY,
    )
    if done.returncode != 0:
        raise BenchFailed(f"bestow {' '.join(args)}: {done.stdout}\n{done.stderr}")
    return done.stdout


async def register_endpoints(base: str, client_ids: list[str], url: str) -> datetime:
    """One endpoint on the receiver for each client (every event type); the time before."""
    since = datetime.now(UTC)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
        for client_id in client_ids:
            response = await http.post(
                f"/admin/clients/{client_id}/webhook_endpoints",
                json={"url": url, "description": "chaos receiver"},
            )
            if response.status_code != 201:
                raise BenchFailed(f"webhook endpoint: {response.status_code} {response.text}")
    return since


async def second_loyalty_client(base: str, demo: dict[str, Any]) -> dict[str, str]:
    """Another partner of the demo's loyalty programme, with the ad hoc reward feature on."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:

        async def call(method: str, path: str, body: dict[str, Any], status: int) -> Any:
            response = await http.request(method, path, json=body)
            if response.status_code != status:
                raise BenchFailed(f"{method} {path}: {response.status_code} {response.text}")
            return response.json() if response.content else None

        client = await call(
            "POST",
            "/admin/clients",
            {
                "name": f"Chaos Loyalty Partner {uuid.uuid4().hex[:6]}",
                "scopes": ["loyalty.adhoc_reward"],
                "rate_limit_tier": "unlimited",
            },
            201,
        )
        client_id = client["id"]
        secret = await call(
            "POST", f"/admin/clients/{client_id}/credentials", {"kind": "oauth_secret"}, 201
        )
        merchant = {"merchant_id": demo["loyalty"]["merchant_id"]}
        await call("POST", f"/admin/clients/{client_id}/merchants", merchant, 204)
        await call(
            "PUT", f"/admin/clients/{client_id}/features/adhoc_reward", {"enabled": True}, 200
        )
    return {"client_id": client_id, "client_secret": secret["secret"]}


# --- the load ------------------------------------------------------------------------------------


class Load:
    def __init__(self, demo: dict[str, Any], bases: list[str], stats: Stats, rng: random.Random):
        self.demo = demo
        self.stats = stats
        self.ledger = Ledger()
        self.rng = rng
        self.clients: list[Any] = []
        self.surfaces: list[dict[str, Any]] = []
        from bestow_client import AsyncBestow, Budget

        budget = Budget(
            per_second=1000, per_window=10**7, margin=0.0
        )  # the server's tier: unlimited
        partner, vouchers = demo["partner"], demo["vouchers"]
        loyalty, operator = demo["loyalty"], demo["operator"]
        second = demo[SECOND_LOYALTY]
        for base in bases:
            http = httpx.AsyncClient(
                base_url=base, timeout=SDK_TIMEOUT_SECONDS, transport=CountingTransport(stats)
            )
            client = AsyncBestow(
                base_url=base,
                app_name="chaos",
                max_retries=MAX_RETRIES,
                budget=budget,
                http_client=http,
            )
            self.clients.append(client)
            self.surfaces.append(
                {
                    "partner": client.partner(
                        client_id=partner["client_id"], access_token=partner["access_token"]
                    ),
                    "vouchers": client.vouchers(
                        client_id=vouchers["client_id"], client_secret=vouchers["client_secret"]
                    ),
                    "loyalty": client.loyalty(
                        client_id=loyalty["client_id"], client_secret=loyalty["client_secret"]
                    ),
                    SECOND_LOYALTY: client.loyalty(
                        client_id=second["client_id"], client_secret=second["client_secret"]
                    ),
                    "operator": client.operator(
                        operator_id=operator["operator_id"],
                        shared_key=operator["primary_shared_key"],
                    ),
                }
            )
        self.emails = [f"member{n:04d}@pizzacompany.example.com" for n in range(500)]
        self.campaign: Any = None
        self.orders = 0

    def surface(self, name: str) -> Any:
        return self.rng.choice(self.surfaces)[name]

    async def close(self) -> None:
        for client in self.clients:
            await client.close()

    async def prepare(self) -> None:
        partner = self.demo["partner"]
        now = datetime.now(UTC)
        self.campaign = await self.surfaces[0]["partner"].create_campaign(
            merchant_id=partner["merchant_id"],
            name=f"Chaos {uuid.uuid4().hex[:8]}",
            objective="chaos",
            fine_print="terms apply",
            start_at=now - timedelta(hours=1),
            end_at=now + timedelta(days=30),
            redeemable_from=now,
            redeemable_to=now + timedelta(days=60),
            variants=[{"name": "Treatment", "reward_template_id": partner["template_id"]}],
        )

    # each op: once with its key during the run, and again at the end (``replay=True``)

    async def partner_issue(self, key: str, replay: bool = False) -> None:
        if not replay:
            size = self.rng.randint(1, 40)
            identifiers = self.rng.sample(self.emails, size)
            identifiers += identifiers[: self.rng.randint(0, 3)]  # duplicates in one job
            identifiers.append(f"nobody-{uuid.uuid4().hex[:6]}@example.com")
            self.ledger.partner[key] = (identifiers, set())
        identifiers, answered = self.ledger.partner[key]
        variant = self.campaign.variants[0]
        jobs = await self.surface("partner").issue(
            merchant_id=self.demo["partner"]["merchant_id"],
            campaign_id=self.campaign.id,
            variant_id=variant.id,
            identifiers=identifiers,
            idempotency_key=key,
        )
        answered.update(job.id for job in jobs)

    async def voucher_order(self, key: str, replay: bool = False) -> None:
        if not replay:
            self.ledger.vouchers[key] = (self.rng.choice((1, 2, 5, 25)), {})
        quantity, answered = self.ledger.vouchers[key]
        orders = await self.surface("vouchers").issue(
            "DEMO-SGD10", quantity=quantity, idempotency_key=key
        )
        for order in orders:
            ids = tuple(v.id for v in order.vouchers)
            answered.setdefault(order.idempotency_key, set()).add(ids)

    async def loyalty_award(self, reference: str, replay: bool = False) -> None:
        if not replay:
            self.ledger.loyalty[reference] = (self.rng.randint(1, 100), set())
        amount, answered = self.ledger.loyalty[reference]
        loyalty = self.demo["loyalty"]
        award = await self.surface("loyalty").award(
            account_id=loyalty["member"]["account_id"],
            business_unit=loyalty["business_units"][0],
            reward_id=loyalty["reward_ids"][0],
            amount=amount,
            external_reference_id=reference,
        )
        answered.add(award.transaction_id)

    async def shared_award(self, surface: str, reference: str, replay: bool = False) -> None:
        """One client's award under a reference the other client uses too."""
        client_id = self.demo[surface]["client_id"]
        if not replay:
            self.ledger.shared[(client_id, reference)] = (self.rng.randint(1, 100), set())
        amount, answered = self.ledger.shared[(client_id, reference)]
        loyalty = self.demo["loyalty"]
        award = await self.surface(surface).award(
            account_id=loyalty["member"]["account_id"],
            business_unit=loyalty["business_units"][0],
            reward_id=loyalty["reward_ids"][0],
            amount=amount,
            external_reference_id=reference,
        )
        answered.add(award.transaction_id)

    async def colliding_awards(self) -> None:
        """Both Loyalty clients award the member under one order number, at the same time."""
        self.orders += 1
        reference = f"order-{self.orders}"
        await asyncio.gather(
            self.shared_award("loyalty", reference), self.shared_award(SECOND_LOYALTY, reference)
        )

    async def enrol(self) -> None:
        player = f"chaos-{uuid.uuid4().hex[:10]}"
        self.ledger.players.add(player)
        await self.surface("operator").enrol(self.demo["operator"]["reward_id"], player)

    async def enrol_bulk(self) -> None:
        players = [f"chaos-{uuid.uuid4().hex[:10]}" for _ in range(self.rng.randint(5, 150))]
        self.ledger.players.update(players)
        bulks = await self.surface("operator").enrol_bulk(
            self.demo["operator"]["reward_id"], players
        )
        self.ledger.bulks.update(b.id for b in bulks)

    async def one(self) -> None:
        kind = self.rng.choices(
            ("partner", "vouchers", "loyalty", "shared_loyalty", "enrol", "enrol_bulk"),
            (3, 3, 3, 1, 3, 1),
        )[0]
        self.stats.ops[kind] += 1
        key = str(uuid.uuid4())
        try:
            if kind == "partner":
                await self.partner_issue(key)
            elif kind == "vouchers":
                await self.voucher_order(key)
            elif kind == "loyalty":
                await self.loyalty_award(key)
            elif kind == "shared_loyalty":
                await self.colliding_awards()
            elif kind == "enrol":
                await self.enrol()
            else:
                await self.enrol_bulk()
        except Exception as exc:  # the SDK gave up: the replay (or the invariants) will tell
            self.stats.gave_up[kind] += 1
            if len(self.stats.errors) < 20:
                self.stats.errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[:160]}")

    async def run(self, until: float, concurrency: int, outage_done: asyncio.Event) -> None:
        """Lanes of operations until ``until``, and on until the database outage is over."""

        async def lane() -> None:
            while time.monotonic() < until or not outage_done.is_set():
                await self.one()

        await asyncio.gather(*(lane() for _ in range(concurrency)))

    def surface_of(self, client_id: str) -> str:
        return "loyalty" if client_id == self.demo["loyalty"]["client_id"] else SECOND_LOYALTY

    async def replay(self) -> list[str]:
        """Every keyed request once more, after the chaos: what could not be done is done now,
        and what was done answers as the first time. Returns the requests that still failed."""
        failed: list[str] = []
        calls = [
            *((self.partner_issue, key) for key in self.ledger.partner),
            *((self.voucher_order, key) for key in self.ledger.vouchers),
            *((self.loyalty_award, key) for key in self.ledger.loyalty),
            *(
                (functools.partial(self.shared_award, self.surface_of(client_id)), reference)
                for client_id, reference in self.ledger.shared
            ),
        ]
        semaphore = asyncio.Semaphore(8)

        async def again(call: Any, key: str) -> None:
            async with semaphore:
                try:
                    await call(key, replay=True)
                except Exception as exc:
                    name = getattr(call, "__name__", None) or call.func.__name__
                    failed.append(f"{name} {key}: {type(exc).__name__}: {exc}"[:240])

        # A request cut off by a SIGKILL leaves its key locked (in flight) until the lease runs
        # out (``idempotency_lock_seconds``, 60 s): longer than the SDK's retries. Such keys
        # are tried again until the lease must have ended.
        deadline = time.monotonic() + LOCK_LEASE_SECONDS + 15.0
        while True:
            failed.clear()
            await asyncio.gather(*(again(call, key) for call, key in calls))
            in_flight = {f.split(" ", 2)[1].rstrip(":") for f in failed if "IN_PROGRESS" in f}
            if not in_flight or time.monotonic() > deadline:
                return failed
            calls = [(call, key) for call, key in calls if key in in_flight]
            await asyncio.sleep(10.0)


# --- chaos ---------------------------------------------------------------------------------------


async def restart_postgres() -> None:
    version, cluster = PG_CLUSTER
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise BenchFailed(f"{' '.join(command)}: {out.decode(errors='replace')}")


QUIET_WAIT_SECONDS = 600.0


async def server_in_use(reader: Reader) -> str | None:
    """Why restarting PostgreSQL now would hurt someone else (a test run, another database's
    clients), or ``None``: it is never restarted under a running test suite."""
    others = await reader.fetch(
        "SELECT DISTINCT datname FROM pg_stat_activity WHERE datname IS NOT NULL "
        "AND datname NOT IN (current_database(), 'postgres') AND pid <> pg_backend_pid()"
    )
    if others:
        return "clients on " + ", ".join(sorted(r[0] for r in others))
    pgrep = await asyncio.create_subprocess_exec(
        "pgrep", "-f", "pytest", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await pgrep.communicate()
    return "a pytest run" if out.strip() else None


async def chaos(
    procs: ChaosProcesses,
    reader: Reader,
    opts: Options,
    stats: Stats,
    rng: random.Random,
    until: float,
    proxy: TcpProxy | None,
    outage_done: asyncio.Event,
) -> None:
    """Kills (an API first, then a worker, then at random) until ``until``, and beside them one
    database outage around the middle of the run."""
    started = time.monotonic()

    async def outage() -> None:
        await asyncio.sleep((until - started) * rng.uniform(0.4, 0.6))
        if proxy is not None:
            proxy.cut()
            await asyncio.sleep(3.0)
            proxy.restore()
            stats.db_outages.append("proxy cut for 3 s")
        else:
            waited = time.monotonic()
            while (busy := await server_in_use(reader)) is not None:
                if time.monotonic() - waited > QUIET_WAIT_SECONDS:
                    stats.db_outages.append(f"postgresql restart SKIPPED: in use by {busy}")
                    return
                await asyncio.sleep(2.0)
            began = time.monotonic()
            await restart_postgres()
            await reader.reopen()
            stats.db_outages.append(
                f"postgresql restart ({time.monotonic() - began:.1f} s, after waiting "
                f"{began - waited:.0f} s for the server to be free of other users)"
            )

    async def kills() -> None:
        kinds = ["api", "worker"]
        while True:
            await asyncio.sleep(rng.uniform(1.0, 3.0) if opts.quick else rng.uniform(2.0, 5.0))
            if time.monotonic() >= until and outage_done.is_set():
                return
            kind = kinds.pop(0) if kinds else rng.choices(("api", "worker"), (1, 2))[0]
            if kind == "worker":
                name = rng.choice(sorted(procs.workers))
                procs.kill(procs.workers[name])
                stats.kills["worker"] += 1
                await asyncio.sleep(rng.uniform(0.2, 1.5))
                await procs.start_worker(name)
            else:
                port = rng.choice(procs.api_ports)  # one API at a time: the other keeps serving
                procs.kill(procs.apis[port])
                stats.kills["api"] += 1
                await asyncio.sleep(rng.uniform(0.2, 1.5))
                await procs.start_api(port)

    async def outage_then_done() -> None:
        try:
            await outage()
        finally:
            outage_done.set()

    await asyncio.gather(outage_then_done(), kills())


# --- invariants ----------------------------------------------------------------------------------


class Reader(DirectReader):
    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        rows: list[Any] = await self._pg.fetch(sql, *args)
        return rows

    async def value(self, sql: str, *args: Any) -> Any:
        return await self._pg.fetchval(sql, *args)

    async def reopen(self) -> None:
        """A new connection after a PostgreSQL restart (the server may take a moment)."""
        with contextlib.suppress(Exception):
            await self._pg.close(timeout=2)
        for _ in range(60):
            try:
                await self.open()
                return
            except Exception:
                await asyncio.sleep(0.5)
        raise BenchFailed("PostgreSQL did not come back after its restart")


async def settle(
    reader: Reader, receiver: Receiver, demo: dict[str, Any], ledger: Ledger, since: datetime
) -> dict[str, Any]:
    """Wait until every job, bulk and delivery is done (or the timeout); what was still open."""
    clients = client_ids(demo)
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while True:
        open_jobs = await reader.value(
            "SELECT count(*) FROM issuance_jobs WHERE state NOT IN ('completed', 'failed')"
        )
        open_bulks = await reader.value(
            "SELECT count(*) FROM operator_enrollment_batches "
            "WHERE status NOT IN ('Completed', 'Failed')"
        )
        events = {
            r[0]
            for r in await reader.fetch(
                "SELECT id FROM outbox_events WHERE client_id = ANY($1) AND created_at >= $2",
                clients,
                since,
            )
        }
        undelivered = len(events - received_ids(receiver))
        if (open_jobs, open_bulks, undelivered) == (0, 0, 0) or time.monotonic() > deadline:
            return {"open_jobs": open_jobs, "open_bulks": open_bulks, "undelivered": undelivered}
        await asyncio.sleep(1.0)


def client_ids(demo: dict[str, Any]) -> list[str]:
    surfaces = ("partner", "vouchers", "loyalty", "operator", SECOND_LOYALTY)
    return [demo[s]["client_id"] for s in surfaces if s in demo]


def received_ids(receiver: Receiver) -> set[str]:
    return {r.headers["webhook-id"] for r in receiver.received if "webhook-id" in r.headers}


async def invariants(
    reader: Reader, receiver: Receiver, demo: dict[str, Any], ledger: Ledger, since: datetime
) -> dict[str, tuple[bool, str]]:
    results: dict[str, tuple[bool, str]] = {}
    partner_client = demo["partner"]["client_id"]

    twice = await reader.fetch(
        "SELECT job_id, member_id, count(*) FROM issued_rewards WHERE job_id IS NOT NULL "
        "GROUP BY job_id, member_id HAVING count(*) > 1"
    )
    rewarded = await reader.value("SELECT count(*) FROM issued_rewards WHERE job_id IS NOT NULL")
    results["no identifier rewarded twice in a job"] = (
        not twice,
        f"{rewarded} rewards, {len(twice)} (job, member) pairs twice",
    )

    jobs = await reader.fetch(
        "SELECT j.id, j.state, j.total_count, j.processed_count, j.success_count, "
        "j.failure_count, (SELECT count(*) FROM issued_rewards r WHERE r.job_id = j.id) "
        "FROM issuance_jobs j WHERE j.client_id = $1",
        partner_client,
    )
    open_jobs = [j for j in jobs if j[1] not in ("completed", "failed")]
    miscounted = [j[0] for j in jobs if j[1] == "completed" and (j[4] != j[6] or j[3] != j[2])]
    bulks = await reader.fetch("SELECT id, status FROM operator_enrollment_batches")
    open_bulks = [b for b in bulks if b[1] not in ("Completed", "Failed")]
    results["every accepted job terminal"] = (
        not open_jobs and not open_bulks and not miscounted,
        f"{len(jobs)} issuance jobs ({Counter(j[1] for j in jobs)}), {len(open_jobs)} open, "
        f"{len(miscounted)} miscounted; {len(bulks)} bulk enrollments, {len(open_bulks)} open",
    )

    failed = await reader.fetch(
        "SELECT id, error, total_count, success_count, failure_count, "
        "(SELECT count(*) FROM issuance_failures f WHERE f.job_id = j.id) "
        "FROM issuance_jobs j WHERE state = 'failed'"
    )
    unexplained = [
        f"{j[0]}: error {j[1]!r}, {j[3]} succeeded, {j[5]} failures of {j[2]}"
        for j in failed
        if j[1] is not None or j[3] != 0 or not j[2] == j[4] == j[5]
    ]
    failed_bulks = await reader.fetch(
        "SELECT id, error FROM operator_enrollment_batches WHERE status = 'Failed' "
        "AND error IS NOT NULL"
    )
    unexplained += [f"bulk {b[0]}: error {b[1]!r}" for b in failed_bulks]
    results["every failed job failed for its documented reason"] = (
        not unexplained,
        f"{len(failed)} failed issuance jobs, {len(unexplained)} for another reason"
        + (f": {unexplained[:3]}" if unexplained else ""),
    )

    ledger_off = await reader.fetch(
        "SELECT b.member_id, b.balance, COALESCE(sum(t.amount), 0) FROM points_balances b "
        "LEFT JOIN points_transactions t ON t.member_id = b.member_id "
        "GROUP BY b.member_id, b.balance HAVING b.balance <> COALESCE(sum(t.amount), 0)"
    )
    entries_off = await reader.fetch(
        "SELECT t.id FROM points_transactions t LEFT JOIN points_entries e "
        "ON e.transaction_id = t.id GROUP BY t.id HAVING COALESCE(sum(e.amount), 0) <> 0"
    )
    balances = await reader.value("SELECT count(*) FROM points_balances")
    results["every points balance equals its ledger"] = (
        not ledger_off and not entries_off,
        f"{balances} balances, {len(ledger_off)} off their transactions, "
        f"{len(entries_off)} transactions whose entries do not sum to 0",
    )

    problems: list[str] = []
    job_ids = {j[0] for j in jobs}
    for key, (_, answered) in ledger.partner.items():
        if len(answered) != 1:
            problems.append(f"partner key {key}: jobs {sorted(answered)}")
    answered_jobs = (
        set().union(*(a for _, a in ledger.partner.values())) if ledger.partner else set()
    )
    if answered_jobs != job_ids:
        problems.append(
            f"partner: {len(job_ids)} jobs in the database, {len(answered_jobs)} answered"
        )
    orders = {
        r[0]: (r[1], r[2], r[3])
        for r in await reader.fetch(
            "SELECT o.idempotency_key, o.quantity, o.issued_count, "
            "(SELECT count(*) FROM vouchers v WHERE v.order_id = o.id) "
            "FROM voucher_orders o WHERE o.client_id = $1",
            demo["vouchers"]["client_id"],
        )
    }
    asked_orders = 0
    for key, (_, by_order) in ledger.vouchers.items():
        for order_key, answers in by_order.items():
            asked_orders += 1
            row = orders.get(order_key)
            if len(answers) != 1 or row is None or not row[0] == row[1] == row[2]:
                problems.append(f"voucher key {key}/{order_key}: {len(answers)} answers, {row}")
        if not by_order:
            problems.append(f"voucher key {key}: never answered")
    if asked_orders != len(orders):
        problems.append(f"vouchers: {len(orders)} orders in the database, {asked_orders} keys")
    references = {
        r[0]: r[1]
        for r in await reader.fetch(
            "SELECT external_reference_id, count(*) FROM points_transactions "
            "WHERE client_id = $1 AND external_reference_id IS NOT NULL "
            "GROUP BY external_reference_id",
            demo["loyalty"]["client_id"],
        )
    }
    for reference, (_, answered) in ledger.loyalty.items():
        if len(answered) != 1 or references.get(reference) != 1:
            problems.append(
                f"loyalty reference {reference}: {answered}, {references.get(reference)}"
            )
    enrolled = await reader.fetch(
        "SELECT operator_player_id, count(*) FROM operator_enrollments "
        "WHERE operator_player_id LIKE 'chaos-%' GROUP BY operator_player_id"
    )
    twice_enrolled = [p for p, n in enrolled if n != 1]
    problems += [f"player enrolled {n} times: {p}" for p, n in enrolled if n != 1][:5]
    results["every idempotency key mapped to exactly one result"] = (
        not problems,
        f"{len(ledger.partner)} partner keys -> {len(job_ids)} jobs, {asked_orders} voucher "
        f"order keys -> {len(orders)} orders, {len(ledger.loyalty)} loyalty references, "
        f"{len(enrolled)} players enrolled ({len(twice_enrolled)} twice)"
        + (f"; {len(problems)} problems: {problems[:5]}" if problems else ""),
    )

    owners = {
        r[0]: r[1]
        for r in await reader.fetch(
            "SELECT id, client_id FROM points_transactions WHERE id = ANY($1)",
            sorted({t for _, answered in ledger.shared.values() for t in answered}),
        )
    }
    crossed = [
        f"{client_id} {reference}: answered {sorted(answered)}, "
        f"of {[owners.get(t) for t in answered]}"
        for (client_id, reference), (_, answered) in ledger.shared.items()
        if any(owners.get(t) != client_id for t in answered)
    ]
    results["no points award answered with another client's transaction"] = (
        bool(ledger.shared) and not crossed,
        f"{len(ledger.shared)} awards of 2 clients under {len({r for _, r in ledger.shared})} "
        f"shared references, {len(crossed)} answered with another client's transaction"
        + (f": {crossed[:2]}" if crossed else ""),
    )

    events = {
        r[0]
        for r in await reader.fetch(
            "SELECT id FROM outbox_events WHERE client_id = ANY($1) AND created_at >= $2",
            client_ids(demo),
            since,
        )
    }
    seen = received_ids(receiver)
    counts = Counter(
        r.headers["webhook-id"] for r in receiver.received if "webhook-id" in r.headers
    )
    missing = events - seen
    results["every outbox event delivered at least once, with its id"] = (
        bool(events) and not missing,
        f"{len(events)} events, {len(missing)} never delivered, {len(receiver.received)} "
        f"requests received, {sum(1 for n in counts.values() if n > 1)} events delivered "
        f"more than once, {len(seen - events)} ids not of these events",
    )

    overspent = await reader.fetch(
        "SELECT v.id, v.face_value, v.remaining_amount, "
        "COALESCE((SELECT sum(amount) FROM voucher_redemptions r WHERE r.voucher_id = v.id), 0) "
        "FROM vouchers v WHERE v.remaining_amount < 0 OR v.remaining_amount > v.face_value"
    )
    vouchers = await reader.value("SELECT count(*) FROM vouchers")
    results["no voucher overspent"] = (
        not overspent,
        f"{vouchers} vouchers, {len(overspent)} outside [0, face value]",
    )
    return results


# --- main ----------------------------------------------------------------------------------------


async def run(opts: Options) -> int:
    rng = random.Random(opts.seed)
    stats = Stats()
    with bench_dirs("bestow-chaos-", opts.keep_logs) as tmp:
        status = 2
        try:
            status = await run_in(tmp, opts, stats, rng)
        finally:
            if status != 0:
                print(f"chaos: logs of this run kept in {keep_logs(tmp / 'logs', opts)}")
        return status


def keep_logs(logs: Path, opts: Options) -> Path:
    """Where the logs of a run that broke an invariant (or could not be carried out) stay:
    ``--keep-logs`` (``bench_dirs`` copies them there), else a new directory under ``var/``."""
    if opts.keep_logs is not None:
        return opts.keep_logs
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = KEPT_LOGS / f"{stamp}-seed{opts.seed}"
    shutil.copytree(logs, kept, dirs_exist_ok=True)
    return kept


async def run_in(tmp: Path, opts: Options, stats: Stats, rng: random.Random) -> int:
    async with benchkit.database("postgresql", tmp, opts.pg_url) as url:
        direct_url = url
        proxy: TcpProxy | None = None
        with contextlib.ExitStack() as stack:
            if opts.quick:
                server = urlsplit(url)
                proxy = stack.enter_context(TcpProxy(server.hostname or HOST, server.port or 5432))
                # the processes reach PostgreSQL through the proxy; the checks do not
                url = urlunsplit(
                    server._replace(
                        netloc=server.netloc.replace(
                            f"{server.hostname}:{server.port or 5432}", f"{HOST}:{proxy.port}"
                        )
                    )
                )
            env = bestow_env(url, tmp / "var", BESTOW_REDIS_URL=opts.redis_url)
            env["BESTOW_REDIS_PREFIX"] = f"chaos-{uuid.uuid4().hex[:8]}"
            demo = json.loads(run_cli(env, "demo", "--json"))
            reader = Reader(direct_url)
            await reader.open()
            try:
                await reader._pg.execute(
                    "UPDATE clients SET rate_limit_tier = 'unlimited' WHERE id = ANY($1)",
                    client_ids(demo),
                )
                procs = ChaosProcesses(tmp / "logs", env)
                with benchkit.stopping(procs):
                    return await drive(opts, procs, demo, reader, stats, rng, proxy)
            finally:
                await reader.close()
    return 2


async def drive(
    opts: Options,
    procs: ChaosProcesses,
    demo: dict[str, Any],
    reader: Reader,
    stats: Stats,
    rng: random.Random,
    proxy: TcpProxy | None,
) -> int:
    async with Receiver() as receiver:
        procs.api_ports = [free_port(), free_port()]
        for port in procs.api_ports:
            await procs.start_api(port)
        for n in (1, 2):
            await procs.start_worker(f"worker{n}")
        bases = [f"http://{HOST}:{port}" for port in procs.api_ports]
        demo[SECOND_LOYALTY] = await second_loyalty_client(bases[0], demo)
        since = await register_endpoints(bases[0], client_ids(demo), receiver.url)
        load = Load(demo, bases, stats, rng)
        try:
            await load.prepare()
            began = time.monotonic()
            until = began + opts.seconds
            print(
                f"chaos: {opts.seconds:.0f} s of load ({opts.concurrency} lanes), 2 APIs, "
                f"2 workers, database outage by "
                f"{'proxy cut' if proxy is not None else 'PostgreSQL restart'}",
                flush=True,
            )
            outage_done = asyncio.Event()
            await asyncio.gather(
                load.run(until, opts.concurrency, outage_done),
                chaos(procs, reader, opts, stats, rng, until, proxy, outage_done),
            )
            load_seconds = time.monotonic() - began
            benchkit.check_alive(list(procs.apis.values()) + list(procs.workers.values()))
            replay_failed = await load.replay()
            settled = await settle(reader, receiver, demo, load.ledger, since)
            results = await invariants(reader, receiver, demo, load.ledger, since)
        finally:
            await load.close()
    if replay_failed:
        results["every keyed request answered on replay"] = (
            False,
            f"{len(replay_failed)} failed: {replay_failed[:3]}",
        )
    return report(stats, results, settled, load_seconds, crashes(procs.logs))


def crashes(logs: Path) -> list[str]:
    """The API's ``unhandled`` log lines (its 500s): error type and path of each."""
    found = []
    for path in sorted(logs.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"unhandled"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                found.append(f"{path.name}: {line[:200]}")
            else:
                found.append(f"{path.name}: {entry.get('error')} on {entry.get('path')}")
    return found


def report(
    stats: Stats,
    results: dict[str, tuple[bool, str]],
    settled: dict[str, Any],
    seconds: float,
    crashed: list[str],
) -> int:
    lines = [
        f"load: {sum(stats.ops.values())} operations in {seconds:.1f} s "
        f"({', '.join(f'{k} {n}' for k, n in sorted(stats.ops.items()))})",
        f"requests: {stats.requests} HTTP exchanges; statuses "
        f"{dict(sorted(stats.statuses.items()))}; transport errors "
        f"{dict(stats.transport_errors)}",
        f"retries seen: {stats.retries_seen} (retryable answers and transport errors)",
        f"gave up after {MAX_RETRIES} retries: {dict(stats.gave_up) or 0} (done on replay)",
        f"kills: {dict(stats.kills)} (SIGKILL, then restarted); database outages: "
        f"{stats.db_outages or 'none'}",
        f"settled: {settled}",
    ]
    lines += [f"  error: {e}" for e in stats.errors[:8]]
    lines.append(f"500s logged by the APIs: {len(crashed)}")
    lines += [f"  crash: {c}" for c in crashed[:5]]
    failed = 0
    for name, (ok, detail) in results.items():
        failed += not ok
        lines.append(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    lines.append("chaos: all invariants hold" if not failed else f"chaos: {failed} FAILED")
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "operations": dict(stats.ops),
                "requests": stats.requests,
                "statuses": {str(k): v for k, v in stats.statuses.items()},
                "retries_seen": stats.retries_seen,
                "kills": dict(stats.kills),
                "db_outages": stats.db_outages,
                "crashes": len(crashed),
                "invariants": {name: ok for name, (ok, _) in results.items()},
            }
        )
    )
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short, proxy cut, no PG restart")
    parser.add_argument("--seconds", type=float, default=None, help="load duration")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--pg-url", default=os.environ.get("BESTOW_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BESTOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--keep-logs", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    opts = Options(
        quick=args.quick,
        seconds=args.seconds or (20.0 if args.quick else 90.0),
        concurrency=args.concurrency,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
        keep_logs=args.keep_logs,
        seed=seed,
    )
    print(f"chaos: seed {seed}{' (quick)' if opts.quick else ''}", flush=True)
    try:
        return asyncio.run(run(opts))
    except (BenchFailed, KeyboardInterrupt) as exc:
        return benchkit.failure_status(exc)


if __name__ == "__main__":
    sys.exit(main())
