"""Admin API member creation with ``Idempotency-Key``: one member, identical replays, mismatches."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from bestow.deps import Runtime
from tests.conftest import ADMIN_TOKEN, unique

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def new_merchant(app_client: httpx.AsyncClient) -> str:
    response = await app_client.post(
        "/admin/merchants", json={"name": "Idempotent", "handle": unique("m")}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    merchant_id: str = response.json()["id"]
    return merchant_id


async def create_member(
    app_client: httpx.AsyncClient, merchant_id: str, key: str, body: dict[str, str]
) -> httpx.Response:
    return await app_client.post(
        f"/admin/merchants/{merchant_id}/members",
        json=body,
        headers={**ADMIN, "Idempotency-Key": key},
    )


async def member_ids(app_client: httpx.AsyncClient, merchant_id: str) -> list[str]:
    response = await app_client.get(f"/admin/merchants/{merchant_id}/members", headers=ADMIN)
    assert response.status_code == 200, response.text
    return [member["id"] for member in response.json()["data"]]


async def warm_pool(app_client: httpx.AsyncClient, connections: int) -> None:
    """Open connections at once, so that concurrent requests race in the database, not the pool."""
    runtime: Runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    ready = asyncio.Barrier(connections)

    async def hold() -> None:
        async with runtime.db.write_engine.connect():
            await ready.wait()

    await asyncio.gather(*(hold() for _ in range(connections)))


async def test_concurrent_identical_requests_create_one_member(
    app_client: httpx.AsyncClient,
) -> None:
    merchant_id = await new_merchant(app_client)
    key = str(uuid.uuid4())
    body = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "first_name": "Ada"}
    await warm_pool(app_client, 10)

    responses = await asyncio.gather(
        *(create_member(app_client, merchant_id, key, body) for _ in range(20))
    )

    statuses = sorted({r.status_code for r in responses})
    assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    assert len([r for r in created if "Idempotent-Replayed" not in r.headers]) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["type"].endswith("/idempotency-in-flight")
    assert await member_ids(app_client, merchant_id) == [created[0].json()["id"]]


async def test_a_later_repeat_replays_the_first_response_byte_for_byte(
    app_client: httpx.AsyncClient,
) -> None:
    merchant_id = await new_merchant(app_client)
    key = str(uuid.uuid4())
    body = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "loyalty_id": "L-1"}
    first = await create_member(app_client, merchant_id, key, body)

    repeat = await create_member(app_client, merchant_id, key, dict(reversed(body.items())))

    assert (first.status_code, repeat.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.headers["content-type"] == first.headers["content-type"]
    assert repeat.content == first.content
    assert len(await member_ids(app_client, merchant_id)) == 1


async def test_the_same_key_with_another_body_is_unprocessable(
    app_client: httpx.AsyncClient,
) -> None:
    merchant_id = await new_merchant(app_client)
    key = str(uuid.uuid4())
    first = await create_member(app_client, merchant_id, key, {"email": "first@example.com"})

    other = await create_member(app_client, merchant_id, key, {"email": "other@example.com"})

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-mismatch")
    assert other.json()["status"] == 422
    assert len(await member_ids(app_client, merchant_id)) == 1


async def test_a_refused_request_does_not_use_up_its_key(app_client: httpx.AsyncClient) -> None:
    merchant_id = await new_merchant(app_client)
    key = str(uuid.uuid4())
    taken = {"email": f"{uuid.uuid4().hex[:8]}@example.com"}
    assert (
        await create_member(app_client, merchant_id, str(uuid.uuid4()), taken)
    ).status_code == 201

    clash = await create_member(app_client, merchant_id, key, taken)
    again = await create_member(app_client, merchant_id, key, taken)

    assert (clash.status_code, again.status_code) == (409, 409)
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["type"].endswith("/conflict")
