"""Throw-away PostgreSQL databases for the benchmarks."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


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
