"""Where the time of ``GET /partner/merchants`` goes, measured in-process (no HTTP server, no load
generator): the ASGI app is called directly, one request at a time and 32 at a time, with the
candidate optimisations of ``bench/variants.py`` applied one by one; then micro-benchmarks of the
per-request pieces (request middleware, auth cache, rate limiter, query building).

    .venv/bin/python bench/hotspots.py [--database postgresql] [--requests 3000]

Figures are microseconds per request: ``wall`` is the latency one at a time, ``cpu`` the process CPU
time (every thread: the aiosqlite and anyio worker threads count) and ``wall@32`` the wall time per
request with 32 in flight, which is what bounds throughput on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api
import variants

from bestow.config import Settings

# No database on the request path: the floor, then the merchants list cached per client.
FAST: list[tuple[str, str]] = [
    ("floor: no auth, no DB", "floor"),
    ("floor, without RequestMiddleware", "floor,no-middleware"),
    ("floor, lean RequestMiddleware", "floor,lean-middleware"),
    ("cached", "cached"),
    ("cached + async get_runtime", "cached,async-runtime"),
    ("cached + lean RequestMiddleware", "cached,lean-middleware"),
    ("cached + lean auth", "cached,lean-auth"),
    ("cached + all three", "cached,async-runtime,lean-middleware,lean-auth"),
]
# One query per request.
DB: list[tuple[str, str]] = [
    ("as is", ""),
    ("async get_runtime", "async-runtime"),
    ("Core query (no ORM session)", "core"),
    ("Core + AUTOCOMMIT", "autocommit"),
    ("one driver call (raw)", "raw"),
    ("all three + Core", "async-runtime,lean-middleware,lean-auth,core"),
    ("all three + AUTOCOMMIT", "async-runtime,lean-middleware,lean-auth,autocommit"),
    ("all three + raw", "async-runtime,lean-middleware,lean-auth,raw"),
]
GROUPS = {"fast": FAST, "db": DB, "all": FAST + DB}


def scope_for(path: str, headers: dict[str, str]) -> Callable[[], dict[str, Any]]:
    raw = [(b"host", b"127.0.0.1:8000")] + [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
    ]

    def make() -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": list(raw),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }

    return make


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Sink:
    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


async def one(app: Any, make_scope: Callable[[], dict[str, Any]]) -> int:
    sink = Sink()
    await app(make_scope(), receive, sink)
    return sink.status


async def sequential(
    app: Any, make_scope: Callable[[], dict[str, Any]], n: int
) -> tuple[float, float]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        status = await one(app, make_scope)
        if status != 200:
            raise RuntimeError(f"status {status}")
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - cpu0) / n * 1e6


async def concurrent(
    app: Any, make_scope: Callable[[], dict[str, Any]], n: int, width: int = 32
) -> tuple[float, float]:
    per = max(1, n // width)

    async def lane() -> None:
        for _ in range(per):
            status = await one(app, make_scope)
            if status != 200:
                raise RuntimeError(f"status {status}")

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(width)))
    done = per * width
    return (time.perf_counter() - t0) / done * 1e6, (time.process_time() - cpu0) / done * 1e6


async def measure_configs(
    settings: Settings,
    configs: list[tuple[str, str]],
    partner: api.Partner,
    n: int,
    rounds: int,
) -> dict[str, dict[str, float]]:
    """Every configuration in turn, ``rounds`` times (interleaved against a noisy machine); the
    best round of each is kept."""
    make_scope = scope_for(api.PATH, partner.headers())
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for label, flags in configs:
            # One application (and connection pool) at a time: PostgreSQL's max_connections.
            app = variants.make_app(settings, variants.parse_flags(flags))
            async with app.router.lifespan_context(app):
                await sequential(app, make_scope, max(100, n // 10))  # warm-up: caches, pool
                seq = await sequential(app, make_scope, n)
                par = await concurrent(app, make_scope, n)
            figures = {"wall": seq[0], "cpu": seq[1], "wall@32": par[0], "cpu@32": par[1]}
            kept = best.setdefault(label, figures)
            for key, value in figures.items():
                kept[key] = min(kept[key], value)
    return best


def micro(label: str, stmt: Callable[[], object], number: int = 20000) -> tuple[str, float]:
    best = min(timeit.repeat(stmt, number=number, repeat=5))
    return label, best / number * 1e6


async def micro_async(
    label: str, fn: Callable[[], Awaitable[object]], number: int = 20000, repeat: int = 5
) -> tuple[str, float]:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            await fn()
        best = min(best, time.perf_counter() - t0)
    return label, best / number * 1e6


def logging_micro() -> list[tuple[str, float]]:
    import structlog

    from bestow.kit import logging as bestow_logging

    fields: dict[str, Any] = {
        "request_id": "x" * 32,
        "client_id": "cli_0123456789",
        "method": "GET",
        "route": api.PATH,
        "status": 200,
        "duration_ms": 1.23,
    }
    out: list[tuple[str, float]] = []
    bestow_logging.configure_logging("WARNING")
    log = bestow_logging.access_log
    out.append(
        micro("middleware: access_log.info at WARNING", lambda: log.info("request", **fields))
    )
    with open("/dev/null", "w") as devnull:
        bestow_logging.configure_logging("INFO")
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(devnull))
        log_info = structlog.get_logger("bestow.access")
        out.append(
            micro(
                "middleware: access_log.info at INFO (to /dev/null)",
                lambda: log_info.info("request", **fields),
                5000,
            )
        )
    bestow_logging.configure_logging("WARNING")
    return out


async def micro_benchmarks(settings: Settings, partner: api.Partner) -> list[tuple[str, float]]:
    import hashlib
    import re
    import uuid

    from bestow.app import build_runtime
    from bestow.kit import logging as bestow_logging
    from bestow.merchants import service as merchants
    from bestow.models import Merchant

    out: list[tuple[str, float]] = []
    headers = scope_for(api.PATH, partner.headers())()["headers"]
    pattern = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
    out.append(micro("middleware: dict(scope['headers'])", lambda: dict(headers)))
    out.append(micro("middleware: uuid.uuid4().hex", lambda: uuid.uuid4().hex))
    out.append(micro("middleware: regex match of ''", lambda: pattern.match("")))
    requests = bestow_logging.REQUESTS
    latency = bestow_logging.LATENCY
    out.append(
        micro(
            "middleware: REQUESTS.labels(...).inc()",
            lambda: requests.labels("GET", api.PATH, "200").inc(),
        )
    )
    out.append(
        micro(
            "middleware: LATENCY.labels(...).observe()",
            lambda: latency.labels("GET", api.PATH).observe(0.003),
        )
    )
    child = latency.labels("GET", api.PATH)
    out.append(micro("middleware: cached child .observe()", lambda: child.observe(0.003)))
    out.extend(logging_micro())

    token = partner.token
    out.append(
        micro(
            "auth: sha256(token) for the cache key",
            lambda: hashlib.sha256(token.encode()).hexdigest(),
        )
    )
    runtime = build_runtime(settings)
    try:
        limiter = runtime.rate_limiter
        out.append(
            await micro_async(
                "rate limit: hit(unlimited tier)",
                lambda: limiter.hit(partner.client_id, "unlimited"),
            )
        )
        out.append(
            await micro_async(
                "rate limit: hit(default tier, 2 windows)",
                lambda: _reset_then_hit(limiter, partner.client_id),
                2000,
            )
        )

        from starlette.concurrency import run_in_threadpool

        def nothing() -> None:
            return None

        out.append(
            await micro_async(
                "FastAPI sync dependency: run_in_threadpool(no-op)",
                lambda: run_in_threadpool(nothing),
                2000,
            )
        )

        def build() -> object:
            return (
                merchants.granted_query(partner.client_id)
                .with_only_columns(Merchant.id, Merchant.name, Merchant.handle)
                .order_by(Merchant.id)
            )

        out.append(micro("query: build the select per request", build, 5000))
        engine = runtime.db.engine
        stmt = build()
        params = {"client_id": partner.client_id}
        sql = str(variants.MERCHANTS.compile(dialect=engine.dialect))
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

        async def orm_as_route() -> object:
            async with runtime.db.session() as session:
                return (await session.execute(build())).all()  # type: ignore[call-overload]

        async def orm() -> object:
            async with runtime.db.session() as session:
                return (await session.execute(stmt)).all()  # type: ignore[call-overload]

        async def core() -> object:
            async with engine.connect() as conn:
                return (await conn.execute(variants.MERCHANTS, params)).all()

        async def core_autocommit() -> object:
            async with autocommit.connect() as conn:
                return (await conn.execute(variants.MERCHANTS, params)).all()

        async def raw_pooled() -> object:
            async with engine.connect() as conn:
                driver: Any = (await conn.get_raw_connection()).driver_connection
                if engine.dialect.name == "sqlite":
                    return await driver.execute_fetchall(sql, (partner.client_id,))
                return await driver.fetch(sql, partner.client_id)

        async with engine.connect() as held:
            driver: Any = (await held.get_raw_connection()).driver_connection

            async def raw_held() -> object:
                if engine.dialect.name == "sqlite":
                    return await driver.execute_fetchall(sql, (partner.client_id,))
                return await driver.fetch(sql, partner.client_id)

            db_pieces: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("db: ORM session, select built per request (route)", orm_as_route),
                ("db: ORM session, prebuilt select", orm),
                ("db: Core connection, prebuilt select", core),
                ("db: Core connection, AUTOCOMMIT", core_autocommit),
                ("db: pooled connection, one driver call", raw_pooled),
                ("db: one driver call on a held connection", raw_held),
            ]
            best: dict[str, float] = {}
            for _ in range(5):  # interleaved rounds, the best of each kept
                for label, fn in db_pieces:
                    _, us = await micro_async(label, fn, 500, repeat=1)
                    best[label] = min(best.get(label, us), us)
            out.extend(best.items())
    finally:
        await runtime.db.dispose()
    return out


async def _reset_then_hit(limiter: Any, client_id: str) -> None:
    await limiter.reset()
    await limiter.hit(client_id, "default")


async def run(args: argparse.Namespace, url: str, var_dir: Path) -> dict[str, Any]:
    partner = await api.seed(url, var_dir, args.merchants)
    settings = Settings(
        database_url=url,
        var_dir=var_dir,
        secret_key=api.SECRET_KEY,
        admin_token=api.ADMIN_TOKEN,
        log_level="WARNING",
    )
    report: dict[str, Any] = {"configs": {}, "micro": {}}
    configs = GROUPS[args.group]
    chosen = [c for c in configs if not args.only or c[1] in args.only or c[0] in args.only]
    print(f"{'configuration (µs per request)':<44}{'wall':>8}{'cpu':>8}{'wall@32':>9}{'cpu@32':>8}")
    measured = await measure_configs(settings, chosen, partner, args.requests, args.rounds)
    for label, figures in measured.items():
        report["configs"][label] = {k: round(v, 1) for k, v in figures.items()}
        print(
            f"{label:<44}{figures['wall']:>8.0f}{figures['cpu']:>8.0f}"
            f"{figures['wall@32']:>9.0f}{figures['cpu@32']:>8.0f}",
            flush=True,
        )
    if not args.no_micro:
        print(f"\n{'piece':<56}{'µs':>8}")
        for label, us in await micro_benchmarks(settings, partner):
            report["micro"][label] = round(us, 2)
            print(f"{label:<56}{us:>8.2f}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=api.DEFAULT_PG_URL)
    parser.add_argument("--requests", type=int, default=1000, help="per round and configuration")
    parser.add_argument("--rounds", type=int, default=5, help="the best round is kept")
    parser.add_argument("--merchants", type=int, default=3)
    parser.add_argument("--group", choices=sorted(GROUPS), default="all")
    parser.add_argument("--only", action="append", help="configuration label or flags")
    parser.add_argument("--no-micro", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bestow-hotspots-") as tmp_name:
        tmp = Path(tmp_name)
        var_dir = tmp / "var"
        var_dir.mkdir()
        with api.database(args.database, tmp, args.pg_url) as url:
            import uvloop

            report = uvloop.run(run(args, url, var_dir))
    report["database"] = args.database
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
