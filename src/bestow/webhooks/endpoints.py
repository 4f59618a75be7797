"""Webhook endpoints of a client: created, changed, rotated and replayed by operators.

The signing secret is shown once, when the endpoint is made or its secret rotated, and stored
sealed (the dispatcher needs it back to sign). Every change is audited; secrets never are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow import domains
from bestow.audit import service as audit
from bestow.clients.service import get_client
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, dialect_of, insert_ignore, utcnow
from bestow.kit.errors import Invalid, InvalidState, NotFound
from bestow.kit.ids import new_id
from bestow.kit.outbox import lookup
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.kit.security import Sealer
from bestow.lab import environments
from bestow.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bestow.webhooks import deliveries, signing, urls

# Re-exported: the dispatcher, the Admin API and the tests read them here.
from bestow.webhooks.retries import MAX_ATTEMPTS as MAX_ATTEMPTS
from bestow.webhooks.retries import RETRY_SCHEDULE as RETRY_SCHEDULE

MAX_OVERLAP = timedelta(days=7)
MAX_HEADERS = 20
RESERVED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "content-type",
        "host",
        "transfer-encoding",
        "user-agent",
        "webhook-id",
        "webhook-signature",
        "webhook-timestamp",
        "x-thanx-signature",
    }
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]{0,1000}$")


@dataclass(frozen=True)
class WithSecret:
    """An endpoint and its new secret, shown once."""

    endpoint: WebhookEndpoint
    secret: str


def _event_types(values: list[str] | None) -> list[str]:
    chosen = sorted({v.strip() for v in values or [] if v.strip()})
    domains.load()  # every domain's event types
    unknown = [v for v in chosen if lookup(v) is None]
    if unknown:
        raise Invalid(f"unknown event types: {', '.join(unknown)}", field="event_types")
    return chosen


def _max_attempts(value: int) -> int:
    if not 1 <= value <= MAX_ATTEMPTS:
        raise Invalid(f"max_attempts must be between 1 and {MAX_ATTEMPTS}", field="max_attempts")
    return value


def _headers(values: dict[str, str] | None) -> dict[str, str]:
    values = values or {}
    if len(values) > MAX_HEADERS:
        raise Invalid(f"at most {MAX_HEADERS} extra headers", field="headers")
    for name, value in values.items():
        if not _HEADER_NAME.match(name) or not _HEADER_VALUE.match(value):
            raise Invalid(f"header {name[:100]!r} is not a valid HTTP header", field="headers")
        if name.lower() in RESERVED_HEADERS:
            raise Invalid(f"header {name} is set by Bestow itself", field="headers")
    return dict(values)


def _strict(environment: str) -> bool:
    """Production's URL rules (https, public addresses) for a client of ``environment``."""
    return not environments.allows_local_webhooks(environment)


async def create_endpoint(
    session: WriteSession,
    sealer: Sealer,
    *,
    client_id: str,
    url: str,
    actor: Actor,
    description: str = "",
    event_types: list[str] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    headers: dict[str, str] | None = None,
    enabled: bool = True,
) -> WithSecret:
    client = await get_client(session, client_id)
    secret = signing.new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id("ep"),
        client_id=client_id,
        url=await urls.check_url(url, production=_strict(client.environment)),
        description=description.strip(),
        event_types=_event_types(event_types),
        enabled=enabled,
        disabled_reason=None if enabled else "disabled by an operator",
        sealed_secret=sealer.seal(secret),
        max_attempts=_max_attempts(max_attempts),
        headers=_headers(headers),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    audit.record(
        session,
        actor=actor,
        action="webhook_endpoint.created",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        changes={"client_id": client_id, "event_types": endpoint.event_types, "enabled": enabled},
    )
    return WithSecret(endpoint, secret)


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, for_update: bool = False
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=for_update)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return endpoint


def query(*, client_id: str | None = None) -> Select[WebhookEndpoint]:
    stmt = select(WebhookEndpoint)
    if client_id:
        stmt = stmt.where(WebhookEndpoint.client_id == client_id)
    return stmt


async def list_endpoints(
    session: AsyncSession, *, client_id: str | None = None, cursor: str | None, limit: int
) -> CursorPage[WebhookEndpoint]:
    """Endpoints, of one client or of all, a page at a time."""
    stmt = query(client_id=client_id)
    return await cursor_paginate(session, stmt, WebhookEndpoint.id, cursor=cursor, limit=limit)


async def update_endpoint(
    session: WriteSession,
    *,
    endpoint_id: str,
    actor: Actor,
    url: str | None = None,
    description: str | None = None,
    event_types: list[str] | None = None,
    max_attempts: int | None = None,
    headers: dict[str, str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change the given fields. Enabling an endpoint clears its failure streak."""
    endpoint = await get_endpoint(session, endpoint_id, for_update=True)
    changes: dict[str, object] = {}
    if url is not None:
        client = await get_client(session, endpoint.client_id)
        endpoint.url = await urls.check_url(url, production=_strict(client.environment))
        changes["url"] = "changed"
    if description is not None:
        endpoint.description = description.strip()
        changes["description"] = "changed"
    if event_types is not None:
        endpoint.event_types = _event_types(event_types)
        changes["event_types"] = endpoint.event_types
    if max_attempts is not None:
        endpoint.max_attempts = _max_attempts(max_attempts)
        changes["max_attempts"] = max_attempts
    if headers is not None:
        endpoint.headers = _headers(headers)
        changes["headers"] = sorted(endpoint.headers)
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_reason = None if enabled else "disabled by an operator"
        endpoint.failing_since = None
        changes["enabled"] = enabled
    endpoint.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="webhook_endpoint.updated",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        changes=changes,
    )
    return endpoint


async def rotate_secret(
    session: WriteSession,
    sealer: Sealer,
    *,
    endpoint_id: str,
    actor: Actor,
    overlap: timedelta,
) -> WithSecret:
    """A new secret; the current one keeps signing for ``overlap`` (none when it is zero)."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Invalid("the overlap is between 0 seconds and 7 days", field="overlap_seconds")
    endpoint = await get_endpoint(session, endpoint_id, for_update=True)
    secret = signing.new_secret()
    now = utcnow()
    if overlap:
        endpoint.sealed_previous_secret = endpoint.sealed_secret
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.sealed_previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.sealed_secret = sealer.seal(secret)
    endpoint.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="webhook_endpoint.secret_rotated",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        changes={"overlap_seconds": int(overlap.total_seconds())},
    )
    return WithSecret(endpoint, secret)


async def delete_endpoint(session: WriteSession, *, endpoint_id: str, actor: Actor) -> None:
    """Remove the endpoint with its deliveries and attempts."""
    endpoint = await get_endpoint(session, endpoint_id, for_update=True)
    await session.delete(endpoint)
    audit.record(
        session,
        actor=actor,
        action="webhook_endpoint.deleted",
        target_type="webhook_endpoint",
        target_id=endpoint_id,
        changes={"client_id": endpoint.client_id},
    )


def attempts_query(endpoint_id: str, *, event_id: str | None = None) -> Select[WebhookAttempt]:
    stmt = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    if event_id:
        stmt = stmt.where(WebhookAttempt.event_id == event_id)
    return stmt


async def list_deliveries(
    session: AsyncSession,
    endpoint_id: str,
    *,
    state: str | None = None,
    event_id: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[WebhookDelivery]:
    """An endpoint's deliveries, one per event, oldest first (NotFound for an unknown endpoint);
    ``deliveries.list_deliveries`` lists those of every endpoint."""
    await get_endpoint(session, endpoint_id)
    stmt = deliveries.query(
        deliveries.Filters(endpoint_id=endpoint_id, state=state or None, event_id=event_id)
    )
    return await cursor_paginate(session, stmt, WebhookDelivery.id, cursor=cursor, limit=limit)


async def list_attempts(
    session: AsyncSession,
    endpoint_id: str,
    *,
    event_id: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[WebhookAttempt]:
    """Every request made to an endpoint (NotFound for an unknown endpoint)."""
    await get_endpoint(session, endpoint_id)
    stmt = attempts_query(endpoint_id, event_id=event_id)
    return await cursor_paginate(session, stmt, WebhookAttempt.id, cursor=cursor, limit=limit)


async def replay(
    session: WriteSession,
    *,
    endpoint_id: str,
    actor: Actor,
    event_id: str | None = None,
    since: datetime | None = None,
) -> int:
    """Send again one event of the endpoint's client (delivered or not), or every failed delivery
    created since a time. Each replayed delivery starts a fresh retry schedule and keeps its event
    id, so receivers can deduplicate. Returns how many deliveries were scheduled."""
    if (event_id is None) == (since is None):
        raise Invalid("give either an event id or a time to replay failed deliveries since")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without an offset is UTC
    endpoint = await get_endpoint(session, endpoint_id)
    if not endpoint.enabled:
        raise InvalidState("the endpoint is disabled; enable it before replaying")
    now = utcnow()
    again = {
        "state": "pending",
        "origin": "replay",
        "run_attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "updated_at": now,
    }
    if event_id is not None:
        count = await _replay_event(session, endpoint, event_id, again, now)
    else:
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.state == "failed",
                WebhookDelivery.created_at >= since,
            )
            .values(**again)
            .execution_options(synchronize_session=False)
        )
        count = result.rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        actor=actor,
        action="webhook_endpoint.replayed",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        changes={
            "event_id": event_id,
            "since": since.isoformat() if since else None,
            "count": count,
        },
    )
    return int(count)


async def _replay_event(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    event_id: str,
    again: dict[str, object],
    now: datetime,
) -> int:
    event = await session.get(OutboxEvent, event_id)
    if event is None or event.client_id != endpoint.client_id:
        raise NotFound(f"event {event_id} not found")
    if event.published_at is None:
        return 0  # not fanned out yet: its first delivery is on the way
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == event_id)
        .values(**again)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return 1
    await session.execute(
        insert_ignore(dialect_of(session), WebhookDelivery.__table__).values(
            id=new_id("dlv"),
            endpoint_id=endpoint.id,
            event_id=event.id,
            client_id=endpoint.client_id,
            event_type=event.type,
            attempt_count=0,
            created_at=now,
            **again,
        )
    )
    return 1


def signing_secrets(
    endpoint: WebhookEndpoint, sealer: Sealer, now: datetime
) -> tuple[list[str], str]:
    """The secrets that sign now: all of them for Standard Webhooks, and the one for the
    single-valued vendor header (the previous secret while the overlap lasts)."""
    current = sealer.unseal(endpoint.sealed_secret)
    expires = endpoint.previous_secret_expires_at
    if endpoint.sealed_previous_secret and expires is not None and expires > now:
        previous = sealer.unseal(endpoint.sealed_previous_secret)
        return [current, previous], previous
    return [current], current
