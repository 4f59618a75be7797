"""Worker-side faults for demo and UAT clients (``docs/faults-worker.md``): partial batch failures
(a share, or the next ``count``, of a Partner issuance job's or an Operator bulk enrollment's
identifiers fail with a chosen reason) and webhook chaos (deliveries duplicated, delayed or
reordered at fan-out).

The rules are ``bestow.lab.faults`` rules of the kinds ``partial_failure`` and ``webhook_chaos``.
A production client pays nothing: its environment is known before any rule is read. A demo or
UAT client pays one query per chunk (partial failures) or per fan-out batch (webhook chaos).

An injected failure looks exactly like a real one to the integrator (the same row, the same
reason); operators tell them apart by the audit entry ``fault.injected`` and the log line
``fault injected`` of the chunk. A chaos delivery carries its mode in ``origin``
(``chaos:duplicate``, ``chaos:delay``, ``chaos:reorder``; the second send of a duplicate
``chaos:resend``), which the Admin API and the CLI show for each delivery and attempt."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import dialect_of, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.jobs import JobContext, enqueue, task
from bestow.lab import environments
from bestow.lab.faults import PARTIAL_FAILURE, WEBHOOK_CHAOS, matches_route
from bestow.models import FaultRule, WebhookDelivery

log = structlog.get_logger("bestow.lab")

SYSTEM = Actor("system:lab")

# Partial failures ---------------------------------------------------------------------------

PARTNER = "partner"
OPERATOR = "operator"

PARTNER_ROUTE = ("POST", "/partner/campaigns/issue")
"""What a ``partial_failure`` rule's ``route`` is matched against for an issuance job."""
OPERATOR_ROUTE = ("POST", "/v1/rewards/{reward_id}/enrollments/bulk")
"""... and for a bulk enrollment."""

PARTNER_ERRORS = {
    "not_found": "User not found",
    "inactive": "User inactive",
    "duplicate": "Duplicate identifier",
    "invalid_email": "Invalid email",
    "invalid_phone": "Invalid phone number; E.164 format required",
}
"""The Partner API's documented failure reasons (``docs/partner-api.md``), by short name."""
OPERATOR_ERRORS = {
    "refused": "Could not be processed: the database refused it (IntegrityError)",
    "data": "Could not be processed: the database refused it (DataError)",
}
"""The reasons a bulk enrollment's player fails with (``bestow.kit.isolation.reason_of``)."""
ERRORS = {PARTNER: PARTNER_ERRORS, OPERATOR: OPERATOR_ERRORS}
DEFAULT_ERROR = {PARTNER: "not_found", OPERATOR: "refused"}

# Webhook chaos -----------------------------------------------------------------------------

DUPLICATE = "duplicate"
DELAY = "delay"
REORDER = "reorder"
MODES = (DUPLICATE, DELAY, REORDER)
ORIGINS = {mode: f"chaos:{mode}" for mode in MODES}
"""The ``origin`` of a delivery chaos picked, by mode."""
RESENT = "chaos:resend"
"""The ``origin`` of a duplicated delivery once it is armed again for its second send."""
DEFAULT_DELAY_SECONDS = 5.0
DEFAULT_HOLD_SECONDS = 2.0
"""How long ``reorder`` holds a delivery back, so that the events after it overtake it."""
DEFAULT_RESEND_AFTER_SECONDS = 1.0
MAX_SECONDS = 3600.0
RESEND_TASK = "lab.webhook_resend"
RESEND_ROUNDS = 60
"""How many times the resend waits for a duplicated delivery still in its retries."""


def check_params(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The params of a rule of ``kind``, checked (for the rule's creation): ``partial_failure``
    takes ``error`` (a reason's short name or its text, of either surface), ``webhook_chaos``
    takes ``mode`` (one of ``MODES`` or a list of them) and seconds. Other kinds pass as is."""
    params = dict(params or {})
    if kind == PARTIAL_FAILURE:
        error = params.get("error")
        if error is not None and _reason_key(error) is None:
            names = sorted({*PARTNER_ERRORS, *OPERATOR_ERRORS})
            raise Invalid(f"params.error must be one of {', '.join(names)}", field="params.error")
    elif kind == WEBHOOK_CHAOS:
        _modes(params)
        for name in ("delay_seconds", "hold_seconds", "resend_after_seconds"):
            _seconds(params, name, 0.0)
    return params


def _reason_key(error: Any) -> str | None:
    if not isinstance(error, str):
        return None
    for reasons in ERRORS.values():
        for key, text in reasons.items():
            if error in (key, text):
                return key
    return None


def reason_for(surface: str, params: dict[str, Any]) -> str:
    """The reason a rule's failures get on ``surface``: its ``error``, or the surface's default
    when unset or another surface's reason."""
    key = _reason_key(params.get("error"))
    reasons = ERRORS[surface]
    return reasons[key] if key in reasons else reasons[DEFAULT_ERROR[surface]]


def _modes(params: dict[str, Any]) -> list[str]:
    mode = params.get("mode", DUPLICATE)
    modes = [mode] if isinstance(mode, str) else mode
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        raise Invalid(
            f"params.mode must be one of {', '.join(MODES)}, or a list of them", field="params.mode"
        )
    return [str(m) for m in modes]


def _seconds(params: dict[str, Any], name: str, default: float) -> float:
    value = params.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_SECONDS
    ):
        raise Invalid(
            f"params.{name} must be a number of seconds from 0 to 3600", field=f"params.{name}"
        )
    return float(value)


@dataclass
class Injected:
    """The failures a chunk injects: the reason of each chosen position, and which rules."""

    reasons: dict[int, str] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)


async def take(session: AsyncSession, rule: FaultRule, wanted: int) -> int:
    """Take up to ``wanted`` of a counted rule's remaining occurrences, atomically against
    concurrent takers (compare and set); how many were taken."""
    remaining = rule.remaining
    for _ in range(20):
        if remaining is None or remaining <= 0 or wanted <= 0:
            return 0
        taken = min(remaining, wanted)
        result = await session.execute(
            update(FaultRule)
            .where(FaultRule.id == rule.id, FaultRule.remaining == remaining)
            .values(remaining=remaining - taken)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return taken
        remaining = await session.scalar(select(FaultRule.remaining).where(FaultRule.id == rule.id))
    return 0


async def batch_failures(
    session: AsyncSession,
    *,
    client_id: str,
    environment: str,
    surface: str,
    eligible: Sequence[int],
    chance: random.Random | None = None,
) -> Injected | None:
    """Which of the ``eligible`` positions of a chunk fail on purpose, and with what reason
    (none may be drawn). ``None`` when no rule applies, so that the caller stops asking for the
    rest of its batch: at once, without a query, for a production client. Each rule in turn: a
    share rule picks each position left by chance, a counted one the next of them."""
    if not environments.allows_faults(environment):
        return None
    method, route = PARTNER_ROUTE if surface == PARTNER else OPERATOR_ROUTE
    rules = [
        rule
        for rule in await _live(session, {client_id}, PARTIAL_FAILURE)
        if matches_route(rule.route, method, route)
    ]
    if not rules:
        return None
    roll = chance or random
    injected = Injected()
    left = list(eligible)
    for rule in rules:
        if not left:
            break
        reason = reason_for(surface, dict(rule.params or {}))
        if rule.share is not None:
            chosen = [index for index in left if roll.random() < rule.share]
        else:
            chosen = left[: await take(session, rule, len(left))]
        if not chosen:
            continue
        injected.rules.append(rule.id)
        for index in chosen:
            injected.reasons[index] = reason
        taken = set(chosen)
        left = [index for index in left if index not in taken]
    return injected


def record_injected(
    session: AsyncSession, *, target_type: str, target_id: str, injected: Injected
) -> None:
    """Tell operators (audit log and log line) which failures of a batch were injected: their
    positions and reasons, never the identifiers."""
    indexes = sorted(injected.reasons)
    changes = {
        "kind": PARTIAL_FAILURE,
        "rule_ids": injected.rules,
        "indexes": indexes,
        "reasons": sorted(set(injected.reasons.values())),
    }
    audit.record(
        session,
        actor=SYSTEM,
        action="fault.injected",
        target_type=target_type,
        target_id=target_id,
        changes=changes,
    )
    log.info("fault injected", target_type=target_type, target_id=target_id, **changes)


# Webhook chaos ------------------------------------------------------------------------------


async def _live(session: AsyncSession, client_ids: set[str], kind: str) -> list[FaultRule]:
    now = utcnow()
    rows = await session.scalars(
        select(FaultRule)
        .where(
            FaultRule.client_id.in_(client_ids),
            FaultRule.kind == kind,
            or_(FaultRule.expires_at.is_(None), FaultRule.expires_at > now),
            or_(FaultRule.remaining.is_(None), FaultRule.remaining > 0),
        )
        .order_by(FaultRule.created_at, FaultRule.id)
    )
    return list(rows)


async def webhook_chaos(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    lab_clients: set[str],
    now: datetime,
    *,
    chance: random.Random | None = None,
) -> int:
    """Apply the live ``webhook_chaos`` rules of ``lab_clients`` (the demo and UAT clients among
    the rows') to their pending delivery ``rows``, in place, in event order; returns how many
    rows chaos picked. ``delay`` and ``reorder`` move ``next_attempt_at`` later (the dispatcher
    claims in that order, so events created after a held one overtake it); ``duplicate`` enqueues
    the resend that, once the delivery succeeded, sends it again with the same event id. A rule's
    ``route``, if set, names the event types it applies to."""
    if not lab_clients:
        return 0
    candidates = [r for r in rows if r["client_id"] in lab_clients and r["state"] == "pending"]
    if not candidates:
        return 0
    rules = await _live(session, lab_clients, WEBHOOK_CHAOS)
    if not rules:
        return 0
    roll = chance or random
    picked: set[str] = set()
    duplicates: list[str] = []
    resend_after = DEFAULT_RESEND_AFTER_SECONDS
    for rule in rules:
        params = dict(rule.params or {})
        try:
            modes = _modes(params)
            delay = _seconds(params, "delay_seconds", DEFAULT_DELAY_SECONDS)
            hold = _seconds(params, "hold_seconds", DEFAULT_HOLD_SECONDS)
            after = _seconds(params, "resend_after_seconds", DEFAULT_RESEND_AFTER_SECONDS)
        except Invalid:
            log.warning("fault rule ignored: bad params", rule_id=rule.id)
            continue
        mine = [
            r
            for r in candidates
            if r["client_id"] == rule.client_id
            and r["id"] not in picked
            and matches_route(rule.route, "", r["event_type"])
        ]
        if rule.share is not None:
            chosen = [r for r in mine if roll.random() < rule.share]
        else:
            chosen = mine[: await take(session, rule, len(mine))]
        for position, row in enumerate(chosen):
            mode = modes[position % len(modes)]
            picked.add(row["id"])
            row["origin"] = ORIGINS[mode]
            if mode == DELAY:
                row["next_attempt_at"] = now + timedelta(seconds=delay)
            elif mode == REORDER:
                row["next_attempt_at"] = now + timedelta(seconds=hold)
            else:
                duplicates.append(row["id"])
                resend_after = min(resend_after, after)
    if duplicates:
        await enqueue(
            session,
            RESEND_TASK,
            {"delivery_ids": duplicates, "round": 0, "after": resend_after},
            run_at=now + timedelta(seconds=resend_after),
        )
    if picked:
        log.info("fault injected", kind=WEBHOOK_CHAOS, deliveries=len(picked))
    return len(picked)


async def resend(session: AsyncSession, delivery_ids: list[str], now: datetime) -> list[str]:
    """Arm again the duplicated deliveries that succeeded (the same row, so the same event id,
    sent once more as ``chaos:resend``); returns the ones still waiting for their first
    success."""
    armed = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.state == "succeeded",
            WebhookDelivery.origin == ORIGINS[DUPLICATE],
        )
        .values(
            state="pending",
            origin=RESENT,
            run_attempts=0,
            next_attempt_at=now,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if armed.rowcount and dialect_of(session) == "postgresql":  # type: ignore[attr-defined]
        from bestow.webhooks.fanout import NOTIFY_CHANNEL

        await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
    waiting = await session.scalars(
        select(WebhookDelivery.id).where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.state == "pending",
            WebhookDelivery.origin == ORIGINS[DUPLICATE],
        )
    )
    return list(waiting)


@task(RESEND_TASK)
async def resend_task(ctx: JobContext) -> None:
    """The second send of duplicated deliveries; waits (a new job, later) for those still in
    their retries, up to ``RESEND_ROUNDS`` times."""
    payload = ctx.job.payload
    ids = [str(i) for i in payload.get("delivery_ids", [])]
    rounds = int(payload.get("round", 0))
    after = float(payload.get("after", DEFAULT_RESEND_AFTER_SECONDS)) or 1.0
    async with ctx.db.write_session() as session:
        now = utcnow()
        waiting = await resend(session, ids, now)
        if waiting and rounds < RESEND_ROUNDS:
            await enqueue(
                session,
                RESEND_TASK,
                {"delivery_ids": waiting, "round": rounds + 1, "after": after},
                run_at=now + timedelta(seconds=after),
            )
        await session.commit()
