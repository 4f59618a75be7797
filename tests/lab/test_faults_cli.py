"""``bestow faults add|list|remove``, run in this process on each test database: the same rules
as the Admin API, the same refusals (a production client, a bad share), audited."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bestow.app import build_runtime
from bestow.cli.main import app
from bestow.config import Settings, get_settings
from bestow.models import AuditEntry
from tests.surfaces.partner.helpers import new_partner


def invoke(database_url: str, var_dir: Path, *args: str) -> Result:
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def new_client(settings: Settings, environment: str = "demo") -> str:
    """A partner client of ``environment`` (the CLI runs its own event loop: so does this)."""

    async def make() -> str:
        runtime = build_runtime(settings)
        try:
            return (await new_partner(runtime, environment=environment)).client_id
        finally:
            await runtime.db.dispose()

    return asyncio.run(make())


def audit_actors(settings: Settings, client_id: str) -> set[str]:
    async def read() -> set[str]:
        runtime = build_runtime(settings)
        try:
            async with runtime.db.session() as session:
                return set(
                    await session.scalars(
                        select(AuditEntry.actor).where(
                            AuditEntry.target_id == client_id,
                            AuditEntry.action.like("fault_rule.%"),
                        )
                    )
                )
        finally:
            await runtime.db.dispose()

    return asyncio.run(read())


def printed(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_faults_add_list_remove(database_url: str, var_dir: Path, settings: Settings) -> None:
    client_id = new_client(settings, "uat")
    cli = lambda *args: invoke(database_url, var_dir, *args)  # noqa: E731
    slow = printed(
        cli(
            "faults",
            "add",
            client_id,
            "--kind",
            "slow",
            "--share",
            "0.5",
            "--route",
            "GET /partner/merchants",
            "--delay-ms",
            "1200",
            "--ttl",
            "10m",
            "--json",
        )
    )
    assert slow["kind"] == "slow" and slow["share"] == 0.5 and slow["params"] == {"delay_ms": 1200}
    assert slow["route"] == "GET /partner/merchants" and slow["expires_at"] and slow["live"]
    lost = printed(
        cli(
            "faults",
            "add",
            client_id,
            "--kind",
            "lost_answer",
            "--count",
            "2",
            "--answer",
            "504",
            "--json",
        )
    )
    assert lost["remaining"] == 2 and lost["params"] == {"answer": "504"}
    listed = printed(cli("faults", "list", client_id, "--json"))
    assert [r["id"] for r in listed["data"]] == [slow["id"], lost["id"]]
    table = cli("faults", "list", client_id)
    assert table.exit_code == 0 and slow["id"] in table.stdout and "lost_answer" in table.stdout
    removed = cli("faults", "remove", client_id, slow["id"])
    assert removed.exit_code == 0 and slow["id"] in removed.stdout
    listed = printed(cli("faults", "list", client_id, "--json"))
    assert [r["id"] for r in listed["data"]] == [lost["id"]]
    actors = audit_actors(settings, client_id)
    assert len(actors) == 1 and actors.pop().startswith("cli:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kind", "slow"), "give --share"),
        (("--kind", "slow", "--share", "0.5", "--count", "1"), "give --share"),
        (("--kind", "slow", "--count", "1", "--ttl", "soon"), "--ttl"),
        (("--kind", "slow", "--count", "1", "--ttl", "0"), "--ttl"),
        (("--kind", "slow", "--share", "0"), "share"),
        (("--kind", "slow", "--count", "1", "--delay-ms", "999999"), "delay_ms"),
    ],
)
def test_faults_add_refuses_a_bad_rule(
    database_url: str, var_dir: Path, settings: Settings, args: tuple[str, ...], message: str
) -> None:
    client_id = new_client(settings)
    result = invoke(database_url, var_dir, "faults", "add", client_id, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_faults_add_refuses_a_production_client(
    database_url: str, var_dir: Path, settings: Settings
) -> None:
    production = new_client(settings, "production")
    result = invoke(
        database_url,
        var_dir,
        "faults",
        "add",
        production,
        "--kind",
        "rate_limit",
        "--count",
        "1",
    )
    assert result.exit_code == 1
    assert "production client takes no fault rules" in result.stderr
    listed = printed(invoke(database_url, var_dir, "faults", "list", production, "--json"))
    assert listed == {"data": [], "next_cursor": None}
