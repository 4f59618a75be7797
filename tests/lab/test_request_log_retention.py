"""The request log's bounds: retention pruned in batches by housekeeping, production off (or
sampled) by default, the global switch, and a buffer that drops its oldest rows rather than
hold a request when the database does not take them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import Database
from bestow.lab import requestlog
from bestow.models import RequestLogEntry
from bestow.worker import housekeeping
from tests.conftest import make_settings, unique
from tests.fixtures.apps import app_on
from tests.lab.helpers import campaigns, insert_rows, requests_of, row
from tests.surfaces.partner.helpers import new_partner

NOW = datetime(2001, 3, 1, tzinfo=UTC)
"""Prunes run "at" this time, so that only this module's rows (from 2001) are old enough."""


async def count(runtime: Runtime, client_id: str, environment: str | None = None) -> int:
    stmt = select(func.count()).where(RequestLogEntry.client_id == client_id)
    if environment is not None:
        stmt = stmt.where(RequestLogEntry.environment == environment)
    async with runtime.db.session() as session:
        return int(await session.scalar(stmt) or 0)


async def test_pruning_deletes_only_old_rows_a_batch_at_a_time(
    runtime: Runtime, settings: Settings
) -> None:
    client_id = unique("cli")
    days, production_days = settings.request_log_days, settings.request_log_production_days
    old = NOW - timedelta(days=days, hours=1)
    kept = NOW - timedelta(days=days - 1)
    old_production = NOW - timedelta(days=production_days, hours=1)
    kept_production = NOW - timedelta(days=production_days - 1)
    await insert_rows(
        runtime,
        [row(client_id, created_at=old) for _ in range(5)]
        + [row(client_id, created_at=kept) for _ in range(2)]
        + [row(client_id, created_at=old_production, environment="production") for _ in range(3)]
        + [row(client_id, created_at=kept_production, environment="production")],
    )

    first = await requestlog.prune(runtime.db, settings, now=NOW, batch=2, max_batches=1)
    assert first == 2
    assert await count(runtime, client_id, "demo") == 5
    assert await count(runtime, client_id, "production") == 4

    rest = await requestlog.prune(runtime.db, settings, now=NOW, batch=2, max_batches=None)
    assert rest == 3 + 3
    assert await count(runtime, client_id, "demo") == 2
    assert await count(runtime, client_id, "production") == 1


async def test_housekeeping_prunes_the_request_log(runtime: Runtime, settings: Settings) -> None:
    client_id = unique("cli")
    long_ago = datetime.now(UTC) - timedelta(days=settings.request_log_days + 1)
    await insert_rows(runtime, [row(client_id, created_at=long_ago), row(client_id)])
    await housekeeping.sweep(runtime.db, settings)
    assert await count(runtime, client_id) == 1


async def test_production_requests_are_not_recorded_by_default(
    database_url: str, var_dir: Path
) -> None:
    async with app_on(make_settings(database_url, var_dir)) as http:
        runtime = http.app.state.runtime  # type: ignore[attr-defined]
        production = await new_partner(runtime, environment="production")
        uat = await new_partner(runtime, environment="uat")
        for partner in (production, uat):
            answered = await http.get(campaigns(partner), headers=partner.headers())
            assert answered.status_code == 200, answered.text
        assert await requests_of(http, client_id=production.client_id) == []
        [entry] = await requests_of(http, client_id=uat.client_id)
        assert entry["environment"] == "uat"


async def test_a_production_share_records_production_requests(
    database_url: str, var_dir: Path
) -> None:
    settings = make_settings(database_url, var_dir, request_log_production_share=1.0)
    async with app_on(settings) as http:
        runtime = http.app.state.runtime  # type: ignore[attr-defined]
        production = await new_partner(runtime, environment="production")
        answered = await http.get(campaigns(production), headers=production.headers())
        assert answered.status_code == 200, answered.text
        [entry] = await requests_of(http, client_id=production.client_id)
        assert entry["environment"] == "production"


async def test_the_switch_turns_the_log_off(database_url: str, var_dir: Path) -> None:
    async with app_on(make_settings(database_url, var_dir, request_log=False)) as http:
        runtime = http.app.state.runtime  # type: ignore[attr-defined]
        partner = await new_partner(runtime)
        answered = await http.get(campaigns(partner), headers=partner.headers())
        assert answered.status_code == 200, answered.text
        assert http.app.state.request_log.pending == 0  # type: ignore[attr-defined]
        assert await requests_of(http, client_id=partner.client_id) == []


def dropped_total() -> float:
    return REGISTRY.get_sample_value("bestow_request_log_dropped_total") or 0.0


async def test_a_full_buffer_drops_its_oldest_rows_and_counts_them() -> None:
    unreachable = Database("postgresql+asyncpg://nobody:nothing@127.0.0.1:9/none")
    log = requestlog.RequestLog(unreachable, capacity=3)
    before = dropped_total()
    try:
        for n in range(5):
            log.append(row("cli_x", request_id=f"r{n}"))
        assert await log.flush() == 0
    finally:
        await unreachable.dispose()
    assert log.dropped == 2
    assert dropped_total() - before == 2
    assert log.pending == 3
    kept = [log._rows[n]["request_id"] for n in range(log.pending)]
    assert kept == ["r2", "r3", "r4"]


async def test_rows_kept_through_an_outage_are_written_once_it_ends(runtime: Runtime) -> None:
    client_id = unique("cli")
    log = requestlog.RequestLog(runtime.db)
    for n in range(3):
        log.append(row(client_id, request_id=f"r{n}"))
    assert await log.flush() == 3
    assert log.pending == 0
    assert await count(runtime, client_id) == 3
