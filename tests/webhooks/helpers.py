"""Shared helpers of the webhook tests: endpoints, signature checks, delivery rows."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from standardwebhooks import Webhook

from bestow.deps import Runtime
from bestow.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bestow.webhooks import endpoints
from tests.conftest import ACTOR
from tests.fixtures.receiver import Received


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
            production=runtime.settings.is_production,
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
