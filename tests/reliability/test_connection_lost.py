"""A database connection lost in the middle of a request or of a job's chunk (what a PostgreSQL
restart does to every connection at once): the request answers its surface's 503 and commits
nothing, a retry with the same key does the work once, and an issuance job is retried until it
completes without spending its attempts.

The connection goes through the TCP proxy of ``tests/fixtures/proxy.py``, which drops it at a
precise point of the conversation (before a statement reaches the server, or just after the
server answered it); the real PostgreSQL service is never touched. PostgreSQL only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import is_unavailable
from bestow.models import IssuanceJob, IssuedReward, Job, Voucher, VoucherOrder
from bestow.surfaces.common import classify
from tests.conftest import app_on, make_settings
from tests.fixtures.proxy import TcpProxy
from tests.oauth.helpers import get_token
from tests.reliability.helpers import via
from tests.surfaces.partner.helpers import (
    ISSUE,
    Partner,
    count_jobs,
    create_campaign,
    email,
    issue_body,
    make_members,
    make_template,
    new_partner,
    wait_for_job,
    worker_client,
)
from tests.vouchers.helpers import create, fixed, new_key, post, vendor_error, voucher_client

pytestmark = pytest.mark.asyncio

AFTER_COPY_OF_VOUCHERS = (b'COPY "vouchers"', b"COPY ")
"""Dropped once the server has taken the vouchers: the request's next statement finds the
connection closed (asyncpg's ``InterfaceError: connection is closed``)."""


@pytest.fixture
def postgresql(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the connection is cut by a proxy in front of the server")
    return database_url


@pytest.fixture
def proxy(postgresql: str) -> Iterator[TcpProxy]:
    upstream = urlsplit(postgresql)
    with TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432) as running:
        yield running


@pytest.fixture
def proxied(postgresql: str, proxy: TcpProxy, var_dir: Path) -> Settings:
    """Settings of a deployment that reaches the test database through the proxy. Without the
    request log: its writer's statements (a COMMIT every half second) would race the request's
    own for the proxy's cut."""
    return make_settings(via(postgresql, proxy.port), var_dir, request_log=False)


@pytest.fixture
async def proxied_client(proxied: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_on(proxied) as client:
        yield client


async def voucher_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> tuple[str, dict[str, str]]:
    client_id, secret = await voucher_client(runtime)
    token = await get_token(client, client_id, secret)
    assert token.status_code == 200, token.text
    return client_id, {"Authorization": f"Bearer {token.json()['access_token']}"}


async def orders_and_vouchers(runtime: Runtime, client_id: str) -> tuple[int, int]:
    async with runtime.db.session() as session:
        orders = await session.scalar(
            select(func.count())
            .select_from(VoucherOrder)
            .where(VoucherOrder.client_id == client_id)
        )
        vouchers = await session.scalar(
            select(func.count()).select_from(Voucher).where(Voucher.client_id == client_id)
        )
    return int(orders or 0), int(vouchers or 0)


@pytest.mark.parametrize(
    ("sent", "after_reply"),
    [
        pytest.param(*AFTER_COPY_OF_VOUCHERS, id="closed-before-the-next-statement"),
        pytest.param(b'COPY "vouchers"', None, id="lost-during-a-statement"),
        pytest.param(b"COMMIT", None, id="lost-at-commit"),
    ],
)
async def test_a_connection_lost_mid_request_answers_503_and_the_retry_issues_once(
    runtime: Runtime,
    proxy: TcpProxy,
    proxied_client: httpx.AsyncClient,
    sent: bytes,
    after_reply: bytes | None,
) -> None:
    client_id, headers = await voucher_headers(proxied_client, runtime)
    product = await create(runtime, **fixed())
    key = new_key()
    trigger = proxy.cut_when(sent, after_reply=after_reply)

    response = await post(proxied_client, headers, product.code, {"quantity": 3}, key=key)

    assert trigger.fired == 1
    vendor_error(response, 503, "503-000")
    assert response.headers["retry-after"] == "1"
    assert await orders_and_vouchers(runtime, client_id) == (0, 0)

    retried = await post(proxied_client, headers, product.code, {"quantity": 3}, key=key)
    assert retried.status_code == 200, retried.text
    assert len(retried.json()["vouchers"]) == 3
    assert await orders_and_vouchers(runtime, client_id) == (1, 3)


async def test_a_connection_lost_in_the_idempotency_runner_answers_503_and_the_retry_runs_once(
    runtime: Runtime, proxy: TcpProxy, proxied: Settings
) -> None:
    """A keyed Partner issue whose work loses its connection, and then the release of its key as
    well (the database is away): the surface's 503, nothing written; once the key's lock lapses
    the retry makes one job."""
    async with app_on(proxied.model_copy(update={"idempotency_lock_seconds": 1})) as client:
        await lost_in_the_runner(runtime, proxy, client)


async def lost_in_the_runner(
    runtime: Runtime, proxy: TcpProxy, proxied_client: httpx.AsyncClient
) -> None:
    partner = await new_partner(runtime)
    template = await make_template(runtime, partner.merchant_id)
    emails = [email("runner")]
    await make_members(runtime, partner.merchant_id, emails=emails)
    campaign = await create_campaign(proxied_client, partner, template.id)
    body = issue_body(partner, campaign, [{"type": "email", "value": emails[0]}], "Treatment")
    headers = partner.headers(**{"X-Idempotency-Key": new_key()})
    cuts = [
        proxy.cut_when(b"INSERT INTO issuance_jobs"),
        proxy.cut_when(b"DELETE FROM idempotency_records"),
    ]

    response = await proxied_client.post(ISSUE, json=body, headers=headers)

    assert [cut.fired for cut in cuts] == [1, 1]
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert await count_jobs(runtime, partner.client_id) == 0

    for _ in range(40):
        retried = await proxied_client.post(ISSUE, json=body, headers=headers)
        if retried.status_code != 409:
            break
        await asyncio.sleep(0.25)
    assert retried.status_code == 202, retried.text
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_a_statement_on_a_connection_the_server_closed_is_unavailable(
    postgresql: str, proxy: TcpProxy
) -> None:
    """What a raw driver call (the ``COPY`` of ``bulk_insert``) raises once the server closed the
    connection between two statements of a transaction, as a restart does: 503, not 500."""
    import asyncpg

    connection = await asyncpg.connect(via(postgresql, proxy.port).replace("+asyncpg", ""))
    try:
        transaction = connection.transaction()
        await transaction.start()
        proxy.cut_when(b"SELECT 42", after_reply=b"SELECT")
        await connection.fetch("SELECT 42")
        async with asyncio.timeout(10):
            while not connection.is_closed():  # noqa: ASYNC110 (the driver offers no event)
                await asyncio.sleep(0.01)
        errors = []
        for call in (
            lambda: connection.copy_records_to_table("members", records=[("x",)]),
            transaction.commit,
        ):
            with pytest.raises(asyncpg.InterfaceError) as raised:
                await call()
            errors.append(raised.value)
    finally:
        await connection.close()
    for error in errors:
        assert "connection is closed" in str(error)
        assert is_unavailable(error)
        assert classify(error).status == 503
    assert not is_unavailable(asyncpg.InterfaceError("cannot use Connection.transaction()"))


# --- the worker ----------------------------------------------------------------------------------


async def start_job(
    client: httpx.AsyncClient, runtime: Runtime, members: int
) -> tuple[Partner, str, list[str]]:
    partner = await new_partner(runtime)
    template = await make_template(runtime, partner.merchant_id)
    emails = [email("cut") for _ in range(members)]
    await make_members(runtime, partner.merchant_id, emails=emails)
    campaign = await create_campaign(client, partner, template.id)
    body = issue_body(
        partner, campaign, [{"type": "email", "value": e} for e in emails], "Treatment"
    )
    response = await client.post(ISSUE, json=body, headers=partner.headers())
    assert response.status_code == 202, response.text
    job_id = str(response.json()["issuance_job"]["id"])
    return partner, job_id, emails


async def leave_one_attempt(runtime: Runtime, issuance_job_id: str) -> None:
    """Give the worker job a single attempt (as if earlier ones were spent, without the long
    backoff they would have left behind)."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Job)
            .where(Job.payload["job_id"].as_string() == issuance_job_id)
            .values(max_attempts=1)
        )
        await session.commit()


async def test_an_issuance_job_whose_chunks_lose_their_connection_completes_without_failing(
    runtime: Runtime, proxy: TcpProxy, proxied: Settings, app_client: httpx.AsyncClient
) -> None:
    """The job's chunk loses its connection three times, with one attempt left: the job is
    retried (outages spend no attempt) and completes with every member rewarded once."""
    partner, job_id, _ = await start_job(app_client, runtime, members=5)
    await leave_one_attempt(runtime, job_id)
    trigger = proxy.cut_when(b'COPY "issued_rewards"', after_reply=b"COPY ", times=3)
    settings = proxied.model_copy(update={"worker_lease_seconds": 5.0})

    async with worker_client(settings):
        job = await wait_for_job(
            app_client,
            partner,
            job_id,
            lambda j: j["state"] in ("completed", "failed"),
            timeout=120,
        )
    assert job["state"] == "completed", job
    assert trigger.fired == 3
    assert (job["success_count"], job["failure_count"]) == (5, 0)
    async with runtime.db.session() as session:
        rewards = await session.scalar(
            select(func.count()).select_from(IssuedReward).where(IssuedReward.job_id == job_id)
        )
        state = await session.scalar(select(IssuanceJob.state).where(IssuanceJob.id == job_id))
    assert (rewards, state) == (5, "completed")


async def test_an_issuance_job_whose_database_restarts_mid_chunk_completes_without_failing(
    runtime: Runtime, proxy: TcpProxy, proxied: Settings, app_client: httpx.AsyncClient
) -> None:
    """The database goes away for a few seconds in the middle of the job's chunk, as a restart
    does: the worker cannot even record the failed attempt at first. It records it once the
    database is back (instead of letting the lease lapse, which spends an attempt), and the job,
    left with one attempt, completes."""
    partner, job_id, _ = await start_job(app_client, runtime, members=5)
    await leave_one_attempt(runtime, job_id)
    restart = proxy.cut_when(b'COPY "issued_rewards"', down_for=3.0)
    settings = proxied.model_copy(update={"worker_lease_seconds": 8.0})

    async with worker_client(settings):
        job = await wait_for_job(
            app_client,
            partner,
            job_id,
            lambda j: j["state"] in ("completed", "failed"),
            timeout=120,
        )
    assert job["state"] == "completed", job
    assert restart.fired == 1
    assert (job["success_count"], job["failure_count"]) == (5, 0)
