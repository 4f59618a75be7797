"""What the benchmarks share: throw-away PostgreSQL databases, ports, the venv's scripts."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path
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
