"""``bestow demo`` in production: refused unless forced, since its clients would be back doors.

The commands run in this process (typer's runner, which runs its own event loop): the tests are
synchronous."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import Settings, get_settings
from bestow.models import Client
from tests.fixtures import databases

STRONG = {
    "BESTOW_ENVIRONMENT": "production",
    "BESTOW_SECRET_KEY": "GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
    "BESTOW_ADMIN_TOKEN": "vCktmnBmcUjYSzqA3f6kkhDR0qiyO6GZEOexrVAVNT4",
}


def production_cli(database_url: str, var_dir: Path) -> Callable[..., Result]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")} | {
        **STRONG,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_VAR_DIR": str(var_dir),
    }

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    return invoke


async def clients_in(database_url: str) -> int:
    engine = create_async_engine(Settings(database_url=database_url).database_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Client)) or 0)
    finally:
        await engine.dispose()


def test_demo_refuses_to_seed_in_production(database_url: str, var_dir: Path) -> None:
    before = asyncio.run(clients_in(database_url))
    refused = production_cli(database_url, var_dir)("demo", "--json")
    assert refused.exit_code == 1
    assert "refuses to seed demo clients" in refused.stderr
    assert "--force" in refused.stderr
    assert refused.stdout == ""
    assert asyncio.run(clients_in(database_url)) == before


@pytest.mark.slow
def test_demo_seeds_in_production_when_forced(tmp_path: Path) -> None:
    url = next(databases.migrated(databases.sqlite_url(tmp_path)))
    forced = production_cli(url, tmp_path / "var")("demo", "--json", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert {"admin", "partner", "vouchers"} <= set(orjson.loads(forced.stdout))
    assert asyncio.run(clients_in(url)) > 0
