"""Fault injection for demo and UAT clients: rules that make a share (or a count) of a client's
requests, jobs or webhook deliveries fail on purpose, so that an integrator can prove their
handling of each failure the vendors warn about (``docs/lab.md``).

A rule has a ``kind``, applies to a ``share`` of what matches it or to the next ``remaining``
occurrences, optionally only to one ``route`` (a route template, ``"POST /partner/..."`` or just
the path), and may expire. A production client never has rules and ignores them (``draw``)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.clients.service import get_client
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid, NotFound
from bestow.lab import environments
from bestow.models import FaultRule

RATE_LIMIT = "rate_limit"
"""429 with ``Retry-After``, in the surface's shape, before any effect."""
SERVER_ERROR = "server_error"
"""500 or 503 in the surface's shape, before any effect."""
LOST_ANSWER = "lost_answer"
"""The effect commits, then the answer is lost (connection dropped, or a 504)."""
SLOW = "slow"
"""The answer comes late (``params.delay_ms``)."""
PARTIAL_FAILURE = "partial_failure"
"""A share of a batch's identifiers fail with a chosen error (``params``)."""
WEBHOOK_CHAOS = "webhook_chaos"
"""Webhook deliveries duplicated, delayed or reordered (``params``)."""

REQUEST_KINDS = (RATE_LIMIT, SERVER_ERROR, LOST_ANSWER, SLOW)
"""The kinds that act on one request; the ``X-Bestow-Fault`` header names one of these."""
KINDS = (*REQUEST_KINDS, PARTIAL_FAILURE, WEBHOOK_CHAOS)


@dataclass(frozen=True)
class Drawn:
    """A rule that fired: its id (``None`` for the request header) and its parameters."""

    kind: str
    rule_id: str | None
    params: dict[str, Any]


def matches_route(rule_route: str | None, method: str, route: str) -> bool:
    """A rule without a route matches every request; ``"POST /x"`` one method and template;
    ``"/x"`` every method of that template."""
    if not rule_route:
        return True
    wanted_method, _, wanted = rule_route.strip().rpartition(" ")
    if wanted != route:
        return False
    return not wanted_method or wanted_method.upper() == method.upper()


async def create_rule(
    session: WriteSession,
    *,
    client_id: str,
    kind: str,
    actor: Actor,
    share: float | None = None,
    count: int | None = None,
    route: str | None = None,
    params: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> FaultRule:
    client = await get_client(session, client_id)
    if not environments.allows_faults(client.environment):
        raise Invalid("a production client takes no fault rules", field="client_id")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if (share is None) == (count is None):
        raise Invalid("give either share (0 to 1) or count", field="share")
    if share is not None and not 0 < share <= 1:
        raise Invalid("share must be above 0 and at most 1", field="share")
    if count is not None and count < 1:
        raise Invalid("count must be at least 1", field="count")
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("expires_at must be in the future", field="expires_at")
    rule = FaultRule(
        client_id=client_id,
        kind=kind,
        share=share,
        remaining=count,
        route=route.strip() if route else None,
        params=dict(params or {}),
        expires_at=expires_at,
        created_at=utcnow(),
    )
    session.add(rule)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="fault_rule.created",
        target_type="client",
        target_id=client_id,
        changes={"rule_id": rule.id, "kind": kind, "share": share, "count": count, "route": route},
    )
    return rule


async def list_rules(session: AsyncSession, client_id: str) -> list[FaultRule]:
    await get_client(session, client_id)
    rows = await session.scalars(
        select(FaultRule).where(FaultRule.client_id == client_id).order_by(FaultRule.created_at)
    )
    return list(rows)


async def delete_rule(session: WriteSession, *, client_id: str, rule_id: str, actor: Actor) -> None:
    rule = await session.get(FaultRule, rule_id)
    if rule is None or rule.client_id != client_id:
        raise NotFound(f"fault rule {rule_id} not found")
    await session.delete(rule)
    audit.record(
        session,
        actor=actor,
        action="fault_rule.deleted",
        target_type="client",
        target_id=client_id,
        changes={"rule_id": rule_id, "kind": rule.kind},
    )


async def live_rules(
    session: AsyncSession, client_id: str, kinds: tuple[str, ...]
) -> list[FaultRule]:
    """The client's rules of ``kinds`` that have not expired nor run out."""
    now = utcnow()
    rows = await session.scalars(
        select(FaultRule).where(
            FaultRule.client_id == client_id,
            FaultRule.kind.in_(kinds),
            or_(FaultRule.expires_at.is_(None), FaultRule.expires_at > now),
            or_(FaultRule.remaining.is_(None), FaultRule.remaining > 0),
        )
    )
    return list(rows)


async def draw(
    session: AsyncSession,
    rules: list[FaultRule],
    *,
    environment: str,
    method: str = "",
    route: str = "",
    chance: random.Random | None = None,
) -> Drawn | None:
    """The first of ``rules`` that fires for one occurrence, if any: a share rule by chance, a
    counted one by taking one of its remaining occurrences (atomically: of concurrent requests,
    exactly ``count`` get the fault). A production ``environment`` never draws."""
    if not environments.allows_faults(environment):
        return None
    roll = chance or random
    for rule in rules:
        if not matches_route(rule.route, method, route):
            continue
        if rule.share is not None:
            if roll.random() < rule.share:
                return Drawn(rule.kind, rule.id, dict(rule.params or {}))
            continue
        taken = await session.execute(
            update(FaultRule)
            .where(FaultRule.id == rule.id, FaultRule.remaining > 0)
            .values(remaining=FaultRule.remaining - 1)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return Drawn(rule.kind, rule.id, dict(rule.params or {}))
    return None
