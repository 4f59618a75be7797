"""Migrations build, from empty, exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select, text

from bestow.kit.db import Base, Database
from bestow.kit.migrate import upgrade_async
from bestow.models import Voucher
from bestow.runtime import build_runtime
from bestow.vouchers import issuing, links
from tests.conftest import make_settings
from tests.vouchers.helpers import create, fixed


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    db = Database(database_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await db.dispose()
    assert differences == []


async def test_database_is_at_the_latest_revision(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    from bestow.kit.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            current = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    finally:
        await db.dispose()
    assert current == head


async def test_plain_voucher_pins_are_sealed_by_the_migration(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vouchers issued before 0009 keep their PINs, sealed under the deployment's key."""
    key = "migration-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA"
    monkeypatch.setenv("BESTOW_SECRET_KEY", key)
    await upgrade_async(fresh_database, "head")
    runtime = build_runtime(make_settings(fresh_database, tmp_path, secret_key=key))
    try:
        product = await create(runtime, **fixed())
        async with runtime.db.write_session() as session:
            issued = await issuing.issue(
                session,
                client_id="cli_migration",
                key=str(uuid.uuid4()),
                product_code=product.code,
                quantity=3,
                face_value=None,
                billable=False,
            )
            await session.commit()
        pins = {v.id: links.pin_of(v, runtime.sealer) for v in issued.vouchers}
        vouchers = text("SELECT id, pin FROM vouchers")
        await upgrade_down(fresh_database, "0009")
        async with runtime.db.engine.connect() as conn:
            plain = {row[0]: row[1] for row in await conn.execute(vouchers)}
        assert plain == pins
        await runtime.db.dispose()
        await upgrade_async(fresh_database, "head")
        async with runtime.db.session() as session:
            stored = (await session.scalars(select(Voucher))).all()
        assert {v.id: links.pin_of(v, runtime.sealer) for v in stored} == pins
        assert not {v.sealed_pin for v in stored} & set(pins.values())
    finally:
        await runtime.db.dispose()


async def upgrade_down(database_url: str, revision: str) -> None:
    from alembic import command

    from bestow.kit.migrate import alembic_config

    await asyncio.to_thread(command.downgrade, alembic_config(database_url), revision)
