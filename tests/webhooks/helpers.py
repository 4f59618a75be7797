"""Shared helpers of the webhook tests: endpoints, signature checks, delivery rows."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import select, update
from standardwebhooks import Webhook

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.issuance.events import REWARD_ISSUED
from bestow.kit import outbox
from bestow.kit.db import utcnow
from bestow.kit.ids import new_id
from bestow.kit.outbox import EventType, envelope, record_event
from bestow.models import AuditEntry, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bestow.webhooks import endpoints
from bestow.webhooks.dispatcher import Dispatcher
from tests.conftest import ACTOR, make_partner
from tests.fixtures.receiver import Received

_T = TypeVar("_T")


async def create_endpoint(
    runtime: Runtime, client_id: str, url: str, **options: Any
) -> tuple[str, str]:
    """An endpoint through the service: (endpoint id, secret)."""
    async with runtime.db.write_session() as session:
        made = await endpoints.create_endpoint(
            session,
            runtime.sealer,
            client_id=client_id,
            url=url,
            actor=ACTOR,
            **options,
        )
        await session.commit()
    return made.endpoint.id, made.secret


def verify_standard(request: Received, secret: str) -> Any:
    """The body, verified as Standard Webhooks receivers do; raises when the signature is bad."""
    return Webhook(secret).verify(request.body, request.headers)


def thanx_signature_ok(request: Received, secret: str) -> bool:
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("x-thanx-signature", ""))


def timestamp(request: Received) -> datetime:
    return datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)


async def deliveries(runtime: Runtime, endpoint_id: str) -> list[WebhookDelivery]:
    async with runtime.db.session() as session:
        return list(
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.id)
            )
        )


async def attempts(runtime: Runtime, endpoint_id: str) -> list[WebhookAttempt]:
    async with runtime.db.session() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.endpoint_id == endpoint_id)
                .order_by(WebhookAttempt.created_at, WebhookAttempt.attempt)
            )
        )


async def endpoint_row(runtime: Runtime, endpoint_id: str) -> WebhookEndpoint:
    async with runtime.db.session() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        return endpoint


# Added for the retry and fault tests ---------------------------------------------------------


async def make_client(runtime: Runtime, environment: str = "demo") -> str:
    """A fresh client (with a partner token and a merchant) that only this test uses, of
    ``environment``: a production client's endpoints follow production's URL rules."""
    client_id, _, _ = await make_partner(runtime, environment=environment)
    return client_id


async def record_events(runtime: Runtime, client_id: str, count: int = 1) -> list[str]:
    """``count`` reward.issued events of the client, committed together: their ids, in order."""
    async with runtime.db.write_session() as session:
        rows = [
            record_event(
                session,
                REWARD_ISSUED,
                subject_type="reward",
                subject_id=new_id("rwd"),
                client_id=client_id,
                payload=envelope(
                    REWARD_ISSUED.name,
                    utcnow().isoformat(),
                    {"reward_id": f"reward-{n}", "sequence": n},
                ),
            )
            for n in range(count)
        ]
        await session.commit()
    return [row.id for row in rows]


async def poll(
    check: Callable[[], Awaitable[_T | None]], what: str, *, timeout: float = 15.0
) -> _T:
    """Call ``check`` until it returns something true; fail naming ``what`` after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {what} after {timeout} s")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def dispatching(
    runtime: Runtime, settings: Settings, **overrides: Any
) -> AsyncIterator[Dispatcher]:
    """A webhook dispatcher in this process on the test database; stopped (and drained) on exit.
    It polls every 0.05 s unless ``webhook_poll_seconds`` is given."""
    values: dict[str, Any] = {"webhook_poll_seconds": 0.05, **overrides}
    dispatcher = Dispatcher(
        runtime.db, settings.model_copy(update=values), worker_id=f"test:{new_id('wrk')}"
    )
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await asyncio.wait_for(task, timeout=30)


async def make_due_now(runtime: Runtime, endpoint_id: str) -> int:
    """Travel past the retry delay of the endpoint's pending deliveries instead of waiting."""
    async with runtime.db.write_session() as session:
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.state == "pending",
                WebhookDelivery.locked_by.is_(None),
            )
            .values(next_attempt_at=utcnow())
        )
        await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def settle(runtime: Runtime, endpoint_id: str) -> None:
    """Give up the endpoint's pending deliveries, so that no later test's dispatcher sends them
    to a receiver that is gone."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
            .values(state="failed", last_error="given up by the test")
        )
        await session.commit()


async def audit_entries(runtime: Runtime, target_id: str) -> list[AuditEntry]:
    async with runtime.db.session() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target_id == target_id)
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
        )


@dataclass
class Redirector:
    """A server that answers every POST with ``302 Found`` to ``location`` (the stock receiver
    cannot send a Location header); ``hits`` are the paths it was asked for."""

    location: str
    url: str = ""
    hits: list[str] = field(default_factory=list)


@asynccontextmanager
async def redirecting(location: str) -> AsyncIterator[Redirector]:
    redirector = Redirector(location)

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        redirector.hits.append(request.path_qs)
        return web.Response(status=302, headers={"Location": location}, text="moved")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        redirector.url = f"http://127.0.0.1:{port}/hooks"
        yield redirector
    finally:
        await runner.cleanup()


# Added for the signing, URL safety and endpoint tests ----------------------------------------


async def emit(
    runtime: Runtime, client_id: str, event: EventType = REWARD_ISSUED, **data: Any
) -> str:
    """One committed outbox event of the client (``data`` is its payload's ``data``): its id."""
    async with runtime.db.write_session() as session:
        row = record_event(
            session,
            event,
            subject_type="test",
            subject_id=new_id("sub"),
            client_id=client_id,
            payload=envelope(event.name, utcnow().isoformat(), {"marker": new_id("mk"), **data}),
        )
        await session.commit()
    return row.id


async def set_endpoint(runtime: Runtime, endpoint_id: str, **values: Any) -> None:
    """Write the endpoint's columns directly, past the service's checks."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values)
        )
        await session.commit()


async def delivery_for(runtime: Runtime, endpoint_id: str, event_id: str) -> WebhookDelivery | None:
    async with runtime.db.session() as session:
        delivery: WebhookDelivery | None = await session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_id == event_id
            )
        )
        return delivery


async def settled_delivery(
    runtime: Runtime, endpoint_id: str, event_id: str, *, timeout: float = 10.0
) -> WebhookDelivery:
    """The delivery once it is no longer pending (succeeded or failed)."""

    async def done() -> WebhookDelivery | None:
        found = await delivery_for(runtime, endpoint_id, event_id)
        return found if found is not None and found.state != "pending" else None

    return await poll(done, f"settled delivery of {event_id} to {endpoint_id}", timeout=timeout)


def event_row(client_id: str) -> dict[str, Any]:
    return outbox.event_row(
        REWARD_ISSUED,
        subject_type="test",
        subject_id=new_id("sub"),
        client_id=client_id,
        data={},
        now=utcnow(),
    )
