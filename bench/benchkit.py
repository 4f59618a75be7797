"""What the benchmarks share: throw-away PostgreSQL databases, ports, the venv's scripts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HOST = "127.0.0.1"


def pg_dsn(url: str) -> str:
    """A plain libpq URL for asyncpg (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def pg_admin(base_url: str, sql: str) -> None:
    """Run one statement (CREATE or DROP DATABASE) on the server of ``base_url``."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(pg_dsn(base_url), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def venv_script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found beside {sys.executable} nor on PATH")
    return found


CREATED_DATABASES: list[tuple[str, str]] = []
"""(server URL, name) of every PostgreSQL database made and not dropped yet: a benchmark's last
resort drops them when the normal path could not."""


@contextlib.asynccontextmanager
async def database(
    kind: str, tmp: Path, pg_url: str, *, sqlite_name: str = "bestow.db"
) -> AsyncIterator[str]:
    """A migrated, empty database; yields its SQLAlchemy URL and drops it afterwards."""
    from bestow.kit.migrate import upgrade_async

    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / sqlite_name}"
        await upgrade_async(url)
        yield url
        return
    name = f"bestow_bench_{uuid.uuid4().hex[:12]}"
    await pg_admin(pg_url, f'CREATE DATABASE "{name}"')
    CREATED_DATABASES.append((pg_url, name))
    try:
        url = with_database(pg_dsn(pg_url), name).replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
        await upgrade_async(url)
        yield url
    finally:
        await asyncio.shield(pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        CREATED_DATABASES.remove((pg_url, name))


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process on this host (``/proc``), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class DirectReader:
    """Reads rows straight from the benchmark's database (not through the API): a plain sqlite3
    connection or an asyncpg one. Subclasses add the queries they need."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._pg: Any = None
        self._lite: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.is_sqlite:
            self._lite = sqlite3.connect(self.url.split(":///", 1)[1], timeout=30)
            self._lite.execute("PRAGMA busy_timeout=30000")
        else:
            import asyncpg  # type: ignore[import-untyped]

            self._pg = await asyncpg.connect(pg_dsn(self.url.replace("+asyncpg", "")))

    async def close(self) -> None:
        if self._lite is not None:
            self._lite.close()
        if self._pg is not None:
            await self._pg.close()

    async def backend_cpu(self) -> dict[int, float]:
        """CPU seconds of this database's PostgreSQL backends but the reader's own (PostgreSQL
        on this host, read from ``/proc``); empty on SQLite."""
        if self._pg is None:
            return {}
        pids = await self._pg.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        found = {int(r[0]): proc_cpu(int(r[0])) for r in pids}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}
