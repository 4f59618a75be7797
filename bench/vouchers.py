"""Voucher issuance: the Voucher API under concurrent load, and 100,000 vouchers through a campaign.

Everything runs against a fresh PostgreSQL database (``CREATE DATABASE bestow_bench_<random>`` on
``--pg-url``, dropped at the end; ``benchkit.database``), migrated and seeded through the services,
and real processes on 127.0.0.1 only.

Phases:

1. ``api``: one ``bestow serve --no-worker`` (uvicorn). An OAuth client on the ``unlimited``
   rate-limit tier gets its token from ``POST /oauth2/token``; then ``--clients`` (16) concurrent
   clients (one keep-alive connection each, one request in flight each) send
   ``POST /v3/products/{code}`` with ``{"quantity": 20}``, each request under its own
   ``Idempotency-Key``, for ``--warmup`` s unrecorded and ``--duration`` s recorded. Once for a
   fixed-value product and once for an open-value one (``face_value`` in the body). Printed:
   requests/s, vouchers/s, p50/p99 latency, errors, and the CPU of the server, the database's
   backends and the bench's own clients per request (``/proc``).
2. ``campaign``: ``--jobs`` (10) x ``--job-size`` (10,000) members seeded with COPY
   (``kit.db.bulk_insert``), a published template of kind ``voucher`` (the fixed product,
   unlimited stock), a partner client (``unlimited`` tier) and an active campaign. For each
   ``--workers`` count (``1,2``): ``bestow serve --no-worker`` and that many ``bestow worker``
   processes are started and waited for, then the jobs (one per slice of 10,000 members; a job
   holds at most 10,000 identifiers) are sent one after the other through
   ``POST /partner/campaigns/issue``. Time: from the first request sent to the moment every job
   is seen ``completed`` (their rows polled every 0.05 s). Printed: seconds, vouchers/s, the
   ratio to Voucherify's published 60 s for a 100,000-voucher campaign, and to the aim (30 times
   faster: 2 s), and CPU per voucher of the workers and of the database.

Every run is checked (every request 200 with 20 vouchers; every job ``completed`` with one
voucher per member, linked to its reward); exit status 1 when one is wrong, 2 when a process does
not start or a job does not finish in time. The last line is JSON with every figure.

    .venv/bin/python bench/vouchers.py [--quick] [--phases api,campaign] [--workers 1,2]
        [--duration 10] [--clients 16] [--jobs 10] [--job-size 10000] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
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
    bench_campaign,
    bench_dirs,
    bench_partner,
    bench_runtime,
    bestow_env,
    check_alive,
    cprofiled,
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

QUANTITY = 20
OPEN_FACE_VALUE = 1234
VOUCHERIFY_SECONDS = 60.0
"""Voucherify's published time for a campaign of 100,000 vouchers."""
AIM_FACTOR = 30
PHASES = ("api", "campaign")


@dataclass
class Options:
    pg_url: str
    phases: list[str]
    clients: int
    warmup: float
    duration: float
    jobs: int
    job_size: int
    workers: list[int]
    timeout: float
    profile: Path | None
    keep_logs: Path | None


@dataclass
class World:
    url: str
    oauth_client_id: str
    oauth_secret: str
    fixed_code: str
    open_code: str
    partner_id: str
    partner_token: str
    merchant_id: str
    campaign_id: str
    variant_id: str
    emails: list[str]


# --- seed ----------------------------------------------------------------------------------------


async def seed(url: str, var_dir: Path, members: int) -> World:
    """Through the services: products, an OAuth client, a partner, members (COPY), a voucher
    template and a campaign using it."""
    from bestow.clients import service as clients
    from bestow.kit.actor import Actor
    from bestow.kit.db import bulk_insert, utcnow
    from bestow.merchants import service as merchants
    from bestow.models import Member
    from bestow.rewards import templates
    from bestow.vouchers import products

    actor = Actor("bench")
    runtime = bench_runtime(url, var_dir)
    product = {
        "is_value_based": True,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "USD",
        "validity_days": 365,
        "actor": actor,
    }
    try:
        async with runtime.db.write_session() as session:
            fixed = await products.create_product(
                session,
                code="BENCH_FIXED",
                name="Ten dollar voucher",
                is_open_value=False,
                face_value=1000,
                **product,
            )
            await products.create_product(
                session, code="BENCH_OPEN", name="Coffee voucher", is_open_value=True, **product
            )
            tier = {
                "rate_limit_tier": "unlimited",
                "known_tiers": runtime.rate_limiter.tier_names(),
            }
            oauth = await clients.create_client(
                session, name="bench-oauth", scopes=["issue_vouchers"], actor=actor, **tier
            )
            secret = await clients.issue_credential(
                session, runtime.sealer, client_id=oauth.id, kind=clients.OAUTH_SECRET, actor=actor
            )
            merchant = await merchants.create_merchant(
                session, name="Bench", handle="bench", time_zone="UTC", actor=actor
            )
            partner, token = await bench_partner(
                session, runtime, merchant_id=merchant.id, name="bench-partner", actor=actor
            )
            template = await templates.create_template(
                session,
                merchant_id=merchant.id,
                kind="voucher",
                name="Ten dollars on us",
                config={"product_code": fixed.code},
                actor=actor,
                publish=True,
            )
            now = utcnow()
            emails = [f"member{i:06d}@example.com" for i in range(members)]
            rows = member_rows(merchant.id, emails, now)
            await bulk_insert(session, Member.__table__, rows)
            view = await bench_campaign(
                session,
                client_id=partner.id,
                merchant_id=merchant.id,
                template_id=template.id,
                name="Bench voucher campaign",
                now=now,
            )
            await session.commit()
        return World(
            url=url,
            oauth_client_id=oauth.id,
            oauth_secret=secret.secret,
            fixed_code="BENCH_FIXED",
            open_code="BENCH_OPEN",
            partner_id=partner.id,
            partner_token=token,
            merchant_id=merchant.id,
            campaign_id=view.campaign.id,
            variant_id=view.variants[0].id,
            emails=emails,
        )
    finally:
        await runtime.db.dispose()


class Probe(DirectReader):
    """Direct reads of the jobs and their vouchers (not through the API)."""

    async def finished(self, ids: list[str]) -> int:
        return int(
            await self._pg.fetchval(
                "SELECT count(*) FROM issuance_jobs "
                "WHERE state IN ('completed', 'failed') AND id = ANY($1::text[])",
                ids,
            )
        )

    async def outcome(self, ids: list[str]) -> tuple[int, int, int, int]:
        """(completed jobs, rewards counted, vouchers linked to the jobs' rewards, members)."""
        completed, counted = await self._pg.fetchrow(
            "SELECT count(*) FILTER (WHERE state = 'completed'), coalesce(sum(success_count), 0) "
            "FROM issuance_jobs WHERE id = ANY($1::text[])",
            ids,
        )
        vouchers, members = await self._pg.fetchrow(
            "SELECT count(v.id), count(DISTINCT (r.job_id, v.member_id)) FROM issued_rewards r "
            "JOIN vouchers v ON v.reward_id = r.id AND v.member_id = r.member_id "
            "WHERE r.job_id = ANY($1::text[])",
            ids,
        )
        return int(completed), int(counted), int(vouchers), int(members)


# --- processes -----------------------------------------------------------------------------------


class Processes(benchkit.BenchProcesses[Options]):
    """Every process the bench starts; ``stop_all`` stops those still running (SIGINT, then
    SIGKILL)."""

    async def api(self, url: str) -> tuple[Proc, str]:
        """``bestow serve --no-worker``; returns it with its base URL once ``/healthz`` answers."""
        return await self.serve(bestow_env(url, self.var_dir))

    async def workers(self, url: str, count: int) -> list[Proc]:
        """``count`` ``bestow worker`` processes, each waited for (``worker.started``); under
        cProfile with ``--profile``."""
        commands = {}
        for n in range(count):
            command = [venv_script("bestow"), "worker"]
            if self.opts.profile is not None:
                out = self.opts.profile / f"campaign-{count}w-worker{n + 1}.prof"
                self.profiles.append(out)
                command = cprofiled(command, out)
            commands[f"worker{n + 1}of{count}"] = command
        # INFO for worker.started; one line per job
        env = bestow_env(url, self.var_dir, BESTOW_LOG_LEVEL="INFO")
        return await self.start_workers(commands, env)


# --- phase 1: the Voucher API --------------------------------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def api_load(
    opts: Options, base: str, token: str, code: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``--clients`` loops of one request at a time: warm-up, then ``--duration`` recorded."""
    path = f"/v3/products/{code}"
    content = json.dumps(body).encode()
    latencies: list[float] = []
    errors = 0
    recording = False
    stop_at = time.perf_counter() + opts.warmup + opts.duration

    async def one_client() -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await http.post(
                    path, content=content, headers={"Idempotency-Key": str(uuid.uuid4())}
                )
                elapsed = time.perf_counter() - started
                # Counted, not parsed: the bench's CPU shares the machine with the server.
                ok = (
                    response.status_code == 200
                    and response.content.count(b'"voucher_id"') == QUANTITY
                )
                if recording:
                    latencies.append(elapsed)
                    errors += not ok

    tasks = [asyncio.create_task(one_client()) for _ in range(opts.clients)]
    await asyncio.sleep(opts.warmup)
    recording = True
    measured_from = time.perf_counter()
    await asyncio.gather(*tasks)
    span = time.perf_counter() - measured_from
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / span, 1),
        "vouchers_per_s": round(len(latencies) * QUANTITY / span),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "errors": errors,
        "span_s": round(span, 2),
    }


async def api_phase(opts: Options, procs: Processes, world: World) -> dict[str, Any]:
    api, base = await procs.api(world.url)
    probe = Probe(world.url)
    await probe.open()
    results: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            token = await oauth_token(http, world.oauth_client_id, world.oauth_secret)
        targets = {
            "fixed": (world.fixed_code, {"quantity": QUANTITY}),
            "open_value": (world.open_code, {"quantity": QUANTITY, "face_value": OPEN_FACE_VALUE}),
        }
        for name, (code, body) in targets.items():
            print(f"  api: {name}, {opts.clients} clients, {opts.duration} s ...", flush=True)
            server_before = {api.process.pid: proc_cpu(api.process.pid) or 0.0}
            db_before = await probe.backend_cpu()
            own_before = time.process_time()
            load = os.getloadavg()[0]
            figures = await api_load(opts, base, token, code, body)
            server = cpu_delta(server_before, {api.process.pid: proc_cpu(api.process.pid) or 0.0})
            db = cpu_delta(db_before, await probe.backend_cpu())
            own = time.process_time() - own_before
            # CPU over warm-up and measure alike: per request of both.
            total = figures["requests"] * (opts.warmup + opts.duration) / opts.duration
            figures |= {
                "server_cpu_ms_per_request": round(server / total * 1000, 2),
                "db_cpu_ms_per_request": round(db / total * 1000, 2),
                "bench_cpu_ms_per_request": round(own / total * 1000, 2),
                "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
            }
            results[name] = figures
            if figures["errors"]:
                raise WrongResult(f"{name}: {figures['errors']} requests failed")
    finally:
        await probe.close()
        procs.stop(api)
    return results


# --- phase 2: a campaign of 100,000 vouchers -----------------------------------------------------


def job_bodies(world: World, opts: Options) -> list[bytes]:
    return [
        json.dumps(
            {
                "campaign_id": world.campaign_id,
                "merchant_id": world.merchant_id,
                "variant_id": world.variant_id,
                "identifiers": [
                    {"type": "email", "value": address}
                    for address in world.emails[n * opts.job_size : (n + 1) * opts.job_size]
                ],
            }
        ).encode()
        for n in range(opts.jobs)
    ]


async def campaign_run(
    opts: Options, procs: Processes, world: World, bodies: list[bytes], worker_count: int
) -> dict[str, Any]:
    print(
        f"  campaign: {opts.jobs} jobs x {opts.job_size:,}, {worker_count} worker(s) ...",
        flush=True,
    )
    api, base = await procs.api(world.url)
    probe = Probe(world.url)
    await probe.open()
    workers: list[Proc] = []
    try:
        workers = await procs.workers(world.url, worker_count)
        headers = {
            "Authorization": f"Bearer {world.partner_token}",
            "X-ClientId": world.partner_id,
            "Accept-Version": "v4.0",
            "Content-Type": "application/json",
        }
        cpu_before = procs_cpu(workers)
        db_before = await probe.backend_cpu()
        load_before = os.getloadavg()[0]
        ids: list[str] = []
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
            started = time.perf_counter()
            for body in bodies:
                response = await http.post("/partner/campaigns/issue", content=body)
                if response.status_code != 202:
                    raise BenchFailed(f"issue: {response.status_code} {response.text[:300]}")
                ids.append(response.json()["issuance_job"]["id"])
            submitted = time.perf_counter() - started
        deadline = started + opts.timeout
        while (done := await probe.finished(ids)) < len(ids):
            if time.perf_counter() > deadline:
                raise BenchFailed(f"{done} of {len(ids)} jobs finished in {opts.timeout} s")
            check_alive(workers)
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        worker_cpu = cpu_delta(cpu_before, procs_cpu(workers))
        db_cpu = cpu_delta(db_before, await probe.backend_cpu())
        load_after = os.getloadavg()[0]
        completed, counted, vouchers, members = await probe.outcome(ids)
    finally:
        for proc in reversed(workers):
            procs.stop(proc)
        await probe.close()
        procs.stop(api)
    expected = opts.jobs * opts.job_size
    if (completed, counted, vouchers, members) != (len(ids), expected, expected, expected):
        raise WrongResult(
            f"{completed} of {len(ids)} jobs completed, {counted} rewards, {vouchers} vouchers "
            f"for {members} members; expected {expected} of each"
        )
    aim = VOUCHERIFY_SECONDS / AIM_FACTOR
    return {
        "workers": worker_count,
        "vouchers": vouchers,
        "seconds": round(seconds, 2),
        "submit_s": round(submitted, 2),
        "vouchers_per_s": round(vouchers / seconds),
        "x_faster_than_voucherify": round(VOUCHERIFY_SECONDS / seconds * expected / 100_000, 1),
        "ratio_to_aim": round(aim / seconds * expected / 100_000, 2),
        "worker_cpu_us_per_voucher": round(worker_cpu / vouchers * 1e6, 1),
        "db_cpu_us_per_voucher": round(db_cpu / vouchers * 1e6, 1),
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


# --- report --------------------------------------------------------------------------------------


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"\nload average at start: {report['load_average']}"]
    if report.get("api"):
        lines.append(
            f"\nPOST /v3/products/{{code}}, quantity {QUANTITY}, {report['config']['clients']} "
            "clients (CPU ms per request)"
        )
        lines.append(
            f"{'product':<11}{'req/s':>8}{'vouchers/s':>12}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}{'server':>8}{'db':>7}{'bench':>7}  load"
        )
        for name, r in report["api"].items():
            lines.append(
                f"{name:<11}{r['rps']:>8}{r['vouchers_per_s']:>12}{r['p50_ms']:>9}{r['p99_ms']:>9}"
                f"{r['errors']:>8}{r['server_cpu_ms_per_request']:>8}"
                f"{r['db_cpu_ms_per_request']:>7}{r['bench_cpu_ms_per_request']:>7}"
                f"  {r['load_average']}"
            )
    if report.get("campaign"):
        config = report["config"]
        lines.append(
            f"\ncampaign of kind voucher: {config['jobs']} jobs x {config['job_size']:,} members; "
            f"Voucherify 60 s per 100,000, aim {VOUCHERIFY_SECONDS / AIM_FACTOR:g} s"
        )
        lines.append(
            f"{'workers':<9}{'seconds':>9}{'submit s':>10}{'vouchers/s':>12}{'x Voucherify':>14}"
            f"{'/ aim':>7}{'wrk us/v':>10}{'db us/v':>9}  load"
        )
        for r in report["campaign"]:
            lines.append(
                f"{r['workers']:<9}{r['seconds']:>9}{r['submit_s']:>10}{r['vouchers_per_s']:>12}"
                f"{r['x_faster_than_voucherify']:>14}{r['ratio_to_aim']:>7}"
                f"{r['worker_cpu_us_per_voucher']:>10}{r['db_cpu_us_per_voucher']:>9}"
                f"  {r['load_average']}"
            )
    return lines


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BESTOW_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 s, 2 jobs of 2,000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--job-size", type=int)
    parser.add_argument("--workers", default=None, help="comma-separated counts (1,2)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="workers under cProfile")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    if set(phases) - set(PHASES):
        parser.error(f"--phases takes {', '.join(PHASES)}")
    workers = args.workers or ("1" if args.quick else "1,2")
    return Options(
        pg_url=args.pg_url,
        phases=phases,
        clients=args.clients,
        warmup=args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0),
        duration=args.duration or (2.0 if args.quick else 10.0),
        jobs=args.jobs or (2 if args.quick else 10),
        job_size=args.job_size or (2_000 if args.quick else 10_000),
        workers=[int(n) for n in workers.split(",")],
        timeout=args.timeout,
        profile=args.profile,
        keep_logs=args.keep_logs,
    )


async def run(opts: Options, procs: Processes, tmp: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "config": {
            "clients": opts.clients,
            "duration": opts.duration,
            "jobs": opts.jobs,
            "job_size": opts.job_size,
            "workers": opts.workers,
        },
    }
    async with database("postgresql", tmp, opts.pg_url) as url:
        members = opts.jobs * opts.job_size if "campaign" in opts.phases else 0
        started = time.perf_counter()
        world = await seed(url, procs.var_dir, members)
        print(f"  seeded {members:,} members in {time.perf_counter() - started:.1f} s", flush=True)
        if "api" in opts.phases:
            report["api"] = await api_phase(opts, procs, world)
        if "campaign" in opts.phases:
            bodies = job_bodies(world, opts)
            report["campaign"] = [
                await campaign_run(opts, procs, world, bodies, count) for count in opts.workers
            ]
    return report


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    print(f"bench: vouchers, phases {','.join(opts.phases)}", flush=True)
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
    with bench_dirs("bestow-bench-vouchers-", opts.keep_logs) as tmp:
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
