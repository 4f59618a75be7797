"""Helpers of the lab's tests: the request log as the Admin API answers it, and rows of it
written directly (for retention and the CLI)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import insert

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import Database, utcnow
from bestow.models import RequestLogEntry
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def flushed(http: httpx.AsyncClient) -> None:
    """Write what the application's request log holds (its task would, within half a second)."""
    await http.app.state.request_log.flush()  # type: ignore[attr-defined]


async def requests_of(http: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """``GET /admin/requests`` with ``filters``, every page, after a flush: newest first."""
    await flushed(http)
    found: list[dict[str, Any]] = []
    params = {"limit": 500, **{k: v for k, v in filters.items() if v is not None}}
    while True:
        response = await http.get("/admin/requests", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["data"])
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]


def row(client_id: str, **over: Any) -> dict[str, Any]:
    """A request log row, as the recorder writes one."""
    return {
        "request_id": "req-test",
        "client_id": client_id,
        "environment": "demo",
        "created_at": utcnow(),
        "surface": "partner",
        "method": "GET",
        "route": "/partner/campaigns",
        "status": 200,
        "latency_ms": 1.0,
        "idempotency_key": None,
        "headers_present": ["Authorization"],
        "header_values": {},
        "error_code": None,
        "replayed": False,
        "rate_limited": False,
        "fault": None,
        "body": {},
        **over,
    }


async def insert_rows(runtime: Runtime, rows: list[dict[str, Any]]) -> None:
    async with runtime.db.write_session() as session:
        await session.execute(insert(RequestLogEntry), rows)
        await session.commit()


def at(moment: datetime) -> str:
    return moment.isoformat()


def insert_rows_now(database_url: str, rows: list[dict[str, Any]]) -> None:
    """``insert_rows`` from a test without an event loop (one running the CLI in process)."""

    async def main() -> None:
        db = Database(Settings(database_url=database_url).database_url)
        try:
            async with db.write_session() as session:
                await session.execute(insert(RequestLogEntry), rows)
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(main())


def campaigns(partner: Any) -> str:
    """The Partner API's campaign list of the partner's merchant (a cheap, valid request)."""
    return f"/partner/campaigns?merchant_id={partner.merchant_id}"
