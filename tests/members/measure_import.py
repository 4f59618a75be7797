"""Measure a member import: ``python -m tests.members.measure_import [--rows N] [--processes N]``.

Imports a generated CSV into a fresh, migrated SQLite database and, when reachable, a fresh
PostgreSQL database, as ``bestow members import`` does, and prints rows per second for each.
Not a test: nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import tempfile
import time
from concurrent.futures import Executor
from pathlib import Path

from bestow.kit.actor import Actor
from bestow.kit.db import Database
from bestow.members import importer
from bestow.merchants import service as merchants
from tests.fixtures import databases
from tests.members.csvdata import members_csv

ACTOR = Actor("measure")


async def measure(
    url: str, text: str, executor: Executor | None, lookahead: int
) -> tuple[float, importer.ImportReport]:
    db = Database(url)
    try:
        async with db.write_session() as session:
            merchant = await merchants.create_merchant(
                session, name="Measure", handle="measure", time_zone="UTC", actor=ACTOR
            )
            await session.commit()
        started = time.perf_counter()
        report = await importer.import_members(
            db,
            merchant_id=merchant.id,
            source=io.StringIO(text, newline=""),
            actor=ACTOR,
            executor=executor,
            lookahead=lookahead,
        )
        return time.perf_counter() - started, report
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="validation processes"
    )
    args = parser.parse_args()
    text = members_csv(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", databases.sqlite_url(Path(tmp)))]
        base = databases.postgres_url()
        if base:
            targets.append(("postgresql", databases.create_postgres_database(base)))
        try:
            for name, url in targets:
                next(databases.migrated(url))
                executor = importer.validation_pool(args.processes)
                lookahead = args.processes + 1 if executor else 2
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = time.process_time()
                elapsed, report = asyncio.run(measure(url, text, executor, lookahead))
                cpu = time.process_time() - cpu
                if executor:
                    executor.shutdown()
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                workers = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
                assert report.imported == args.rows, report.errors[:5]
                rows, rate = report.imported, report.imported / elapsed
                print(
                    f"{name:<10} {rows:>8} rows in {elapsed:6.2f} s: {rate:>7,.0f} rows/s"
                    f" (CPU: main {cpu:.1f} s, validation processes {workers:.1f} s)"
                )
        finally:
            if base and len(targets) > 1:
                databases.drop_postgres_database(base, targets[1][1])
    print(
        f"validation processes: {args.processes if args.processes > 1 else 0}, "
        f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
