"""Loyalty API ad hoc awards under concurrent load, and the points ledger checked afterwards.

Everything runs against a fresh PostgreSQL database (``CREATE DATABASE bestow_bench_<random>`` on
``--pg-url``, dropped at the end; ``benchkit.database``), migrated and seeded through the services,
and one real ``bestow serve`` process (with its in-process worker unless ``--no-worker``) on
127.0.0.1 only.

1. Seed: a merchant with a business unit and an ad hoc reward definition, ``--members`` (2,000)
   members by COPY, an OAuth client on the ``unlimited`` tier with the scope
   ``loyalty.adhoc_reward``, the ad hoc feature and the merchant granted.
2. ``sessions`` (timed on its own): a token from ``POST /oauth2/token``, then one
   ``POST /client/users/{email}/sessions`` (``X-Identifier-Type: EMAIL``) per member, ``--clients``
   at a time; every one must answer 200.
3. ``awards``: ``--clients`` (16) concurrent clients, one keep-alive connection and one request in
   flight each (raw asyncio protocols, ``loadgen.HttpClient``: the bench's own CPU stays small),
   send ``POST /client/users/{correlationId}/adhoc-reward/`` to random members, each with its own
   ``externalReferenceId``, for ``--warmup`` s unrecorded then ``--duration`` s recorded. A
   request to a member with points is a deduction with odds ``--deduct-share`` (0.2), of at most
   50 points and less than the member's confirmed balance minus the deductions in flight, so
   that none is refused and no balance reaches zero; the others award 1 to 100 points. Printed:
   awards/s, p50/p99 latency, errors (anything but 200), CPU per request of the server, the
   database's backends and the bench itself (``/proc``, measured phase only), the ratio to the
   aim of 1,000 awards/s and the load average.
4. Checks, straight from the database: every member's balance equals the sum of its account's
   entries and what the bench's own 200s add up to; every transaction has two entries that sum
   to zero; no balance is negative; there are as many transactions as requests answered 200.
   Exit status 1 when one fails (or a request failed), 2 when a process does not start.

``--profile DIR`` runs ``bestow serve`` under cProfile (``DIR/serve.prof``; read with
``python -m pstats``; cProfile roughly doubles the server's CPU). The last line is JSON.

    .venv/bin/python bench/loyalty.py [--quick] [--members 2000] [--clients 16] [--duration 10]
        [--deduct-share 0.2] [--no-worker] [--profile DIR] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchkit
import httpx
from benchkit import (
    DEFAULT_PG_URL,
    HOST,
    BenchFailed,
    DirectReader,
    Proc,
    WrongResult,
    bench_dirs,
    bench_runtime,
    bestow_env,
    cprofiled,
    cpu_delta,
    database,
    failure_status,
    member_rows,
    oauth_token,
    print_report,
    tree_cpu,
)
from loadgen import HttpClient, Recorder, percentile, watchdog

AIM = 1_000
"""Ad hoc awards per second the Loyalty API should sustain."""
UNIT = "BENCH_UNIT"
REWARD = "BENCH_REWARD"
MAX_PER_TRANSACTION = 1_000
AWARD_POINTS = (1, 100)
DEDUCT_MAX = 50


@dataclass
class Options:
    pg_url: str
    members: int
    clients: int
    warmup: float
    duration: float
    deduct_share: float
    worker: bool
    processes: int
    profile: Path | None
    keep_logs: Path | None


@dataclass
class World:
    url: str
    oauth_client_id: str
    oauth_secret: str
    member_ids: list[str]
    emails: list[str]


# --- seed ----------------------------------------------------------------------------------------


async def seed(url: str, var_dir: Path, members: int) -> World:
    """Through the services: a merchant with its business unit and reward definition, members
    (COPY), an OAuth client with the ad hoc feature, granted the merchant."""
    from bestow.clients import service as clients
    from bestow.kit.actor import Actor
    from bestow.kit.db import bulk_insert, utcnow
    from bestow.loyalty import rewards
    from bestow.merchants import service as merchants
    from bestow.models import Member

    actor = Actor("bench")
    runtime = bench_runtime(url, var_dir)
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
                max_per_transaction=MAX_PER_TRANSACTION,
                actor=actor,
            )
            client = await clients.create_client(
                session,
                name="bench-loyalty",
                scopes=["loyalty.adhoc_reward"],
                rate_limit_tier="unlimited",
                known_tiers=runtime.rate_limiter.tier_names(),
                actor=actor,
            )
            secret = await clients.issue_credential(
                session, runtime.sealer, client_id=client.id, kind=clients.OAUTH_SECRET, actor=actor
            )
            await clients.grant_merchant(
                session, client_id=client.id, merchant_id=merchant.id, actor=actor
            )
            await rewards.set_adhoc_feature(session, client_id=client.id, enabled=True, actor=actor)
            emails = [f"member{i:06d}@example.com" for i in range(members)]
            rows = member_rows(merchant.id, emails, utcnow())
            await bulk_insert(session, Member.__table__, rows)
            await session.commit()
        return World(url, client.id, secret.secret, [str(r["id"]) for r in rows], emails)
    finally:
        await runtime.db.dispose()


class Ledger(DirectReader):
    """The checks of the points ledger, read straight from the database."""

    async def check(self, expected: dict[str, int], answered: int) -> dict[str, int]:
        """Counts of what is wrong (all 0 when the ledger holds) and of the transactions."""
        pg = self._pg
        unbalanced = await pg.fetchval(
            "SELECT count(*) FROM points_balances b FULL JOIN ("
            "  SELECT substr(account, 8) AS member_id, sum(amount) AS total FROM points_entries"
            "  WHERE account LIKE 'member:%' GROUP BY account"
            ") e USING (member_id) WHERE coalesce(b.balance, 0) <> coalesce(e.total, 0)"
        )
        lopsided = await pg.fetchval(
            "SELECT count(*) FROM points_transactions t LEFT JOIN ("
            "  SELECT transaction_id, sum(amount) AS total, count(*) AS n FROM points_entries"
            "  GROUP BY transaction_id"
            ") e ON e.transaction_id = t.id WHERE e.n IS DISTINCT FROM 2 OR e.total <> 0"
        )
        negative = await pg.fetchval("SELECT count(*) FROM points_balances WHERE balance < 0")
        transactions = await pg.fetchval("SELECT count(*) FROM points_transactions")
        stored = dict(await pg.fetch("SELECT member_id, balance FROM points_balances"))
        unexpected = sum(
            stored.get(m, 0) != expected.get(m, 0) for m in set(stored) | set(expected)
        )
        return {
            "balances_not_sum_of_entries": int(unbalanced),
            "transactions_not_summing_to_zero": int(lopsided),
            "negative_balances": int(negative),
            "balances_not_as_answered": int(unexpected),
            "transactions": int(transactions),
            "answered_200": answered,
        }


class Processes(benchkit.BenchProcesses[Options]):
    """Every process the bench starts; ``bestow serve`` under cProfile with ``--profile``."""

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Proc:
        if self.opts.profile is not None and name in ("serve", "api"):
            out = self.opts.profile / f"{name}.prof"
            self.profiles.append(out)
            command = cprofiled(command, out)
        return super().start(name, command, env)


# --- load ----------------------------------------------------------------------------------------


def post(path: str, token: str, body: dict[str, Any], **headers: str) -> bytes:
    """A raw HTTP/1.1 POST of ``body`` as JSON."""
    content = json.dumps(body).encode()
    extra = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + content


@dataclass
class Awards:
    """What the clients send and what came back: each member's balance as the bench's 200s add
    it up (``expected``), and a floor that counts deductions in flight, never credits."""

    token: str
    member_ids: list[str]
    deduct_share: float
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    sent: int = 0
    answered: int = 0
    deducted: int = 0
    unknown: int = 0
    expected: dict[str, int] = field(default_factory=dict)
    floor: dict[int, int] = field(default_factory=dict)

    def next(self) -> tuple[int, int, bytes]:
        """(member index, amount, request) of the next award or deduction."""
        member = self.rng.randrange(len(self.member_ids))
        floor = self.floor.get(member, 0)
        if floor > 1 and self.rng.random() < self.deduct_share:
            amount = -self.rng.randint(1, min(DEDUCT_MAX, floor - 1))
            self.floor[member] = floor + amount
        else:
            amount = self.rng.randint(*AWARD_POINTS)
        self.sent += 1
        body = {
            "channel": "APP",
            "businessUnit": UNIT,
            "issuerId": "BENCH",
            "rewardId": REWARD,
            "rewardAmount": amount,
            "externalReferenceId": f"bench-{self.sent}",
        }
        return member, amount, post(f"/client/users/c{member:06d}/adhoc-reward/", self.token, body)

    def done(self, member: int, amount: int, status: int | None) -> None:
        """``status`` None: no answer (the award may or may not have happened)."""
        if status == 200:
            self.answered += 1
            member_id = self.member_ids[member]
            self.expected[member_id] = self.expected.get(member_id, 0) + amount
            self.deducted += amount < 0
        if status is None:
            self.unknown += 1
        if amount > 0 and status == 200:
            self.floor[member] = self.floor.get(member, 0) + amount
        elif amount < 0 and status != 200:
            self.floor[member] = self.floor.get(member, 0) - amount


async def drive(
    port: int,
    clients: int,
    stop_at: float,
    recorder: Recorder,
    take: Callable[[], tuple[Any, bytes] | None],
    done: Callable[[Any, int | None], None],
) -> None:
    """``clients`` connections, one request in flight each, sending what ``take`` gives (until it
    gives None or ``stop_at``); ``done`` hears each outcome (None: no answer)."""
    loop = asyncio.get_running_loop()
    connections: set[HttpClient] = set()

    async def one() -> None:
        client: HttpClient | None = None
        while time.perf_counter() < stop_at:
            if client is None or client.lost or not client.keep_alive:
                if client is not None and client.transport is not None:
                    connections.discard(client)
                    client.transport.close()
                _, client = await loop.create_connection(HttpClient, HOST, port)
                connections.add(client)
            item = take()
            if item is None:
                break
            key, payload = item
            try:
                status = await client.request(payload, loop)
            except Exception as exc:
                done(key, None)
                recorder.fail(time.perf_counter(), exc)
                continue
            done(key, status)
            recorder.record(client.sent_at, time.perf_counter(), status)
        if client is not None and client.transport is not None:
            client.transport.close()

    dog = asyncio.create_task(watchdog(connections, stop_at))
    try:
        await asyncio.gather(*(one() for _ in range(clients)))
    finally:
        dog.cancel()


async def open_sessions(opts: Options, port: int, token: str, world: World) -> dict[str, Any]:
    """One session per member, correlation id ``c<index>``; every answer must be 200."""
    pending = list(enumerate(world.emails))
    statuses: dict[int | None, int] = {}

    def take() -> tuple[int, bytes] | None:
        if not pending:
            return None
        index, address = pending.pop()
        body = {"correlationId": f"c{index:06d}", "channel": "APP"}
        path = f"/client/users/{address}/sessions"
        return index, post(path, token, body, X_Identifier_Type="EMAIL")

    def done(_: int, status: int | None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    recorder = Recorder(measure_from=0.0)
    started = time.perf_counter()
    await drive(port, opts.clients, started + 600, recorder, take, done)
    seconds = time.perf_counter() - started
    if statuses != {200: len(world.emails)}:
        raise WrongResult(f"sessions: answers {statuses}, expected {len(world.emails)} x 200")
    latencies = sorted(recorder.latencies)
    return {
        "sessions": len(world.emails),
        "seconds": round(seconds, 2),
        "per_s": round(len(world.emails) / seconds),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


async def award_load(
    opts: Options, server: Proc, port: int, awards: Awards, ledger: Ledger
) -> dict[str, Any]:
    """The awards: warm-up, then ``--duration`` s recorded, with the CPU of that phase."""
    recorder = Recorder()
    start = time.perf_counter()
    recorder.measure_from = start + opts.warmup
    recorder.measure_until = recorder.measure_from + opts.duration

    def take() -> tuple[tuple[int, int], bytes]:
        member, amount, payload = awards.next()
        return (member, amount), payload

    def done(key: tuple[int, int], status: int | None) -> None:
        awards.done(*key, status)

    load = asyncio.create_task(
        drive(port, opts.clients, recorder.measure_until, recorder, take, done)
    )
    await asyncio.sleep(max(0.0, recorder.measure_from - time.perf_counter()))
    server_before = tree_cpu(server.pid)
    db_before = await ledger.backend_cpu()
    own_before = time.process_time()
    load_before = os.getloadavg()[0]
    await asyncio.sleep(max(0.0, recorder.measure_until - time.perf_counter()))
    server_cpu = cpu_delta(server_before, tree_cpu(server.pid))
    db_cpu = cpu_delta(db_before, await ledger.backend_cpu())
    own_cpu = time.process_time() - own_before
    load_after = os.getloadavg()[0]
    await load
    latencies = sorted(recorder.latencies)
    ok = recorder.statuses.get(200, 0)
    requests = len(latencies) + sum(recorder.failures.values())
    per_request = max(1, requests)
    return {
        "requests": requests,
        "awards_per_s": round(ok / opts.duration, 1),
        "ratio_to_aim": round(ok / opts.duration / AIM, 2),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "errors": requests - ok,
        "statuses": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "failures": recorder.failures,
        "deductions_answered": awards.deducted,
        "server_cpu_ms_per_request": round(server_cpu / per_request * 1000, 2),
        "db_cpu_ms_per_request": round(db_cpu / per_request * 1000, 2),
        "bench_cpu_ms_per_request": round(own_cpu / per_request * 1000, 2),
        "server_cores": round(server_cpu / opts.duration, 2),
        "db_cores": round(db_cpu / opts.duration, 2),
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


async def smoke(base: str, token: str, awards: Awards) -> None:
    """One award through httpx, its answer read in full: ``{transactionId, message}``."""
    member, amount, payload = awards.next()
    head, body = payload.split(b"\r\n\r\n", 1)
    path = head.split(b" ", 2)[1].decode()
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.post(
            path,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    awards.done(member, amount, response.status_code)
    answer = response.json() if response.status_code == 200 else {}
    if set(answer) != {"transactionId", "message"}:
        raise WrongResult(f"ad hoc reward: {response.status_code} {response.text[:300]}")


async def run(opts: Options, procs: Processes, tmp: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "config": {
            "members": opts.members,
            "clients": opts.clients,
            "warmup": opts.warmup,
            "duration": opts.duration,
            "deduct_share": opts.deduct_share,
            "worker": opts.worker,
            "processes": opts.processes,
        },
    }
    async with database("postgresql", tmp, opts.pg_url) as url:
        started = time.perf_counter()
        world = await seed(url, procs.var_dir, opts.members)
        print(f"  seeded {opts.members:,} members in {time.perf_counter() - started:.1f} s")
        server, base = await procs.serve(
            bestow_env(url, procs.var_dir), worker=opts.worker, processes=opts.processes
        )
        port = int(base.rsplit(":", 1)[1])
        ledger = Ledger(url)
        await ledger.open()
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                token = await oauth_token(http, world.oauth_client_id, world.oauth_secret)
            print(f"  sessions: {opts.members:,}, {opts.clients} clients ...", flush=True)
            report["sessions"] = await open_sessions(opts, port, token, world)
            awards = Awards(token, world.member_ids, opts.deduct_share)
            await smoke(base, token, awards)
            print(
                f"  awards: {opts.clients} clients, {opts.warmup} s warm-up, {opts.duration} s ...",
                flush=True,
            )
            report["awards"] = await award_load(opts, server, port, awards, ledger)
            procs.stop(server)  # every answer is in: nothing more is written
            report["checks"] = await ledger.check(awards.expected, awards.answered)
            report["checks"]["no_answer"] = awards.unknown
        finally:
            await ledger.close()
            procs.stop(server)
    return report


def problems(report: dict[str, Any]) -> list[str]:
    checks = report["checks"]
    found = [
        f"{name.replace('_', ' ')}: {checks[name]}"
        for name in (
            "balances_not_sum_of_entries",
            "transactions_not_summing_to_zero",
            "negative_balances",
            "balances_not_as_answered",
            "no_answer",
        )
        if checks[name]
    ]
    if checks["transactions"] != checks["answered_200"]:
        found.append(f"{checks['transactions']} transactions for {checks['answered_200']} 200s")
    if report["awards"]["errors"]:
        found.append(f"{report['awards']['errors']} requests failed")
    return found


def report_lines(report: dict[str, Any]) -> list[str]:
    s, a, c = report["sessions"], report["awards"], report["checks"]
    config = report["config"]
    return [
        f"\nload average at start: {report['load_average']}",
        f"\nsessions: {s['sessions']:,} in {s['seconds']} s ({s['per_s']}/s), "
        f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms",
        f"\nPOST /client/users/{{correlationId}}/adhoc-reward/, {config['clients']} clients, "
        f"{config['duration']} s (CPU ms per request)",
        f"{'awards/s':>9}{'/ aim':>7}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}{'server':>8}"
        f"{'db':>7}{'bench':>7}{'srv cores':>11}{'db cores':>10}  load",
        f"{a['awards_per_s']:>9}{a['ratio_to_aim']:>7}{a['p50_ms']:>8}{a['p99_ms']:>8}"
        f"{a['errors']:>8}{a['server_cpu_ms_per_request']:>8}{a['db_cpu_ms_per_request']:>7}"
        f"{a['bench_cpu_ms_per_request']:>7}{a['server_cores']:>11}{a['db_cores']:>10}"
        f"  {a['load_average']}",
        f"\nledger: {c['transactions']:,} transactions for {c['answered_200']:,} answers 200; "
        f"balances not the sum of their entries {c['balances_not_sum_of_entries']}, not as "
        f"answered {c['balances_not_as_answered']}, negative {c['negative_balances']}; "
        f"transactions not summing to 0 {c['transactions_not_summing_to_zero']}",
    ]


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BESTOW_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 members, 3 s")
    parser.add_argument("--members", type=int)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--deduct-share", type=float, default=0.2)
    parser.add_argument("--no-worker", action="store_true", help="bestow serve --no-worker")
    parser.add_argument("--processes", type=int, default=1, help="bestow serve --processes N")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="bestow serve under cProfile")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    return Options(
        pg_url=args.pg_url,
        members=args.members or (200 if args.quick else 2_000),
        clients=args.clients,
        warmup=args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0),
        duration=args.duration or (3.0 if args.quick else 10.0),
        deduct_share=args.deduct_share,
        worker=not args.no_worker,
        processes=args.processes,
        profile=args.profile,
        keep_logs=args.keep_logs,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    print("bench: loyalty ad hoc awards", flush=True)
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
    with bench_dirs("bestow-bench-loyalty-", opts.keep_logs) as tmp:
        procs = Processes(opts, tmp / "var", tmp / "logs")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleaned up as Ctrl-C is
        try:
            try:
                import uvloop
            except ImportError:
                report = asyncio.run(run(opts, procs, tmp))
            else:
                report = uvloop.run(run(opts, procs, tmp))
        except (BenchFailed, WrongResult, KeyboardInterrupt) as exc:
            return failure_status(exc)
        finally:
            procs.stop_all()
    print_report(report, report_lines(report), procs.profiles, "the server")
    found = problems(report)
    if found:
        print("PROBLEMS: " + "; ".join(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
