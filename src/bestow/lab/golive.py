"""The go-live gate: a production client's first credential for a surface is created only when
a UAT (or demo) client of the same organisation passes certification for that surface, or when
an admin overrides with a written reason, recorded in the audit log (``docs/go-live.md``).

What is gated: the first credential of a kind a production client ever holds, in a deployment
not pinned to one environment. A rotation, or a further credential of a kind the client has
held, is not: the client went live when it got its first. A deployment pinned with
``BESTOW_ENVIRONMENT`` holds one environment only, so the partner's UAT client is elsewhere
(certified in the lab deployment); the gate does not apply there.

A credential kind serves a surface: ``partner_token`` the Partner API, ``operator_key`` the
Operator API, ``oauth_secret`` the Voucher API or the Loyalty API (or both), by the client's
scopes. Every surface it serves must be certified.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.clients import repository as clients
from bestow.clients.kinds import OAUTH_SECRET, OPERATOR_KEY, PARTNER_TOKEN
from bestow.config import Environment
from bestow.kit.actor import Actor
from bestow.kit.errors import Conflict, Invalid
from bestow.models import Client

SURFACES = ("partner", "vouchers", "loyalty", "operator")
VOUCHER_SCOPES = frozenset({"read_catalogue", "issue_vouchers", "read_vouchers", "redeem_vouchers"})
LOYALTY_SCOPES = frozenset({"loyalty.adhoc_reward"})
CERTIFYING_ENVIRONMENTS = (Environment.UAT.value, Environment.DEMO.value)
MAX_REASON = 500


@dataclass(frozen=True)
class Verdict:
    """A client's certification for a surface: whether it passed, why (in words for the
    admin), and the report it stands on."""

    passed: bool
    reason: str
    report_id: str | None = None


Certifier = Callable[[AsyncSession, str, str], Awaitable[Verdict]]
"""``(session, client_id, surface) -> Verdict``: what the gate asks of each candidate."""


async def certification(session: AsyncSession, client_id: str, surface: str) -> Verdict:
    """The certification of ``client_id`` for ``surface``: its report over the latest
    certification run's window (or, without a run, the request log's retention), judged now so
    that attestations made since count (``bestow.lab.certification``)."""
    # Imported here: the certification builds on the clients' service, which gates with this.
    from bestow.lab.certification import engine, render
    from bestow.lab.certification.runs import report

    judged = await report(session, client_id=client_id, surface=surface)
    if judged.passed:
        return Verdict(True, f"client {client_id} passed", judged.window.run_id)
    held = [r.item.id for r in judged.results if not engine.is_held(r)]
    return Verdict(
        passed=False,
        reason=f"client {client_id} has not passed the {surface} checklist "
        f"({render.summary_line(judged.as_json())}; open: {', '.join(held[:5])}"
        + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        + ")",
        report_id=judged.window.run_id,
    )


class NotCertified(Conflict):
    """A production client's first credential for a surface, refused: no client of its
    organisation is certified for that surface, and no override was given."""

    code = "not_certified"


@dataclass(frozen=True)
class Clearance:
    """Why a gated credential may be issued: the certified client and its report, or the
    admin's override reason."""

    surfaces: tuple[str, ...]
    certified_by: dict[str, dict[str, str | None]]
    """Per surface: the certified ``client_id`` and its ``report_id``."""
    override_reason: str | None = None


def surfaces_of(kind: str, scopes: list[str]) -> tuple[str, ...]:
    """The surfaces a credential of ``kind`` serves for a client holding ``scopes``."""
    if kind == PARTNER_TOKEN:
        return ("partner",)
    if kind == OPERATOR_KEY:
        return ("operator",)
    assert kind == OAUTH_SECRET
    held = set(scopes)
    return tuple(
        surface
        for surface, wanted in (("vouchers", VOUCHER_SCOPES), ("loyalty", LOYALTY_SCOPES))
        if held & wanted
    )


def check_reason(override_reason: str | None) -> str | None:
    if override_reason is None:
        return None
    reason = override_reason.strip()
    if not reason:
        raise Invalid("override_reason must not be blank", field="override_reason")
    if len(reason) > MAX_REASON:
        raise Invalid(
            f"override_reason is at most {MAX_REASON} characters", field="override_reason"
        )
    return reason


async def is_gated(
    session: AsyncSession, *, client: Client, kind: str, pinned: Environment | None
) -> bool:
    """Whether issuing a credential of ``kind`` to ``client`` is a go-live: a production
    client's first of that kind, in an unpinned deployment."""
    if pinned is not None or client.environment != Environment.PRODUCTION:
        return False
    return not await clients.credentials(session, client.id, kind)


async def clear(
    session: AsyncSession,
    *,
    client: Client,
    kind: str,
    override_reason: str | None,
    certify: Certifier = certification,
) -> Clearance:
    """The clearance for a production client's first credential of ``kind``, or ``NotCertified``
    naming the organisation, the surface and why. An override reason clears it whatever the
    certification says (the caller audits it)."""
    reason = check_reason(override_reason)
    surfaces = surfaces_of(kind, client.scopes)
    if reason is not None:
        return Clearance(surfaces, {}, override_reason=reason)
    if not surfaces:
        raise Invalid(
            "an OAuth secret serves the Voucher or the Loyalty API: give the client the scopes "
            "of the one it integrates first, so that the gate knows which certification to ask "
            "for (or override with a reason)",
            field="kind",
        )
    if client.organization is None:
        raise NotCertified(
            f"client {client.id} is a production client of no organisation, so no UAT client "
            f"can be certified for it: set its organisation, or override with a reason"
        )
    candidates = list(
        await session.scalars(
            select(Client.id)
            .where(
                Client.organization == client.organization,
                Client.environment.in_(CERTIFYING_ENVIRONMENTS),
            )
            .order_by(Client.environment.desc(), Client.id)
        )
    )
    certified_by: dict[str, dict[str, str | None]] = {}
    for surface in surfaces:
        reasons = []
        for candidate in candidates:
            verdict = await certify(session, candidate, surface)
            if verdict.passed:
                certified_by[surface] = {"client_id": candidate, "report_id": verdict.report_id}
                break
            reasons.append(verdict.reason)
        else:
            why = "; ".join(reasons) or "it has no UAT or demo client"
            raise NotCertified(
                f"production credentials for the {surface} surface of organisation "
                f"{client.organization!r} need a passing certification of its UAT or demo "
                f"client: {why}. Certify it, or override with a written reason"
            )
    return Clearance(surfaces, certified_by)


def record(
    session: AsyncSession,
    *,
    client_id: str,
    kind: str,
    credential_id: str,
    clearance: Clearance,
    actor: Actor,
) -> None:
    """The audit entry of a go-live: the override and its reason, or the certification."""
    changes: dict[str, object] = {
        "kind": kind,
        "credential_id": credential_id,
        "surfaces": list(clearance.surfaces),
    }
    if clearance.override_reason is not None:
        changes["override_reason"] = clearance.override_reason
    else:
        changes["certified_by"] = clearance.certified_by
    audit.record(
        session,
        actor=actor,
        action="client.go_live_overridden"
        if clearance.override_reason is not None
        else "client.went_live",
        target_type="client",
        target_id=client_id,
        changes=changes,
    )
