"""Partner API rate limits over HTTP: burst, quota, tiers, and a budget shared by processes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from bestow.app import build_runtime
from bestow.config import RateLimitTier
from bestow.deps import Runtime
from tests.conftest import ADMIN_TOKEN, PartnerWorld, app_on, make_partner, make_settings
from tests.fixtures import databases, servers

RATE_LIMIT_HEADERS = ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
SECRET_KEY = "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA"


def partner_headers(client_id: str, token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "X-ClientId": client_id,
        "Accept-Version": "v4.0",
    }


async def statuses(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[int]:
    return [
        (await client.get("/partner/merchants", headers=headers)).status_code for _ in range(count)
    ]


async def test_the_sixth_request_in_a_second_is_refused_with_rate_limit_headers(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    responses = [
        await app_client.get("/partner/merchants", headers=partner.headers()) for _ in range(6)
    ]

    assert [r.status_code for r in responses] == [200] * 5 + [429]
    refused = responses[-1]
    assert refused.json() == {
        "code": "RATE_LIMIT_EXCEEDED",
        "message": "Rate limit exceeded: 5 requests per second",
    }
    assert {name: refused.headers[name] for name in RATE_LIMIT_HEADERS} == {
        "Retry-After": "1",
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",
    }


async def test_a_client_on_the_unlimited_tier_is_never_limited(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, token, _ = await make_partner(runtime, tier="unlimited")

    assert await statuses(app_client, partner_headers(client_id, token), 30) == [200] * 30


async def test_clients_have_separate_budgets(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    assert await statuses(app_client, partner.headers(), 6) == [200] * 5 + [429]

    assert await statuses(app_client, partner.other_headers(), 5) == [200] * 5
    assert await statuses(app_client, partner.headers(), 1) == [429]


@pytest.fixture
async def tight_client(database_url: str, var_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An application whose default tier allows 3 requests a second and 5 per 15 minutes."""
    tiers = {"default": RateLimitTier(per_second=3, per_15_minutes=5)}
    async with app_on(make_settings(database_url, var_dir, rate_limit_tiers=tiers)) as client:
        yield client


async def test_a_refused_burst_is_not_charged_to_the_quota(
    tight_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    assert await statuses(tight_client, partner.headers(), 5) == [200] * 3 + [429] * 2
    # Let the one-second burst window empty; the quota still holds 3 of its 5.
    await asyncio.sleep(1.1)

    assert await statuses(tight_client, partner.headers(), 2) == [200, 200]
    refused = await tight_client.get("/partner/merchants", headers=partner.headers())
    assert refused.status_code == 429
    assert refused.json()["message"] == "Rate limit exceeded: 5 requests per 15 minutes"
    assert refused.headers["RateLimit-Limit"] == "5"
    assert int(refused.headers["Retry-After"]) > 1


# Two API processes on one Redis --------------------------------------------------------------

# The processes' tiers: the usual default, and a quota-only tier whose refusals do not depend on
# how fast the requests are sent.
SERVER_TIERS = {
    "default": RateLimitTier(per_second=5, per_15_minutes=2000),
    "quota": RateLimitTier(per_second=None, per_15_minutes=4),
}


@pytest.fixture(scope="module")
def api_processes(
    database_url: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[servers.Server, servers.Server]]:
    """Two ``bestow serve --no-worker`` processes on the test database, sharing one Redis.

    The budget lives in Redis, whatever the database; booting two processes costs seconds, so this
    runs on PostgreSQL when the run has it, on SQLite otherwise.
    """
    redis = databases.redis_url()
    if redis is None:
        pytest.skip("Redis is not available")
    if database_url.startswith("sqlite") and databases.postgres_url():
        pytest.skip("the processes run on PostgreSQL in this run")
    var_dir = tmp_path_factory.mktemp("serve")
    env = {
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_REDIS_URL": redis,
        "BESTOW_REDIS_PREFIX": f"{redis_prefix}-serve-{uuid.uuid4().hex[:8]}",
        "BESTOW_SECRET_KEY": SECRET_KEY,
        "BESTOW_ADMIN_TOKEN": ADMIN_TOKEN,
        "BESTOW_VAR_DIR": str(var_dir),
        "BESTOW_LOG_LEVEL": "WARNING",
        "BESTOW_RATE_LIMIT_TIERS": json.dumps(
            {name: tier.model_dump() for name, tier in SERVER_TIERS.items()}
        ),
    }
    pair = [servers.start(env, wait=False, log_dir=var_dir) for _ in range(2)]
    try:
        for server in pair:
            server.wait_ready()
        yield pair[0], pair[1]
    finally:
        for server in pair:
            server.stop()
        with Redis.from_url(redis) as connection:
            for key in connection.scan_iter(f"{env['BESTOW_REDIS_PREFIX']}:*"):
                connection.delete(key)


@pytest.fixture
async def server_runtime(database_url: str, var_dir: Path) -> AsyncIterator[Runtime]:
    """The services on the processes' database, with their secret key and tiers."""
    runtime = build_runtime(
        make_settings(database_url, var_dir, secret_key=SECRET_KEY, rate_limit_tiers=SERVER_TIERS)
    )
    try:
        yield runtime
    finally:
        await runtime.db.dispose()


async def send_in_turn(
    pair: tuple[servers.Server, servers.Server], headers: dict[str, str], count: int
) -> list[httpx.Response]:
    """``count`` requests, alternating between the processes, each sent after the last answered."""
    clients = [httpx.AsyncClient(base_url=server.base_url, timeout=10) for server in pair]
    try:
        for client in clients:
            # Connections and the database pool are warm before the timed burst begins.
            assert (await client.get("/readyz")).status_code == 200
        return [
            await clients[i % 2].get("/partner/merchants", headers=headers) for i in range(count)
        ]
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.slow
async def test_two_processes_sharing_redis_share_the_burst_budget(
    api_processes: tuple[servers.Server, servers.Server], server_runtime: Runtime
) -> None:
    client_id, token, _ = await make_partner(server_runtime)

    responses = await send_in_turn(api_processes, partner_headers(client_id, token), 6)

    assert [r.status_code for r in responses] == [200] * 5 + [429], [r.text for r in responses]
    assert responses[-1].json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert responses[-1].headers["RateLimit-Limit"] == "5"


@pytest.mark.slow
async def test_two_processes_sharing_redis_share_the_quota(
    api_processes: tuple[servers.Server, servers.Server], server_runtime: Runtime
) -> None:
    client_id, token, _ = await make_partner(server_runtime, tier="quota")

    responses = await send_in_turn(api_processes, partner_headers(client_id, token), 6)

    assert [r.status_code for r in responses] == [200] * 4 + [429] * 2
    assert {r.headers["RateLimit-Limit"] for r in responses[4:]} == {"4"}
