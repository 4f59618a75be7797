"""Operator API (Gamnify-compatible, ``/v1``): bulk enrollment of 10,000 players through the
worker, and single enrollments and free bets under concurrent load.

Everything runs against a fresh PostgreSQL database (``CREATE DATABASE bestow_bench_<random>`` on
``--pg-url``, dropped at the end; ``benchkit.database``), migrated and seeded through the services
(an operator client on the ``unlimited`` tier with the scope ``operator.campaigns`` and a
``primary`` shared key), and real processes on 127.0.0.1 only. Every request is signed as an
operator signs it (``X-AUTH-OPERATOR-ID``, ``X-AUTH-REQUEST-HASH`` = SHA-256 of key + relative URL
+ body, computed here with hashlib). The campaign (started an hour ago) and, per round, a Fixed
``FreeBets`` reward (0.50 EUR x 10 bets, for 30 days) are created over HTTP.

Phases:

1. ``bulk``: ``bestow serve --no-worker`` and ``--workers`` (1) ``bestow worker`` processes.
   ``--rounds`` (3) rounds, each on a fresh reward: ``POST /v1/rewards/{id}/enrollments/bulk``
   with ``--players`` (10,000) distinct player ids, then ``GET .../enrollments/bulk/{bulkId}``
   every 0.05 s until it reads ``Completed``; each round starts after a 1 s pause. Time: from
   sending the POST to the first ``Completed`` read (``seconds``); ``submit`` is the POST alone
   (202); ``queued`` and ``worker`` split the rest from the database's own stamps (to the
   microsecond, unlike the API's ``startedAtUtc``/``completedAtUtc``, to the second): accepted
   to the first chunk, and the first chunk to the job's end. CPU per player of the worker
   processes, of the API server and of the database's backends (``/proc``; the server's and the
   backends' include the status polls). Then one more round, ``existing``: a reward with the
   first half of the players enrolled beforehand (a bulk of its own, untimed), then the same
   timed bulk of ``--players``: half enrolled, half existing.
2. ``api``: a fresh reward (Fixed, 1,000 bets), ``--clients`` (16) concurrent clients, one
   keep-alive connection and one request in flight each, for ``--warmup`` s unrecorded then
   ``--duration`` s recorded: first ``POST /v1/rewards/{id}/enrollments`` (a new player each
   time), then ``POST /v1/enrollments/{id}/bets`` (a new ``betId`` each time, the client's
   enrollments in turn). Printed: requests/s, p50/p99 latency, errors, CPU per request of the
   server and the database's backends (sampled every 0.2 s: the server's pool opens and closes
   overflow connections under 16 clients, and a backend's CPU goes with it when it exits).

Checks (exit status 1 when one fails, 2 when a process does not start or a bulk does not finish
in ``--timeout`` s): every bulk ``Completed`` with ``enrolledCount`` (and ``existingCount``) as
expected and no failures; straight from the database, the reward has one ``operator_enrollments``
row per player and one ``freebets.enrolled`` outbox event per enrollment; every API request
answered 200 and each bet counted once. The last line is JSON with every figure.

Not ``bench/operator.py``: that name would shadow the standard library's
``operator`` module for every script run from ``bench/`` (``import asyncio`` finds it first), so
the bench is ``bench/operator_api.py``.

    .venv/bin/python bench/operator_api.py [--quick] [--phases bulk,api] [--rounds 3]
        [--players 10000] [--workers 1] [--no-existing] [--clients 16] [--duration 10]
        [--timeout 600] [--profile DIR] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchkit
import httpx
from benchkit import (
    DEFAULT_PG_URL,
    BenchFailed,
    DirectReader,
    Proc,
    WrongResult,
    bench_dirs,
    bench_runtime,
    bestow_env,
    check_alive,
    cprofiled,
    cpu_delta,
    database,
    failure_status,
    print_report,
    proc_cpu,
    procs_cpu,
    venv_script,
)

PHASES = ("bulk", "api")
OPERATOR_ID = 4242
PRODUCT = "bench-slots"
BET_VALUE = 0.5
BET_COUNT = 10
API_BET_COUNT = 1_000
POLL_SECONDS = 0.05
EVENT = "freebets.enrolled"
SETTLE_SECONDS = 1.0


@dataclass
class Options:
    pg_url: str
    phases: list[str]
    rounds: int
    players: int
    workers: int
    existing: bool
    clients: int
    warmup: float
    duration: float
    timeout: float
    profile: Path | None
    keep_logs: Path | None


@dataclass
class Signer:
    """An operator's credentials and the documented request hash."""

    operator_id: int
    key: str

    def headers(self, url: str, body: bytes = b"") -> dict[str, str]:
        digest = hashlib.sha256(self.key.encode() + url.rstrip("/").encode() + body).hexdigest()
        return {
            "X-AUTH-OPERATOR-ID": str(self.operator_id),
            "X-AUTH-REQUEST-HASH": digest,
            "Content-Type": "application/json",
        }


@dataclass
class World:
    url: str
    signer: Signer
    campaign_id: str = ""
    rewards: list[str] = field(default_factory=list)


# --- seed ----------------------------------------------------------------------------------------


async def seed(url: str, var_dir: Path) -> World:
    """Through the services: an operator client (``unlimited`` tier) and its primary key."""
    from bestow.clients import service as clients
    from bestow.kit.actor import Actor

    actor = Actor("bench")
    runtime = bench_runtime(url, var_dir)
    try:
        async with runtime.db.write_session() as session:
            client = await clients.create_client(
                session,
                name="bench-operator",
                scopes=["operator.campaigns"],
                rate_limit_tier="unlimited",
                known_tiers=runtime.rate_limiter.tier_names(),
                operator_id=OPERATOR_ID,
                actor=actor,
            )
            issued = await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=client.id,
                kind=clients.OPERATOR_KEY,
                label="primary",
                actor=actor,
            )
            await session.commit()
        return World(url=url, signer=Signer(OPERATOR_ID, issued.secret))
    finally:
        await runtime.db.dispose()


class Probe(DirectReader):
    """Direct reads of a reward's enrollments and their events (not through the API)."""

    async def enrolled(self, reward_id: str) -> tuple[int, int, int]:
        """(enrollment rows, distinct players, ``freebets.enrolled`` events of those rows)."""
        rows, players = await self._pg.fetchrow(
            "SELECT count(*), count(DISTINCT operator_player_id) FROM operator_enrollments "
            "WHERE reward_id = $1",
            reward_id,
        )
        events = await self._pg.fetchval(
            "SELECT count(*) FROM outbox_events o JOIN operator_enrollments e "
            "ON e.id = o.subject_id WHERE o.type = $1 AND e.reward_id = $2",
            EVENT,
            reward_id,
        )
        return int(rows), int(players), int(events)

    async def stamps(self, batch_id: str) -> tuple[float, float]:
        """(queued, worked) seconds of a bulk, from full-resolution stamps: accepted (its
        ``created_at``) to its first chunk (``started_at``), and from there to its job's
        ``finished_at`` (the task returned)."""
        queued, worked = await self._pg.fetchrow(
            "SELECT extract(epoch FROM b.started_at - b.created_at), "
            "extract(epoch FROM j.finished_at - b.started_at) "
            "FROM operator_enrollment_batches b JOIN jobs j ON j.unique_key = 'enrol:' || b.id "
            "WHERE b.id = $1",
            batch_id,
        )
        return float(queued), float(worked)

    async def bets(self, reward_id: str) -> tuple[int, int]:
        """(free bets used, bets counted off the enrollments) of a reward."""
        used = await self._pg.fetchval(
            "SELECT count(*) FROM operator_free_bets b JOIN operator_enrollments e "
            "ON e.id = b.enrollment_id WHERE e.reward_id = $1",
            reward_id,
        )
        counted = await self._pg.fetchval(
            "SELECT coalesce(sum(total_bet_count - remaining_bet_count), 0) "
            "FROM operator_enrollments WHERE reward_id = $1",
            reward_id,
        )
        return int(used), int(counted)


class BackendCpu:
    """CPU seconds of the database's backends over a span, sampled every 0.2 s: a backend that
    exits during it (a pool's overflow connection) keeps what it had used at its last sample,
    where a before/after difference would lose all of it."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.before: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.before = await self.probe.backend_cpu()
        self.seen = dict(self.before)
        self.task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self.seen |= await self.probe.backend_cpu()

    async def stop(self) -> float:
        """The seconds used since ``start`` (the probe is free again once this returns)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.seen |= await self.probe.backend_cpu()
        return cpu_delta(self.before, self.seen)


# --- HTTP ----------------------------------------------------------------------------------------


async def signed(
    http: httpx.AsyncClient, signer: Signer, method: str, url: str, body: Any = None
) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return await http.request(method, url, content=content, headers=signer.headers(url, content))


async def expect(
    http: httpx.AsyncClient, signer: Signer, method: str, url: str, body: Any, status: int
) -> dict[str, Any]:
    """``data`` of a signed request that must answer ``status``."""
    response = await signed(http, signer, method, url, body)
    if response.status_code != status:
        raise WrongResult(f"{method} {url}: {response.status_code} {response.text[:300]}")
    data: dict[str, Any] = response.json()["data"]
    return data


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def create_campaign(http: httpx.AsyncClient, world: World) -> None:
    body = {
        "name": "Bench campaign",
        "startTimeUtc": _utc(datetime.now(UTC) - timedelta(hours=1)),
        "createdBy": "bench@example.com",
    }
    world.campaign_id = (await expect(http, world.signer, "POST", "/v1/campaigns", body, 200))["id"]


async def create_reward(
    http: httpx.AsyncClient, world: World, name: str, bet_count: int = BET_COUNT
) -> str:
    now = datetime.now(UTC)
    body = {
        "rewardType": "FreeBets",
        "name": name,
        "products": [PRODUCT],
        "startTimeUtc": _utc(now - timedelta(minutes=30)),
        "endTimeUtc": _utc(now + timedelta(days=30)),
        "createdBy": "bench@example.com",
        "freeBetDetails": {
            "freeBetDetailsType": "Fixed",
            "betValue": BET_VALUE,
            "currencyIsoCode": "EUR",
            "betCount": bet_count,
        },
    }
    url = f"/v1/campaigns/{world.campaign_id}/rewards"
    reward_id: str = (await expect(http, world.signer, "POST", url, body, 200))["id"]
    world.rewards.append(reward_id)
    return reward_id


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


# --- processes -----------------------------------------------------------------------------------


class Processes(benchkit.BenchProcesses[Options]):
    async def api(self, url: str) -> tuple[Proc, str]:
        """``bestow serve --no-worker``; returns it with its base URL once ``/healthz`` answers."""
        return await self.serve(bestow_env(url, self.var_dir))

    async def workers(self, url: str, count: int) -> list[Proc]:
        commands = {}
        for n in range(count):
            command = [venv_script("bestow"), "worker"]
            if self.opts.profile is not None:
                out = self.opts.profile / f"bulk-worker{n + 1}.prof"
                self.profiles.append(out)
                command = cprofiled(command, out)
            commands[f"worker{n + 1}of{count}"] = command
        env = bestow_env(url, self.var_dir, BESTOW_LOG_LEVEL="INFO")  # INFO for worker.started
        return await self.start_workers(commands, env)


# --- phase 1: bulk enrollment --------------------------------------------------------------------


async def bulk_once(
    opts: Options,
    http: httpx.AsyncClient,
    world: World,
    reward_id: str,
    players: list[str],
    workers: list[Proc],
) -> dict[str, Any]:
    """One bulk enrollment, from sending the POST to the first ``Completed`` read."""
    signer = world.signer
    base = f"/v1/rewards/{reward_id}/enrollments/bulk"
    content = json.dumps({"operatorPlayerIds": players, "createdBy": "bench"}).encode()
    started = time.perf_counter()
    response = await http.post(base, content=content, headers=signer.headers(base, content))
    submitted = time.perf_counter() - started
    if response.status_code != 202:
        raise WrongResult(f"POST {base}: {response.status_code} {response.text[:300]}")
    accepted = response.json()["data"]
    if accepted["status"] != "Pending":
        raise WrongResult(f"POST {base}: status {accepted['status']}, not Pending")
    url = f"{base}/{accepted['id']}"
    deadline = started + opts.timeout
    while True:
        batch = await expect(http, signer, "GET", url, None, 200)
        now = time.perf_counter()
        if batch["status"] in ("Completed", "Failed"):
            break
        if now > deadline:
            raise BenchFailed(
                f"bulk {accepted['id']} {batch['status']} after {opts.timeout} s "
                f"({batch['processedCount']} of {batch['totalCount']} processed)"
            )
        check_alive(workers)
        await asyncio.sleep(POLL_SECONDS)
    return {"batch": batch, "seconds": now - started, "submit_s": submitted}


async def bulk_round(
    opts: Options,
    http: httpx.AsyncClient,
    world: World,
    probe: Probe,
    api: Proc,
    workers: list[Proc],
    name: str,
    existing: int,
) -> dict[str, Any]:
    """A timed bulk of ``--players`` on a fresh reward, ``existing`` of them enrolled before."""
    reward_id = await create_reward(http, world, f"Bench {name}")
    players = [f"bench-{name}-player-{i:06d}" for i in range(opts.players)]
    if existing:
        before = await bulk_once(opts, http, world, reward_id, players[:existing], workers)
        if before["batch"]["enrolledCount"] != existing:
            raise WrongResult(f"{name}: pre-enrolled {before['batch']['enrolledCount']}")
    print(f"  bulk {name}: {opts.players:,} players ({existing:,} enrolled before) ...", flush=True)
    # Started right after the bulk before, a bulk measured more (a half-existing one of 10,000:
    # 1.1 s, against 0.7 s after a pause): what runs on once a bulk reads Completed.
    await asyncio.sleep(SETTLE_SECONDS)
    worker_before = procs_cpu(workers)
    api_before = {api.pid: proc_cpu(api.pid) or 0.0}
    backends = BackendCpu(probe)
    await backends.start()
    load_before = os.getloadavg()[0]
    try:
        result = await bulk_once(opts, http, world, reward_id, players, workers)
    finally:
        db_cpu = await backends.stop()
    worker_cpu = cpu_delta(worker_before, procs_cpu(workers))
    api_cpu = cpu_delta(api_before, {api.pid: proc_cpu(api.pid) or 0.0})
    batch = result["batch"]
    fresh = opts.players - existing
    wanted = {
        "status": "Completed",
        "totalCount": opts.players,
        "processedCount": opts.players,
        "enrolledCount": fresh,
        "existingCount": existing,
        "failedCount": 0,
    }
    got = {key: batch[key] for key in wanted}
    if got != wanted:
        raise WrongResult(f"{name}: bulk answered {got}, expected {wanted}")
    rows, distinct, events = await probe.enrolled(reward_id)
    queued, worked = await probe.stamps(batch["id"])
    if (rows, distinct, events) != (opts.players,) * 3:
        raise WrongResult(
            f"{name}: {rows} enrollment rows ({distinct} players), {events} {EVENT} events; "
            f"expected {opts.players} of each"
        )
    seconds = result["seconds"]
    return {
        "round": name,
        "players": opts.players,
        "enrolled": fresh,
        "existing": existing,
        "seconds": round(seconds, 3),
        "submit_s": round(result["submit_s"], 3),
        "queued_s": round(queued, 3),
        "worker_s": round(worked, 3),
        "api_stamps_s": _seconds_between(batch["startedAtUtc"], batch["completedAtUtc"]),
        "players_per_s": round(opts.players / seconds),
        "worker_cpu_us_per_player": round(worker_cpu / opts.players * 1e6, 1),
        "api_cpu_us_per_player": round(api_cpu / opts.players * 1e6, 1),
        "db_cpu_us_per_player": round(db_cpu / opts.players * 1e6, 1),
        "rows": rows,
        "events": events,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


async def bulk_phase(opts: Options, procs: Processes, world: World) -> dict[str, Any]:
    api, base = await procs.api(world.url)
    probe = Probe(world.url)
    await probe.open()
    workers: list[Proc] = []
    try:
        workers = await procs.workers(world.url, opts.workers)
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            if not world.campaign_id:
                await create_campaign(http, world)
            rounds = [
                await bulk_round(opts, http, world, probe, api, workers, f"r{n + 1}", 0)
                for n in range(opts.rounds)
            ]
            half = None
            if opts.existing:
                half = await bulk_round(
                    opts, http, world, probe, api, workers, "existing", opts.players // 2
                )
    finally:
        for proc in reversed(workers):
            procs.stop(proc)
        await probe.close()
        procs.stop(api)
    times = [r["seconds"] for r in rounds]
    median = statistics.median(times)
    return {
        "workers": opts.workers,
        "players": opts.players,
        "rounds": rounds,
        "median_s": round(median, 3),
        "median_players_per_s": round(opts.players / median),
        "existing": half,
    }


# --- phase 2: single enrollments and bets --------------------------------------------------------


async def load(
    opts: Options,
    base: str,
    make: list[Any],
) -> tuple[list[float], int, float]:
    """``--clients`` loops, one request in flight each; ``make[n]()`` gives client ``n``'s next
    (url, body, check). Returns (latencies of the measured phase, its errors, its span)."""
    latencies: list[float] = []
    errors = 0
    recording = False
    stop_at = time.perf_counter() + opts.warmup + opts.duration

    async def one_client(next_request: Any) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while time.perf_counter() < stop_at:
                url, content, headers, check = next_request()
                started = time.perf_counter()
                response = await http.post(url, content=content, headers=headers)
                elapsed = time.perf_counter() - started
                ok = response.status_code == 200 and check(response)
                if recording:
                    latencies.append(elapsed)
                    errors += not ok
                elif not ok:
                    errors += 1

    tasks = [asyncio.create_task(one_client(m)) for m in make]
    await asyncio.sleep(opts.warmup)
    recording = True
    measured_from = time.perf_counter()
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - measured_from


async def api_phase(opts: Options, procs: Processes, world: World) -> dict[str, Any]:
    api, base = await procs.api(world.url)
    probe = Probe(world.url)
    await probe.open()
    signer = world.signer
    results: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            if not world.campaign_id:
                await create_campaign(http, world)
            reward_id = await create_reward(http, world, "Bench api", API_BET_COUNT)
        enrolled: list[list[str]] = [[] for _ in range(opts.clients)]

        def enrol_maker(n: int) -> Any:
            count = 0
            url = f"/v1/rewards/{reward_id}/enrollments"

            def check(response: httpx.Response) -> bool:
                data = response.json()["data"]
                enrolled[n].append(data["id"])
                return bool(data["status"] == "New")

            def next_request() -> tuple[str, bytes, dict[str, str], Any]:
                nonlocal count
                count += 1
                body = json.dumps({"operatorPlayerId": f"api-c{n}-p{count}"}).encode()
                return url, body, signer.headers(url, body), check

            return next_request

        def bet_maker(n: int) -> Any:
            count = 0

            def check(response: httpx.Response) -> bool:
                return bool(response.json()["data"]["remainingBetCount"] >= 0)

            def next_request() -> tuple[str, bytes, dict[str, str], Any]:
                nonlocal count
                count += 1
                mine = enrolled[n]
                url = f"/v1/enrollments/{mine[count % len(mine)]}/bets"
                body = json.dumps({"betId": f"bet-c{n}-{count}", "product": PRODUCT}).encode()
                return url, body, signer.headers(url, body), check

            return next_request

        for name, maker in (("enrol", enrol_maker), ("bet", bet_maker)):
            print(f"  api: {name}, {opts.clients} clients, {opts.duration} s ...", flush=True)
            server_before = {api.pid: proc_cpu(api.pid) or 0.0}
            backends = BackendCpu(probe)
            await backends.start()
            load_before = os.getloadavg()[0]
            try:
                latencies, errors, span = await load(
                    opts, base, [maker(n) for n in range(opts.clients)]
                )
            finally:
                db = await backends.stop()
            server = cpu_delta(server_before, {api.pid: proc_cpu(api.pid) or 0.0})
            total = max(1.0, len(latencies) * (opts.warmup + opts.duration) / opts.duration)
            results[name] = {
                "requests": len(latencies),
                "rps": round(len(latencies) / span, 1),
                "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
                "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
                "errors": errors,
                "server_cpu_ms_per_request": round(server / total * 1000, 2),
                "db_cpu_ms_per_request": round(db / total * 1000, 2),
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
            if errors:
                raise WrongResult(f"api {name}: {errors} requests failed")
        rows, distinct, events = await probe.enrolled(reward_id)
        made = sum(len(ids) for ids in enrolled)
        if (rows, distinct, events) != (made,) * 3:
            raise WrongResult(
                f"api: {rows} enrollment rows ({distinct} players), {events} events; "
                f"{made} enrollments answered"
            )
        used, counted = await probe.bets(reward_id)
        if used != counted:
            raise WrongResult(f"api: {used} bets stored but {counted} counted off enrollments")
        results["checked"] = {"enrollments": rows, "bets": used}
    finally:
        await probe.close()
        procs.stop(api)
    return results


# --- report --------------------------------------------------------------------------------------


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"\nload average at start: {report['load_average']}"]
    bulk = report.get("bulk")
    if bulk:
        lines.append(
            f"\nPOST /v1/rewards/{{id}}/enrollments/bulk of {bulk['players']:,} players until "
            f"Completed, {bulk['workers']} worker(s) (CPU us per player)"
        )
        lines.append(
            f"{'round':<10}{'seconds':>9}{'submit':>8}{'queued':>8}{'worker':>8}"
            f"{'players/s':>11}{'wrk us':>8}{'api us':>8}{'db us':>8}  load"
        )
        rows = list(bulk["rounds"]) + ([bulk["existing"]] if bulk.get("existing") else [])
        for r in rows:
            lines.append(
                f"{r['round']:<10}{r['seconds']:>9}{r['submit_s']:>8}{r['queued_s']:>8}"
                f"{r['worker_s']:>8}{r['players_per_s']:>11}"
                f"{r['worker_cpu_us_per_player']:>8}{r['api_cpu_us_per_player']:>8}"
                f"{r['db_cpu_us_per_player']:>8}  {r['load_average']}"
            )
        lines.append(
            f"median of {len(bulk['rounds'])}: {bulk['median_s']} s for {bulk['players']:,} "
            f"players, {bulk['median_players_per_s']:,} enrollments/s"
        )
    api = report.get("api")
    if api:
        lines.append(
            f"\nsingle requests, {report['config']['clients']} clients (CPU ms per request)"
        )
        lines.append(
            f"{'request':<9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'server':>8}"
            f"{'db':>7}  load"
        )
        for name in ("enrol", "bet"):
            r = api[name]
            lines.append(
                f"{name:<9}{r['rps']:>8}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['errors']:>8}"
                f"{r['server_cpu_ms_per_request']:>8}{r['db_cpu_ms_per_request']:>7}"
                f"  {r['load_average']}"
            )
    return lines


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BESTOW_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 2,000, 2 s")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--players", type=int)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-existing", action="store_true", help="skip the half-existing round")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="workers under cProfile")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    if set(phases) - set(PHASES):
        parser.error(f"--phases takes {', '.join(PHASES)}")
    players = args.players or (2_000 if args.quick else 10_000)
    if not 2 <= players <= 10_000:
        parser.error("--players takes 2 to 10000 (the API's limit per bulk)")
    return Options(
        pg_url=args.pg_url,
        phases=phases,
        rounds=args.rounds or (1 if args.quick else 3),
        players=players,
        workers=args.workers,
        existing=not args.no_existing,
        clients=args.clients,
        warmup=args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0),
        duration=args.duration or (2.0 if args.quick else 10.0),
        timeout=args.timeout,
        profile=args.profile,
        keep_logs=args.keep_logs,
    )


async def run(opts: Options, procs: Processes, tmp: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "config": {
            "rounds": opts.rounds,
            "players": opts.players,
            "workers": opts.workers,
            "clients": opts.clients,
            "duration": opts.duration,
        },
    }
    async with database("postgresql", tmp, opts.pg_url) as url:
        world = await seed(url, procs.var_dir)
        if "bulk" in opts.phases:
            report["bulk"] = await bulk_phase(opts, procs, world)
        if "api" in opts.phases:
            report["api"] = await api_phase(opts, procs, world)
    return report


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    print(f"bench: operator, phases {','.join(opts.phases)}", flush=True)
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
    with bench_dirs("bestow-bench-operator-", opts.keep_logs) as tmp:
        procs = Processes(opts, tmp / "var", tmp / "logs")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleaned up as Ctrl-C is
        try:
            report = asyncio.run(run(opts, procs, tmp))
        except (BenchFailed, WrongResult, KeyboardInterrupt) as exc:
            return failure_status(exc)
        finally:
            procs.stop_all()
    print_report(report, report_lines(report), procs.profiles, "the workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
