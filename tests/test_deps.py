"""The one transaction idiom of a route: ``WriteSessionDep`` commits when the endpoint returns,
rolls back when it raises, and commits before the response is sent (a failed commit is the
request's failure, never a success the database does not hold)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import select

from bestow.app import build_runtime
from bestow.config import Settings
from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.db import ReadSession, WriteSession
from bestow.models import AuditEntry
from tests.conftest import unique


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = build_runtime(settings)
    app = FastAPI()
    app.state.runtime = runtime

    @app.post("/entries/{target}")
    async def write(target: str, session: WriteSessionDep, fail: bool = False) -> dict[str, str]:
        session.add(AuditEntry(actor="test", action="test", target_type="t", target_id=target))
        if fail:
            raise HTTPException(409, "refused")
        return {"target": target}

    @app.post("/broken")
    async def broken(session: WriteSessionDep) -> dict[str, str]:
        session.add(AuditEntry(actor="test", action="test", target_type="t"))  # no target_id
        return {"written": "no"}

    @app.get("/session")
    async def read(session: ReadSessionDep) -> dict[str, str]:
        return {"type": type(session).__name__}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bestow.test") as http:
            yield http
    finally:
        await runtime.db.dispose()


async def stored(settings: Settings, target: str) -> int:
    runtime = build_runtime(settings)
    try:
        async with runtime.db.session() as session:
            rows = await session.scalars(select(AuditEntry).where(AuditEntry.target_id == target))
            return len(rows.all())
    finally:
        await runtime.db.dispose()


async def test_a_route_that_returns_has_its_writes_committed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    target = unique("t")
    assert (await client.post(f"/entries/{target}")).status_code == 200
    assert await stored(settings, target) == 1


async def test_a_route_that_raises_commits_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    target = unique("t")
    assert (await client.post(f"/entries/{target}", params={"fail": "true"})).status_code == 409
    assert await stored(settings, target) == 0


async def test_a_commit_that_fails_is_the_request_s_failure(client: httpx.AsyncClient) -> None:
    assert (await client.post("/broken")).status_code == 500


async def test_reads_and_writes_get_sessions_of_distinct_types(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/session")).json() == {"type": "ReadSession"}
    assert not issubclass(ReadSession, WriteSession)
    assert not issubclass(WriteSession, ReadSession)
