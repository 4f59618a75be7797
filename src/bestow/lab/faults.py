"""Fault injection for demo and UAT clients: rules that make a share (or a count) of a client's
requests, jobs or webhook deliveries fail on purpose, so that an integrator can prove their
handling of each failure the vendors warn about (``docs/faults.md``).

A rule has a ``kind``, applies to a ``share`` of what matches it or to the next ``remaining``
occurrences, optionally only to one ``route`` (a route template, ``"POST /partner/..."`` or just
the path), and may expire. A production client never has rules and ignores them (``draw``).

The request-scoped kinds are decided once per request, right after authentication
(``for_request``, called by ``surfaces.common.identify``), from the ``X-Bestow-Fault`` header or
the client's live rules, which each process caches for about a second (``RULES_CACHE_SECONDS``):
a share rule costs no database round trip then, and a counted one one ``UPDATE``, which is what
makes it fire exactly ``count`` times across processes. ``LostAnswer`` (the one piece that acts
after the request) loses the answer of a request that drew ``lost_answer``."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bestow.audit import service as audit
from bestow.clients.service import get_client
from bestow.kit.actor import Actor
from bestow.kit.auth_cache import AuthCache
from bestow.kit.db import Database, WriteSession, utcnow
from bestow.kit.errors import Invalid, NotFound, RateLimited, ServiceUnavailable
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

HEADER = "X-Bestow-Fault"
"""The per-request sandbox header: one of ``REQUEST_KINDS``."""
DELAY_HEADER = "X-Bestow-Fault-Delay-Ms"
"""How late a ``slow`` answer comes, in milliseconds (``DEFAULT_DELAY_MS``)."""
ANSWER_HEADER = "X-Bestow-Fault-Answer"
"""How a ``lost_answer`` is lost: ``drop`` (the default) or ``504``."""

DEFAULT_DELAY_MS = 3000
MAX_DELAY_MS = 60_000
"""A slow answer waits at most a minute: longer holds a connection for nothing."""
DEFAULT_RETRY_AFTER = 1
MAX_RETRY_AFTER = 3600
DROP, GATEWAY_TIMEOUT = "drop", "504"
ANSWERS = (DROP, GATEWAY_TIMEOUT)

RULES_CACHE_SECONDS = 1.0
"""How long a process reuses a client's live request rules before reading them again."""

STATE_KEY = "fault"
"""``scope["state"]["fault"]``: the kind injected into a request (the request log reads it)."""
STATE_ANSWER = "fault_answer"
"""``scope["state"]["fault_answer"]``: how ``LostAnswer`` loses the answer."""


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
    params = checked_params(kind, params or {})
    if kind not in REQUEST_KINDS:
        # The worker's kinds check their own (imported here: that module builds on this one).
        from bestow.lab import worker_faults

        params = worker_faults.check_params(kind, params)
    rule = FaultRule(
        client_id=client_id,
        kind=kind,
        share=share,
        remaining=count,
        route=route.strip() if route else None,
        params=params,
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
        changes={
            "rule_id": rule.id,
            "kind": kind,
            "share": share,
            "count": count,
            "route": route,
            "params": params,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return rule


def _whole(params: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = params.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}", field=f"params.{name}")
    return value


REQUEST_PARAMS = {
    RATE_LIMIT: ("retry_after",),
    SERVER_ERROR: ("retry_after",),
    LOST_ANSWER: ("answer",),
    SLOW: ("delay_ms",),
}
"""The parameters each request kind takes (the worker's kinds define their own)."""


def checked_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of a request kind, checked and completed with their defaults; those of the
    other kinds as given."""
    if kind not in REQUEST_PARAMS:
        return dict(params)
    unknown = sorted(set(params) - set(REQUEST_PARAMS[kind]))
    if unknown:
        known = ", ".join(REQUEST_PARAMS[kind])
        raise Invalid(
            f"{kind} takes the parameter {known}, not {unknown[0]}", field=f"params.{unknown[0]}"
        )
    if kind in (RATE_LIMIT, SERVER_ERROR):
        return {
            "retry_after": _whole(params, "retry_after", 0, MAX_RETRY_AFTER, DEFAULT_RETRY_AFTER)
        }
    if kind == SLOW:
        return {"delay_ms": _whole(params, "delay_ms", 1, MAX_DELAY_MS, DEFAULT_DELAY_MS)}
    answer = str(params.get("answer", DROP))
    if answer not in ANSWERS:
        raise Invalid(f"answer must be {DROP} or {GATEWAY_TIMEOUT}", field="params.answer")
    return {"answer": answer}


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
        select(FaultRule)
        .where(
            FaultRule.client_id == client_id,
            FaultRule.kind.in_(kinds),
            or_(FaultRule.expires_at.is_(None), FaultRule.expires_at > now),
            or_(FaultRule.remaining.is_(None), FaultRule.remaining > 0),
        )
        .order_by(FaultRule.created_at, FaultRule.id)
    )
    return list(rows)


class RuleLike(Protocol):
    """What ``draw`` reads of a rule: a ``FaultRule`` or a cached ``Snapshot``."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def share(self) -> float | None: ...
    @property
    def route(self) -> str | None: ...
    @property
    def params(self) -> dict[str, Any]: ...


async def draw(
    session: AsyncSession | None,
    rules: Sequence[RuleLike],
    *,
    environment: str,
    method: str = "",
    route: str = "",
    chance: random.Random | None = None,
) -> Drawn | None:
    """The first of ``rules`` that fires for one occurrence, if any: a share rule by chance, a
    counted one by taking one of its remaining occurrences (atomically: of concurrent requests,
    exactly ``count`` get the fault). A production ``environment`` never draws. ``session`` may
    be ``None`` when every rule is a share rule; a counted one needs it, committed afterwards."""
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
        if session is None:
            raise ValueError("a counted rule is drawn in a write session")
        taken = await session.execute(
            update(FaultRule)
            .where(FaultRule.id == rule.id, FaultRule.remaining > 0)
            .values(remaining=FaultRule.remaining - 1)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return Drawn(rule.kind, rule.id, dict(rule.params or {}))
    return None


@dataclass(frozen=True)
class Snapshot:
    """A live rule as a process caches it: plain values, no session attached."""

    id: str
    kind: str
    share: float | None
    remaining: int | None
    route: str | None
    params: dict[str, Any]
    expires_at: datetime | None

    @classmethod
    def of(cls, rule: FaultRule) -> Snapshot:
        return cls(
            id=rule.id,
            kind=rule.kind,
            share=rule.share,
            remaining=rule.remaining,
            route=rule.route,
            params=dict(rule.params or {}),
            expires_at=rule.expires_at,
        )


RulesCache = AuthCache[tuple[Snapshot, ...]]


def rules_cache(app_state: Any) -> RulesCache:
    """The process's cache of live request rules, kept on the application's ``state`` (so that a
    test's reset of the application empties it)."""
    cache: RulesCache | None = getattr(app_state, "fault_rules_cache", None)
    if cache is None:
        cache = AuthCache(RULES_CACHE_SECONDS)
        app_state.fault_rules_cache = cache
    return cache


def new_rules_cache() -> RulesCache:
    return AuthCache(RULES_CACHE_SECONDS)


def from_header(kind: str, *, delay_ms: str | None = None, answer: str | None = None) -> Drawn:
    """The fault a request asks for with ``X-Bestow-Fault`` (and its companion headers), or
    ``Invalid`` naming the header."""
    kind = kind.strip()
    if kind not in REQUEST_KINDS:
        raise Invalid(f"{HEADER} must be one of {', '.join(REQUEST_KINDS)}", field=HEADER)
    given: dict[str, Any] = {}
    if kind == SLOW and delay_ms is not None:
        try:
            given["delay_ms"] = int(delay_ms.strip())
        except ValueError:
            given["delay_ms"] = delay_ms
    if kind == LOST_ANSWER and answer is not None:
        given["answer"] = answer.strip().lower()
    try:
        params = checked_params(kind, given)
    except Invalid as exc:
        header = DELAY_HEADER if kind == SLOW else ANSWER_HEADER
        raise Invalid(f"{header}: {exc.message}", field=header) from None
    return Drawn(kind, None, params)


async def for_request(
    db: Database,
    cache: RulesCache,
    *,
    client_id: str,
    environment: str,
    method: str,
    route: str,
    header: str | None = None,
    delay_ms: str | None = None,
    answer: str | None = None,
) -> Drawn | None:
    """The fault of one authenticated request: the one its ``X-Bestow-Fault`` header names,
    else the first of the client's live rules that fires; none for a production client, whose
    request ignores both (an unknown header value included)."""
    if not environments.allows_faults(environment):
        return None
    if header is not None:
        return from_header(header, delay_ms=delay_ms, answer=answer)
    key = (client_id,)
    rules = cache.get(key)
    if rules is None:
        async with db.session() as session:
            found = await live_rules(session, client_id, REQUEST_KINDS)
            rules = tuple(Snapshot.of(rule) for rule in found)
        cache.put(key, rules)
    if not rules:
        return None
    now = utcnow()
    matching = [
        rule
        for rule in rules
        if (rule.expires_at is None or rule.expires_at > now)
        and matches_route(rule.route, method, route)
    ]
    counted = [rule for rule in matching if rule.remaining is not None]
    if not counted:
        return await draw(None, matching, environment=environment, method=method, route=route)
    async with db.write_session() as session:
        drawn = await draw(session, matching, environment=environment, method=method, route=route)
        await session.commit()
    if drawn is None:
        # Every counted rule was tried and has run out: no more UPDATEs for them here.
        cache.put(key, tuple(rule for rule in rules if rule not in counted))
    return drawn


async def inject(drawn: Drawn, state: dict[str, Any]) -> None:
    """Act on a request's fault before its handler runs, and mark the request with it
    (``state`` is ``scope["state"]``): ``rate_limit`` and ``server_error`` raise (the surface
    renders its own 429 or 503, nothing done), ``slow`` waits, ``lost_answer`` lets the request
    go on and leaves the answer to ``LostAnswer``."""
    state[STATE_KEY] = drawn.kind
    params = checked_params(drawn.kind, drawn.params)
    if drawn.kind == RATE_LIMIT:
        raise RateLimited(
            "Rate limit exceeded (a fault injected by the sandbox: rate_limit)",
            headers={"Retry-After": str(params["retry_after"])},
        )
    if drawn.kind == SERVER_ERROR:
        raise ServiceUnavailable(
            "The service is temporarily unavailable (a fault injected by the sandbox: "
            "server_error); nothing was done, retry shortly",
            headers={"Retry-After": str(params["retry_after"])},
        )
    if drawn.kind == SLOW:
        await asyncio.sleep(params["delay_ms"] / 1000)
    elif drawn.kind == LOST_ANSWER:
        state[STATE_ANSWER] = params["answer"]


GatewayTimeout = Callable[[str], Response]
"""The 504 answered in place of a lost answer, for a request path (in its surface's shape)."""

LOST_MESSAGE = (
    "The answer was lost after the request was done (a fault injected by the sandbox: "
    "lost_answer); repeat it with the same idempotency key to get it"
)
_KEPT_HEADERS = (b"x-request-id", b"x-bestow-environment")


class LostAnswer:
    """Loses the answer of a request that drew ``lost_answer``: the request runs to its end,
    its transaction committed (a route's write session commits before its answer starts, see
    ``bestow.deps``), then, instead of the answer, the connection is closed without a byte
    (``drop``) or a 504 is answered (``504``). Pure ASGI and outermost, so that only the answer
    is touched: the access log and the request log, inside it, record what was lost."""

    def __init__(self, app: ASGIApp, *, gateway_timeout: GatewayTimeout) -> None:
        self.app = app
        self.gateway_timeout = gateway_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_lost(message: Message) -> None:
            if not held and message["type"] == "http.response.start":
                state = scope.get("state") or {}
                if state.get(STATE_KEY) == LOST_ANSWER:
                    held.append(message)
            if not held:
                await send(message)

        await self.app(scope, receive, hold_lost)
        if not held:
            return
        if (scope.get("state") or {}).get(STATE_ANSWER) == GATEWAY_TIMEOUT:
            response = self.gateway_timeout(scope["path"])
            kept = [(k, v) for k, v in held[0].get("headers", []) if k.lower() in _KEPT_HEADERS]
            response.raw_headers.extend(kept)
            await response(scope, receive, send)
            return
        await _drop(receive)


async def _drop(receive: Receive) -> None:
    """Close the connection without answering. ASGI has no message for it: the server's
    connection is reached through its ``receive`` (uvicorn's request cycle holds the
    transport); then the server sees the client gone and answers nothing. Elsewhere (an
    in-process transport) nothing is sent, which such a transport reports as an error."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "close"):
        return
    transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            while (await receive())["type"] != "http.disconnect":
                pass
