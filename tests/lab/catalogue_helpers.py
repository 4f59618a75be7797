"""Helpers of the lab tests: the Admin API's catalogue calls, the CLI run in this process, and
the loyalty reward ids a programme's assignments name."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import get_settings
from bestow.deps import Runtime
from bestow.models import AuditEntry, LoyaltyReward
from tests.surfaces.admin.helpers import ADMIN

CLI_SECRET_KEY = "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA"


def catalogue_url(client_id: str, kind: str | None = None, item_id: str | None = None) -> str:
    url = f"/admin/clients/{client_id}/catalogue"
    if kind is not None:
        url += f"/{kind}/{item_id}"
    return url


async def assign(
    app_client: httpx.AsyncClient, client_id: str, kind: str, item_id: str, status: int = 201
) -> dict[str, Any]:
    """``PUT`` the item into the client's catalogue through the Admin API."""
    response = await app_client.put(catalogue_url(client_id, kind, item_id), headers=ADMIN)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def unassign(app_client: httpx.AsyncClient, client_id: str, kind: str, item_id: str) -> None:
    response = await app_client.delete(catalogue_url(client_id, kind, item_id), headers=ADMIN)
    assert response.status_code == 204, response.text


async def listed(
    app_client: httpx.AsyncClient, client_id: str, kind: str | None = None
) -> list[tuple[str, str]]:
    """The client's assignments as ``(kind, item_id)`` pairs."""
    params = {"kind": kind} if kind else {}
    response = await app_client.get(catalogue_url(client_id), headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    return [(item["kind"], item["item_id"]) for item in response.json()["data"]]


async def loyalty_reward_id(runtime: Runtime, merchant_id: str, reward_id: str) -> str:
    """The ``lrw_`` id of a programme's reward, which the catalogue names."""
    async with runtime.db.session() as session:
        found = await session.scalar(
            select(LoyaltyReward.id).where(
                LoyaltyReward.merchant_id == merchant_id, LoyaltyReward.reward_id == reward_id
            )
        )
    assert found is not None
    return found


async def audit_entries(runtime: Runtime, client_id: str, action: str) -> list[AuditEntry]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_id == client_id, AuditEntry.action == action)
            .order_by(AuditEntry.created_at)
        )
        return list(rows)


async def run_cli(database_url: str, var_dir: Path, *args: str) -> Result:
    """The ``bestow`` command in this process (in a thread: it runs its own event loop), on the
    test database."""
    return await asyncio.to_thread(_run_cli, database_url, var_dir, *args)


def _run_cli(database_url: str, var_dir: Path, *args: str) -> Result:
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": CLI_SECRET_KEY,
        "BESTOW_VAR_DIR": str(var_dir),
    }
    env.pop("BESTOW_ADMIN_TOKEN", None)
    env.pop("BESTOW_ENVIRONMENT", None)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()
