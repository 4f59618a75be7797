"""A mixed, open-loop workload against two API processes sharing Redis, and the 5/s budget.

Everything runs against a fresh PostgreSQL database (``benchkit.database``, dropped at the end),
a Redis under a key prefix of the run's own (``BESTOW_REDIS_PREFIX=bench-load-<random>``, its
keys deleted at the end), and real processes on 127.0.0.1: two ``bestow serve --no-worker`` on
two ports and one ``bestow worker``, all with ``BESTOW_REDIS_URL``.

Phases:

1. ``mix``: requests are scheduled at fixed times, ``1 / --rate`` s apart, for ``--warmup`` s
   (not recorded) then ``--duration`` s (recorded), whatever the answers (open loop); each slot
   takes a route from a fixed weighted mix (``MIX``, seeded) and goes to the two ports in turn.
   Latency runs from the slot's scheduled time to the end of the response, so a request that
   waits for a connection, or a generator that falls behind, shows in the figures (no
   coordinated omission). Connections are raw HTTP/1.1 keep-alive ones (``loadgen.HttpClient``),
   one request in flight each, opened as needed (at most ``MAX_CONNECTIONS`` per port). Every
   client is on the ``unlimited`` tier, so the mix itself is not rate limited.
2. ``budget``: a partner client on the ``default`` tier (5/s on a moving window) sends
   ``BURST_REQUESTS`` ``GET /partner/merchants`` over ``BURST_SECONDS`` s, evenly spaced and
   alternating between the two ports, once both processes are idle again (and, with
   ``--budget-under-load``, also a third of the way into the mix); every answer must be 200 or
   429 with ``Retry-After``, and no 1-second window may hold more than 5 accepted requests, by
   the time Redis accepted them (its moving-window list read with ``TIME`` every ~2 ms) and on
   the bench's own clock (see ``watch_stamps`` and ``proven_overflows``).

Exit status 1 when the budget is exceeded (or a refusal lacks ``Retry-After``), more than 1 % of
the mix's requests fail or an issuance job does not complete, 2 when a process does not start.
The last line is JSON.

    .venv/bin/python bench/load.py [--quick] [--rate 100] [--duration 30] [--warmup 5]
        [--pg-url URL] [--redis-url URL] [--budget-under-load] [--control] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import benchkit
import httpx
from benchkit import (
    DEFAULT_PG_URL,
    HOST,
    BenchFailed,
    DirectReader,
    Proc,
    WrongResult,
    bench_campaign,
    bench_dirs,
    bench_runtime,
    bestow_env,
    cpu_delta,
    database,
    failure_status,
    member_rows,
    oauth_token,
    print_report,
    proc_cpu,
    procs_cpu,
    venv_script,
)
from loadgen import HttpClient, ResponseError, percentile

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
MAX_CONNECTIONS = 128
"""Per port: past that, a request waits for a free connection (and its latency shows it)."""
REQUEST_TIMEOUT_SECONDS = 15.0
JOB_TIMEOUT_SECONDS = 120.0
VOUCHER_PRODUCT = "BENCH_FIXED"
UNIT = "BENCH_UNIT"
REWARD = "BENCH_REWARD"
SESSIONS = 200
"""Loyalty sessions opened before the load; the mix's awards go to them."""

MIX: dict[str, int] = {
    "GET /partner/merchants": 25,
    "GET /partner/reward_templates": 15,
    "POST /partner/campaigns/issue": 5,
    "GET /partner/issuance_jobs/{id}": 15,
    "POST /v3/products/{code}": 15,
    "POST /client/users/{id}/sessions": 10,
    "POST /client/users/{id}/adhoc-reward/": 15,
}
"""Route -> weight (share of the slots, in percent)."""

EXPECTED = {route: 202 if route.endswith("/issue") else 200 for route in MIX}

ERROR_SHARE = 0.01
"""More failed mix requests than this share of those scheduled fails the run (as ``api.py``)."""

BURST_REQUESTS = 40
BURST_SECONDS = 2.0
BUDGET_PER_SECOND = 5


@dataclass
class Options:
    pg_url: str
    redis_url: str
    rate: float
    duration: float
    warmup: float
    members: int
    quick: bool
    control: bool
    budget_under_load: bool
    keep_logs: Path | None


@dataclass
class World:
    url: str
    merchant_id: str
    partner_id: str
    partner_token: str
    campaign_id: str
    variant_id: str
    voucher_client_id: str
    voucher_secret: str
    loyalty_client_id: str
    loyalty_secret: str
    budget_id: str
    budget_token: str
    emails: list[str]


# --- seed ----------------------------------------------------------------------------------------


async def seed(url: str, var_dir: Path, members: int) -> World:
    """Through the services: a merchant (business unit, points reward, members by COPY), a
    partner client on ``unlimited`` with a published template and an active campaign, a voucher
    product and an OAuth client for it, a loyalty OAuth client with the ad hoc feature (both
    ``unlimited``), and a partner client on the ``default`` tier for the budget check."""
    from bestow.clients import service as clients
    from bestow.kit.actor import Actor
    from bestow.kit.db import bulk_insert, utcnow
    from bestow.loyalty import rewards
    from bestow.merchants import service as merchants
    from bestow.models import Member
    from bestow.rewards import templates
    from bestow.vouchers import products

    actor = Actor("bench")
    runtime = bench_runtime(url, var_dir)
    tiers = runtime.rate_limiter.tier_names()
    try:
        async with runtime.db.write_session() as session:
            merchant = await merchants.create_merchant(
                session, name="Bench", handle="bench", time_zone="UTC", actor=actor
            )
            await merchants.create_business_unit(
                session, merchant_id=merchant.id, name=UNIT, actor=actor
            )
            await rewards.create_reward(
                session,
                merchant_id=merchant.id,
                reward_id=REWARD,
                name="Bench points",
                max_per_transaction=1_000,
                actor=actor,
            )
            emails = [f"member{i:06d}@example.com" for i in range(members)]
            now = utcnow()
            await bulk_insert(session, Member.__table__, member_rows(merchant.id, emails, now))

            partner, token = await benchkit.bench_partner(
                session, runtime, merchant_id=merchant.id, name="bench-partner", actor=actor
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
            view = await bench_campaign(
                session,
                client_id=partner.id,
                merchant_id=merchant.id,
                template_id=template.id,
                name="Bench load campaign",
                now=now,
            )

            await products.create_product(
                session,
                code=VOUCHER_PRODUCT,
                name="Ten dollar voucher",
                is_open_value=False,
                face_value=1000,
                is_value_based=True,
                is_status_available=True,
                is_multiple_use=False,
                currency="USD",
                validity_days=365,
                actor=actor,
            )
            voucher = await clients.create_client(
                session,
                name="bench-vouchers",
                scopes=["issue_vouchers"],
                rate_limit_tier="unlimited",
                known_tiers=tiers,
                actor=actor,
            )
            voucher_secret = await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=voucher.id,
                kind=clients.OAUTH_SECRET,
                actor=actor,
            )

            loyalty = await clients.create_client(
                session,
                name="bench-loyalty",
                scopes=["loyalty.adhoc_reward"],
                rate_limit_tier="unlimited",
                known_tiers=tiers,
                actor=actor,
            )
            loyalty_secret = await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=loyalty.id,
                kind=clients.OAUTH_SECRET,
                actor=actor,
            )
            await clients.grant_merchant(
                session, client_id=loyalty.id, merchant_id=merchant.id, actor=actor
            )
            await rewards.set_adhoc_feature(
                session, client_id=loyalty.id, enabled=True, actor=actor
            )

            budget = await clients.create_client(
                session,
                name="bench-budget",
                scopes=["rewards.issue"],
                rate_limit_tier="default",
                known_tiers=tiers,
                actor=actor,
            )
            budget_token = await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=budget.id,
                kind=clients.PARTNER_TOKEN,
                actor=actor,
            )
            await clients.grant_merchant(
                session, client_id=budget.id, merchant_id=merchant.id, actor=actor
            )
            await session.commit()
        return World(
            url=url,
            merchant_id=merchant.id,
            partner_id=partner.id,
            partner_token=token,
            campaign_id=view.campaign.id,
            variant_id=view.variants[0].id,
            voucher_client_id=voucher.id,
            voucher_secret=voucher_secret.secret,
            loyalty_client_id=loyalty.id,
            loyalty_secret=loyalty_secret.secret,
            budget_id=budget.id,
            budget_token=budget_token.secret,
            emails=emails,
        )
    finally:
        await runtime.db.dispose()


class Probe(DirectReader):
    """Direct reads of the jobs (not through the API)."""

    async def jobs(self, ids: list[str]) -> dict[str, int]:
        rows = await self._pg.fetch(
            "SELECT state, count(*) AS n, coalesce(sum(success_count), 0) AS ok, "
            "coalesce(sum(failure_count), 0) AS failed "
            "FROM issuance_jobs WHERE id = ANY($1::text[]) GROUP BY state",
            ids,
        )
        out = {str(r["state"]): int(r["n"]) for r in rows}
        out["rewards"] = sum(int(r["ok"]) for r in rows)
        out["identifier_failures"] = sum(int(r["failed"]) for r in rows)
        return out


# --- requests ------------------------------------------------------------------------------------


class BodyClient(HttpClient):
    """``loadgen.HttpClient`` that keeps the last response's body (the issuance job's id)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = b""

    def _parse(self) -> None:
        buffer = self.buffer
        if self.needed < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            if not head.startswith((b"http/1.1 ", b"http/1.0 ")):
                raise ResponseError(f"bad status line {head[:40]!r}")
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise ResponseError("response without Content-Length")
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
            self.keep_alive = b"\r\nconnection: close" not in head and head.startswith(b"http/1.1")
            self.head_end = end + 4
            self.needed = end + 4 + length
        if len(buffer) >= self.needed:
            self.body = bytes(buffer[self.head_end : self.needed])
            del buffer[: self.needed]
            self.needed = -1
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(self.status)


def raw_request(method: str, path: str, headers: dict[str, str], body: Any = None) -> bytes:
    content = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(content)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content


class Pool:
    """Keep-alive connections to one port, opened on demand up to ``MAX_CONNECTIONS``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[BodyClient] = []
        self.open = 0
        self.freed = asyncio.Condition()
        self.peak = 0

    async def take(self) -> BodyClient:
        loop = asyncio.get_running_loop()
        while True:
            while self.idle:
                client = self.idle.pop()
                if not client.lost and client.keep_alive:
                    return client
                self._drop(client)
            if self.open < MAX_CONNECTIONS:
                self.open += 1
                self.peak = max(self.peak, self.open)
                try:
                    _, client = await asyncio.wait_for(
                        loop.create_connection(BodyClient, HOST, self.port), 5
                    )
                except BaseException:
                    self.open -= 1
                    raise
                return cast(BodyClient, client)
            async with self.freed:
                await self.freed.wait()

    def _drop(self, client: BodyClient) -> None:
        self.open -= 1
        if client.transport is not None:
            client.transport.close()

    async def give(self, client: BodyClient) -> None:
        if client.lost or not client.keep_alive:
            self._drop(client)
        else:
            self.idle.append(client)
        async with self.freed:
            self.freed.notify()

    async def close(self) -> None:
        for client in self.idle:
            self._drop(client)
        self.idle.clear()


async def send(pool: Pool, payload: bytes) -> tuple[int, bytes, float]:
    """(status, body, seconds from taking a connection to the response) of one request."""
    loop = asyncio.get_running_loop()
    client = await pool.take()
    try:
        taken = time.perf_counter()
        status = await asyncio.wait_for(client.request(payload, loop), REQUEST_TIMEOUT_SECONDS)
        return status, client.body, time.perf_counter() - taken
    except BaseException:
        client.lost = True
        raise
    finally:
        await pool.give(client)


# --- phase 1: the mixed workload -----------------------------------------------------------------


@dataclass
class RouteStats:
    latencies: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, latency: float, service: float | None, outcome: str) -> None:
        self.latencies.append(latency)
        if service is not None:
            self.service.append(service)
        self.statuses[outcome] = self.statuses.get(outcome, 0) + 1


@dataclass
class Mix:
    world: World
    partner: dict[str, str]
    voucher: dict[str, str]
    loyalty: dict[str, str]
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    jobs: list[str] = field(default_factory=list)
    sent: int = 0

    def request(self, route: str) -> bytes:
        """The next request on ``route``."""
        w, rng = self.world, self.rng
        self.sent += 1
        if route == "GET /partner/merchants":
            return raw_request("GET", "/partner/merchants", self.partner)
        if route == "GET /partner/reward_templates":
            path = f"/partner/reward_templates?merchant_id={w.merchant_id}"
            return raw_request("GET", path, self.partner)
        if route == "POST /partner/campaigns/issue":
            picked = rng.sample(w.emails, rng.randint(10, 100))
            body = {
                "campaign_id": w.campaign_id,
                "merchant_id": w.merchant_id,
                "variant_id": w.variant_id,
                "identifiers": [{"type": "email", "value": e} for e in picked],
            }
            headers = self.partner | {"X-Idempotency-Key": uuid.uuid4().hex}
            return raw_request("POST", "/partner/campaigns/issue", headers, body)
        if route == "GET /partner/issuance_jobs/{id}":
            job = rng.choice(self.jobs[-20:])
            path = f"/partner/issuance_jobs/{job}?merchant_id={w.merchant_id}"
            return raw_request("GET", path, self.partner)
        if route == "POST /v3/products/{code}":
            headers = self.voucher | {"Idempotency-Key": str(uuid.uuid4())}
            body = {"quantity": rng.randint(1, 5)}
            return raw_request("POST", f"/v3/products/{VOUCHER_PRODUCT}", headers, body)
        if route == "POST /client/users/{id}/sessions":
            email = rng.choice(w.emails)
            headers = self.loyalty | {"X-Identifier-Type": "EMAIL"}
            body = {"correlationId": f"m{self.sent}", "channel": "APP"}
            return raw_request("POST", f"/client/users/{email}/sessions", headers, body)
        body = {
            "channel": "APP",
            "businessUnit": UNIT,
            "issuerId": "BENCH",
            "rewardId": REWARD,
            "rewardAmount": rng.randint(1, 100),
            "externalReferenceId": f"bench-{self.sent}",
        }
        path = f"/client/users/c{rng.randrange(SESSIONS):04d}/adhoc-reward/"
        return raw_request("POST", path, self.loyalty, body)

    def answered(self, route: str, status: int, body: bytes) -> None:
        if route == "POST /partner/campaigns/issue" and status == 202:
            self.jobs.append(json.loads(body)["issuance_job"]["id"])


def schedule(rate: float, seconds: float, rng: random.Random) -> list[str]:
    """The route of every slot, drawn from ``MIX``."""
    routes = list(MIX)
    return rng.choices(routes, weights=[MIX[r] for r in routes], k=round(rate * seconds))


async def run_mix(
    opts: Options, mix: Mix, ports: list[int], sample_cpu: Callable[[], Any]
) -> dict[str, Any]:
    pools = [Pool(port) for port in ports]
    slots = schedule(opts.rate, opts.warmup + opts.duration, random.Random(5))
    stats = {route: RouteStats() for route in MIX}
    lags: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.1
    measure_from = start + opts.warmup
    recorded = 0
    answered_in_window = 0

    async def one(index: int, route: str, due: float) -> None:
        nonlocal answered_in_window
        pool = pools[index % len(pools)]
        payload = mix.request(route)
        service: float | None = None
        try:
            status, body, service = await send(pool, payload)
            outcome = str(status)
            mix.answered(route, status, body)
        except Exception as exc:
            outcome = type(exc).__name__
        except asyncio.CancelledError:  # still unanswered when the bench gave up waiting
            if due >= measure_from:
                stats[route].add(time.perf_counter() - due, None, "Unanswered")
            raise
        ended = time.perf_counter()
        if due >= measure_from:
            stats[route].add(ended - due, service, outcome)
            if ended <= measure_from + opts.duration:
                answered_in_window += 1

    cpu_before: Any = None
    for index, route in enumerate(slots):
        due = start + index / opts.rate
        if cpu_before is None and due >= measure_from:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            cpu_before = await sample_cpu()
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if due >= measure_from:
            lags.append(time.perf_counter() - due)
            recorded += 1
        task = asyncio.create_task(one(index, route, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.sleep(max(0.0, measure_from + opts.duration - time.perf_counter()))
    cpu_after = await sample_cpu()
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=REQUEST_TIMEOUT_SECONDS + 10)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for pool in pools:
        await pool.close()
    lags.sort()
    routes: dict[str, Any] = {}
    for route, s in stats.items():
        ordered = sorted(s.latencies)
        service = sorted(s.service)
        expected = str(EXPECTED[route])
        routes[route] = {
            "count": len(ordered),
            "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
            "service_p50_ms": round(percentile(service, 0.50) * 1000, 1),
            "service_p99_ms": round(percentile(service, 0.99) * 1000, 1),
            "errors": sum(n for k, n in s.statuses.items() if k != expected),
            "statuses": dict(sorted(s.statuses.items())),
        }
    everything = sorted(x for s in stats.values() for x in s.latencies)
    return {
        "scheduled": recorded,
        "answered": len(everything),
        "errors": sum(r["errors"] for r in routes.values()),
        "offered_rps": opts.rate,
        "achieved_rps": round(answered_in_window / opts.duration, 1),
        "p50_ms": round(percentile(everything, 0.50) * 1000, 1),
        "p99_ms": round(percentile(everything, 0.99) * 1000, 1),
        "send_lag_p99_ms": round(percentile(lags, 0.99) * 1000, 2),
        "send_lag_max_ms": round(lags[-1] * 1000, 2) if lags else None,
        "connections_peak": [p.peak for p in pools],
        "routes": routes,
        "cpu": (cpu_before, cpu_after),
    }


# --- phase 2: the budget -------------------------------------------------------------------------


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most of ``times`` in any window ``[t, t + width)``."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + width) - i for i, t in enumerate(ordered)), default=0
    )


def proven_overflows(accepted: list[tuple[float, float]], budget: int) -> int:
    """How many runs of ``budget + 1`` accepted requests surely fell within one second: each
    request was counted by the server at some time between its send and its response, so when
    the last response of the run and the first send are at most 1 s apart, so were the server's
    counts."""
    ordered = sorted(accepted)
    found = 0
    for i in range(len(ordered) - budget):
        group = ordered[i : i + budget + 1]
        if max(hi for _, hi in group) - group[0][0] <= 1.0:
            found += 1
    return found


def window_keys(prefixes: list[str], client_id: str) -> list[str]:
    """The Redis keys of ``client_id``'s moving window (``kit/ratelimit.py``: ``limits``'
    ``<prefix>:rl:LIMITER/client/<id>/5/1/second`` lists of acceptance stamps)."""
    from limits import RateLimitItemPerSecond

    item = RateLimitItemPerSecond(BUDGET_PER_SECOND, 1)
    return [f"{prefix}:rl:{item.key_for('client', client_id)}" for prefix in prefixes]


async def watch_stamps(
    redis_url: str, keys: list[str], stop: asyncio.Event
) -> dict[float, tuple[float, float]]:
    """Every acceptance stamp (the API process's ``time.time()``) that passes through the moving
    window lists ``keys``, read every ~2 ms until ``stop``: a list keeps the last 5, so none is
    missed unless more than 5 are accepted within one poll. Each poll is one MULTI of ``TIME``
    and the ``LRANGE``s, so it carries Redis's clock (this host's) at the moment it read: each
    stamp maps to (time of the poll before the one that first saw it, time of that one), and it
    was pushed in between, however late the bench's own event loop is."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    seen: dict[float, tuple[float, float]] = {}
    previous: float | None = None
    try:
        while True:
            pipe = redis.pipeline(transaction=True)
            pipe.time()
            for key in keys:
                pipe.lrange(key, 0, -1)
            (seconds, micros), *lists = await pipe.execute()
            now = seconds + micros / 1e6
            for values in lists:
                for value in values:
                    # Before the first poll: pushed at most a second earlier (the key expires).
                    seen.setdefault(
                        float(value), (now - 1.0 if previous is None else previous, now)
                    )
            previous = now
            if stop.is_set():
                return seen
            await asyncio.sleep(0.002)
    finally:
        await redis.aclose()


async def run_budget(
    world: World, bases: list[str], redis_url: str, prefixes: list[str]
) -> dict[str, Any]:
    stop = asyncio.Event()
    watcher = asyncio.create_task(
        watch_stamps(redis_url, window_keys(prefixes, world.budget_id), stop)
    )
    headers = {
        "Authorization": f"Bearer {world.budget_token}",
        "X-ClientId": world.budget_id,
        "Accept-Version": "v4.0",
    }
    clients = [httpx.AsyncClient(base_url=b, headers=headers, timeout=10) for b in bases]
    results: list[dict[str, Any]] = []
    try:
        # One connection per port, open before the burst (not to count a connect in a slot).
        for http in clients:
            await http.get("/healthz")
        start = time.perf_counter() + 0.05

        async def one(index: int) -> None:
            due = start + index * BURST_SECONDS / BURST_REQUESTS
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = time.perf_counter()
            response = await clients[index % len(clients)].get("/partner/merchants")
            received = time.perf_counter()
            results.append(
                {
                    "index": index,
                    "port": index % len(clients),
                    "status": response.status_code,
                    "sent": sent - start,
                    "received": received - start,
                    "retry_after": response.headers.get("retry-after"),
                    "date": response.headers.get("date"),
                }
            )

        await asyncio.gather(*(one(i) for i in range(BURST_REQUESTS)))
    finally:
        for http in clients:
            await http.aclose()
        stop.set()
        pushed = await watcher
        stamps = sorted(pushed)
    results.sort(key=lambda r: r["index"])
    accepted = [(r["sent"], r["received"]) for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] == 429]
    other = [r for r in results if r["status"] not in (200, 429)]
    no_retry_after = [r for r in refused if not (r["retry_after"] or "").isdigit()]
    middles = [(lo + hi) / 2 for lo, hi in accepted]
    per_second = [0] * (int(BURST_SECONDS) + 1)
    for t in middles:
        per_second[min(len(per_second) - 1, int(t))] += 1
    per_date: dict[str, int] = {}
    for r in results:
        if r["status"] == 200:
            per_date[r["date"]] = per_date.get(r["date"], 0) + 1
    by_port = [
        sum(1 for r in results if r["status"] == 200 and r["port"] == p) for p in range(len(bases))
    ]
    overflows = proven_overflows(accepted, BUDGET_PER_SECOND)
    # The server's own stamps, when every accepted request's was seen: the verdict on them.
    complete = len(stamps) == len(accepted)
    tight = [
        round(stamps[i + BUDGET_PER_SECOND] - stamps[i], 3)
        for i in range(len(stamps) - BUDGET_PER_SECOND)
        if stamps[i + BUDGET_PER_SECOND] - stamps[i] <= 1.0
    ]
    # When each was pushed to Redis (real time): 6 surely pushed within 1 s break the budget
    # whatever the stamps say. The stamp is taken before the Redis call, so the two differ by
    # the API process's delay; a stamp older than one pushed before it is out of order.
    by_push = sorted(pushed.values(), key=lambda window: window[1])
    sure_pushed = sum(
        1
        for i in range(len(by_push) - BUDGET_PER_SECOND)
        if by_push[i + BUDGET_PER_SECOND][1] - by_push[i][0] <= 1.0
    )
    in_push_order = [t for t, _ in sorted(pushed.items(), key=lambda item: item[1][1])]
    out_of_order = [
        later - t
        for i, t in enumerate(in_push_order)
        if (later := max(in_push_order[:i], default=t)) > t
    ]
    delays = [max(0.0, window[0] - stamp) for stamp, window in pushed.items()]
    per_server_second: dict[int, int] = {}
    for t in stamps:
        per_server_second[int(t)] = per_server_second.get(int(t), 0) + 1
    return {
        "requests": BURST_REQUESTS,
        "seconds": BURST_SECONDS,
        "accepted": len(accepted),
        "accepted_by_port": by_port,
        "refused_429": len(refused),
        "other": {str(r["status"]): 1 for r in other},
        "refused_without_retry_after": len(no_retry_after),
        "retry_after_values": sorted({str(r["retry_after"]) for r in refused}),
        "accepted_per_second": per_second,
        "accepted_per_date_second": per_date,
        "max_accepted_in_1s_by_midpoint": max_in_window(middles),
        "max_accepted_in_1s_by_send": max_in_window([lo for lo, _ in accepted]),
        "proven_overflows": overflows,
        "server_stamps": len(stamps),
        "server_stamps_complete": complete,
        "accepted_per_server_second": list(per_server_second.values()),
        "max_accepted_in_1s_by_server": max_in_window(stamps),
        "server_overflows": len(tight),
        "max_accepted_in_1s_by_push": max_in_window([w[1] for w in by_push]),
        "pushed_overflows": sure_pushed,
        "stamps_out_of_order": len(out_of_order),
        "stamp_max_behind_ms": round(max(out_of_order, default=0.0) * 1000, 1),
        "stamp_to_push_at_least_ms": round(max(delays, default=0.0) * 1000, 1),
        "max_response_ms": round(max(r["received"] - r["sent"] for r in results) * 1000, 1),
        "timeline": [
            [r["index"], r["port"], r["status"], round(r["sent"], 4), round(r["received"], 4)]
            for r in results
        ],
        "ok": (
            not overflows
            and not sure_pushed
            and not other
            and not no_retry_after
            and len(accepted) > 0
            and (complete or len(stamps) > len(accepted))
        ),
    }


# --- processes and run ---------------------------------------------------------------------------


class Processes(benchkit.BenchProcesses[Options]):
    """Every process the bench starts; ``stop_all`` stops those still running."""


async def open_sessions(base: str, token: str, world: World) -> None:
    """``SESSIONS`` loyalty sessions, correlation ids ``c0000``..., for the mix's awards."""
    headers = {"Authorization": f"Bearer {token}", "X-Identifier-Type": "EMAIL"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
        for n in range(SESSIONS):
            email = world.emails[n % len(world.emails)]
            body = {"correlationId": f"c{n:04d}", "channel": "APP"}
            response = await http.post(f"/client/users/{email}/sessions", json=body)
            if response.status_code != 200:
                raise WrongResult(f"session: {response.status_code} {response.text[:300]}")


async def first_job(base: str, headers: dict[str, str], world: World) -> str:
    body = {
        "campaign_id": world.campaign_id,
        "merchant_id": world.merchant_id,
        "variant_id": world.variant_id,
        "identifiers": [{"type": "email", "value": e} for e in world.emails[:10]],
    }
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
        response = await http.post(
            "/partner/campaigns/issue", json=body, headers={"X-Idempotency-Key": "first"}
        )
    if response.status_code != 202:
        raise WrongResult(f"issue: {response.status_code} {response.text[:300]}")
    job: str = response.json()["issuance_job"]["id"]
    return job


async def wait_jobs(probe: Probe, ids: list[str], workers: list[Proc]) -> dict[str, Any]:
    started = time.perf_counter()
    while True:
        states = await probe.jobs(ids)
        done = states.get("completed", 0) + states.get("failed", 0)
        if done == len(ids) or time.perf_counter() - started > JOB_TIMEOUT_SECONDS:
            break
        benchkit.check_alive(workers)
        await asyncio.sleep(0.2)
    return states | {"jobs": len(ids), "waited_s": round(time.perf_counter() - started, 2)}


async def settle(bases: list[str]) -> float:
    """Seconds until both API processes answer ``/healthz`` within 0.1 s (at most 60 s): the
    budget is checked on servers that are not still working off the mix."""
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=10) as http:
        while time.perf_counter() - started < 60:
            slowest = 0.0
            for base in bases:
                sent = time.perf_counter()
                await http.get(f"{base}/healthz")
                slowest = max(slowest, time.perf_counter() - sent)
            if slowest < 0.1:
                break
            await asyncio.sleep(0.5)
    await asyncio.sleep(1.1)  # and the budget client's moving window is empty
    return round(time.perf_counter() - started, 1)


async def delete_redis_keys(redis_url: str, prefix: str) -> int:
    """Delete the run's keys (those under ``prefix``); how many there were."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


async def redis_pid(redis_url: str) -> int | None:
    """redis-server's pid when it runs on this host (its CPU is then read from ``/proc``)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        info = await redis.info("server")
        pid = int(info.get("process_id", 0))
        return pid if proc_cpu(pid) is not None else None
    finally:
        await redis.aclose()


async def run(opts: Options, procs: Processes) -> dict[str, Any]:
    prefix = f"bench-load-{uuid.uuid4().hex[:8]}"
    report: dict[str, Any] = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "config": {
            "rate": opts.rate,
            "duration": opts.duration,
            "warmup": opts.warmup,
            "members": opts.members,
            "mix": MIX,
            "redis_prefix": prefix,
            "control": opts.control,
            "budget_under_load": opts.budget_under_load,
            "api_processes": 2,
            "workers": 1,
        },
    }
    rpid = await redis_pid(opts.redis_url)
    try:
        async with database("postgresql", procs.var_dir.parent, opts.pg_url) as url:
            started = time.perf_counter()
            world = await seed(url, procs.var_dir, opts.members)
            print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
            extra = {"BESTOW_REDIS_URL": opts.redis_url, "BESTOW_REDIS_PREFIX": prefix}
            env = bestow_env(url, procs.var_dir, **extra)
            api1, base1 = await procs.serve(env)
            if opts.control:  # a budget of its own: the check must then fail
                env = env | {"BESTOW_REDIS_PREFIX": f"{prefix}:control"}
            api2, base2 = await procs.serve(env)
            worker_env = bestow_env(url, procs.var_dir, BESTOW_LOG_LEVEL="INFO", **extra)
            workers = await procs.start_workers(
                {"worker": [venv_script("bestow"), "worker"]}, worker_env
            )
            apis = [api1, api2]
            bases = [base1, base2]
            ports = [int(b.rsplit(":", 1)[1]) for b in bases]
            async with httpx.AsyncClient(base_url=base1, timeout=10) as http:
                voucher_token = await oauth_token(
                    http, world.voucher_client_id, world.voucher_secret
                )
                loyalty_token = await oauth_token(
                    http, world.loyalty_client_id, world.loyalty_secret
                )
            partner = {
                "Authorization": f"Bearer {world.partner_token}",
                "X-ClientId": world.partner_id,
                "Accept-Version": "v4.0",
            }
            await open_sessions(base2, loyalty_token, world)
            mix = Mix(
                world,
                partner,
                {"Authorization": f"Bearer {voucher_token}"},
                {"Authorization": f"Bearer {loyalty_token}"},
            )
            mix.jobs.append(await first_job(base1, partner, world))

            probe = Probe(url)
            await probe.open()
            try:

                async def sample_cpu() -> dict[str, Any]:
                    return {
                        "t": time.perf_counter(),
                        "api": procs_cpu(apis),
                        "worker": procs_cpu(workers),
                        "db": await probe.backend_cpu(),
                        "redis": {rpid: proc_cpu(rpid) or 0.0} if rpid else {},
                        "bench": {0: time.process_time()},
                    }

                print(
                    f"  mix: {opts.rate:g} req/s, {opts.warmup:g} s warm-up + "
                    f"{opts.duration:g} s, ports {ports} ...",
                    flush=True,
                )
                load_before = os.getloadavg()[0]
                under_load = None
                if opts.budget_under_load:
                    prefixes = [prefix, f"{prefix}:control"] if opts.control else [prefix]

                    async def midway() -> dict[str, Any]:
                        await asyncio.sleep(opts.warmup + opts.duration / 3)
                        return await run_budget(world, bases, opts.redis_url, prefixes)

                    under_load = asyncio.create_task(midway())
                mixed = await run_mix(opts, mix, ports, sample_cpu)
                if under_load is not None:
                    report["budget_under_load"] = await under_load
                before, after = mixed.pop("cpu")
                span = after["t"] - before["t"]
                mixed["cores"] = {
                    name: round(cpu_delta(before[name], after[name]) / span, 3)
                    for name in ("api", "worker", "db", "redis", "bench")
                }
                mixed["cores"]["api_each"] = [
                    round((after["api"][p.pid] - before["api"][p.pid]) / span, 3) for p in apis
                ]
                mixed["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                report["mix"] = mixed
                report["jobs"] = await wait_jobs(probe, mix.jobs, workers)
            finally:
                await probe.close()
            print(
                f"  budget: {BURST_REQUESTS} requests over {BURST_SECONDS:g} s, default tier, "
                "alternating ports ...",
                flush=True,
            )
            report["settle_s"] = await settle(bases)
            prefixes = [prefix, f"{prefix}:control"] if opts.control else [prefix]
            report["budget"] = await run_budget(world, bases, opts.redis_url, prefixes)
            for proc in [*workers, *apis]:
                procs.stop(proc)
    finally:
        deleted = await delete_redis_keys(opts.redis_url, prefix)
        report["config"]["redis_keys_deleted"] = deleted
    return report


# --- report --------------------------------------------------------------------------------------


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"\nload average at start: {report['load_average']}"]
    mixed = report.get("mix")
    if mixed:
        c = report["config"]
        lines.append(
            f"\nmixed workload, open loop: {c['rate']:g} req/s offered for {c['duration']:g} s "
            f"(after {c['warmup']:g} s), 2 API processes + 1 worker; latency from the scheduled "
            "time (service: from the write on a connection)"
        )
        lines.append(
            f"{'route':<40}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
            f"{'svc p50':>9}{'svc p99':>9}{'errors':>8}  statuses"
        )
        for route, r in mixed["routes"].items():
            lines.append(
                f"{route:<40}{r['count']:>7}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']!s:>9}"
                f"{r['service_p50_ms']:>9}{r['service_p99_ms']:>9}{r['errors']:>8}  "
                f"{r['statuses']}"
            )
        lines.append(
            f"{'all':<40}{mixed['answered']:>7}{mixed['p50_ms']:>9}{mixed['p99_ms']:>9}"
            f"{'':>9}{'':>9}{'':>9}{mixed['errors']:>8}"
        )
        cores = mixed["cores"]
        lines.append(
            f"achieved {mixed['achieved_rps']} req/s of {mixed['offered_rps']:g} offered; "
            f"send lag p99 {mixed['send_lag_p99_ms']} ms, max {mixed['send_lag_max_ms']} ms; "
            f"connections peak per port {mixed['connections_peak']}"
        )
        lines.append(
            f"cores used: API {cores['api']} ({' + '.join(map(str, cores['api_each']))}), "
            f"worker {cores['worker']}, PostgreSQL {cores['db']}, Redis {cores['redis']}, "
            f"bench {cores['bench']}; load average {mixed['load_average']}"
        )
    jobs = report.get("jobs")
    if jobs:
        lines.append(
            f"issuance jobs: {jobs['jobs']}, completed {jobs.get('completed', 0)}, failed "
            f"{jobs.get('failed', 0)}, {jobs['rewards']} rewards, "
            f"{jobs['identifier_failures']} identifiers refused (waited {jobs['waited_s']} s)"
        )
    for name, when in (("budget_under_load", "during the mix"), ("budget", "after it")):
        b = report.get(name)
        if not b:
            continue
        lines.append(
            f"\nbudget, default tier ({BUDGET_PER_SECOND}/s moving window), {b['requests']} "
            f"requests over {b['seconds']:g} s alternating the 2 API processes, {when}"
        )
        lines.append(
            f"accepted {b['accepted']} (by port {b['accepted_by_port']}), 429 "
            f"{b['refused_429']} (Retry-After {', '.join(b['retry_after_values']) or '-'}; "
            f"without: {b['refused_without_retry_after']}), other {b['other'] or 0}"
        )
        lines.append(
            f"server stamps read from Redis: {b['server_stamps']} (complete: "
            f"{b['server_stamps_complete']}); accepted per second of server time "
            f"{b['accepted_per_server_second']}, most in any 1 s window "
            f"{b['max_accepted_in_1s_by_server']}, runs of 6 within 1 s: {b['server_overflows']}"
        )
        lines.append(
            f"by the time each stamp appeared in Redis: most in any 1 s window "
            f"{b['max_accepted_in_1s_by_push']}, surely 6 within 1 s: {b['pushed_overflows']}; "
            f"stamps out of order {b['stamps_out_of_order']} (at most "
            f"{b['stamp_max_behind_ms']} ms behind), a stamp reached Redis at least "
            f"{b['stamp_to_push_at_least_ms']} ms after it was taken"
        )
        lines.append(
            f"accepted per second of the burst (midpoint of send and response): "
            f"{b['accepted_per_second']}; most in any 1 s window: "
            f"{b['max_accepted_in_1s_by_midpoint']} by midpoint, "
            f"{b['max_accepted_in_1s_by_send']} by send; surely over budget: "
            f"{b['proven_overflows']}; by Date header: {b['accepted_per_date_second']}; "
            f"slowest response {b['max_response_ms']} ms"
        )
        lines.append("budget held" if b["ok"] else "BUDGET NOT HELD")
    return lines


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BESTOW_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument(
        "--redis-url", default=os.environ.get("BESTOW_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--rate", type=float, help="requests/s offered (100; --quick 40)")
    parser.add_argument("--duration", type=float, help="measured seconds (30; --quick 5)")
    parser.add_argument("--warmup", type=float, help="seconds, not recorded (5; --quick 2)")
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 40 req/s for 5 s")
    parser.add_argument(
        "--control",
        action="store_true",
        help="give the second API process a Redis prefix of its own (budgets not shared): "
        "the budget check must then fail, a test of the check itself",
    )
    parser.add_argument(
        "--budget-under-load",
        action="store_true",
        help="also run the budget burst a third of the way into the measured mix",
    )
    parser.add_argument("--keep-logs", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    opts = Options(
        pg_url=args.pg_url,
        redis_url=args.redis_url,
        rate=args.rate or (40.0 if args.quick else 100.0),
        duration=args.duration or (5.0 if args.quick else 30.0),
        warmup=args.warmup if args.warmup is not None else (2.0 if args.quick else 5.0),
        members=args.members,
        quick=args.quick,
        control=args.control,
        budget_under_load=args.budget_under_load,
        keep_logs=args.keep_logs,
    )
    if not 0 < opts.rate <= 2_000 or not 0 < opts.duration <= 600 or not 0 <= opts.warmup <= 120:
        parser.error("--rate in (0, 2000], --duration in (0, 600], --warmup in [0, 120]")
    if opts.members < max(SESSIONS, 100):
        parser.error(f"--members must be at least {max(SESSIONS, 100)}")
    return opts


def failed(report: dict[str, Any]) -> str | None:
    if not report["budget"]["ok"]:
        return "the budget of the default tier was not held"
    if not report.get("budget_under_load", {"ok": True})["ok"]:
        return "the budget of the default tier was not held during the mix"
    mixed = report["mix"]
    if mixed["errors"] > ERROR_SHARE * max(1, mixed["scheduled"]):
        return f"{mixed['errors']} of {mixed['scheduled']} mix requests failed"
    jobs = report["jobs"]
    if jobs.get("completed", 0) != jobs["jobs"]:
        return f"{jobs['jobs'] - jobs.get('completed', 0)} issuance jobs did not complete"
    return None


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    print("bench: load (mixed workload, 2 API processes sharing Redis)", flush=True)
    with bench_dirs("bestow-bench-load-", opts.keep_logs) as tmp:
        procs = Processes(opts, tmp / "var", tmp / "logs")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleaned up as Ctrl-C is
        try:
            try:
                import uvloop
            except ImportError:
                report = asyncio.run(run(opts, procs))
            else:
                report = uvloop.run(run(opts, procs))
        except (BenchFailed, WrongResult, KeyboardInterrupt) as exc:
            return failure_status(exc)
        finally:
            procs.stop_all()
    problem = failed(report)
    report["ok"] = problem is None
    print_report(report, report_lines(report), [], "")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
