"""Admin API: fault rules of a demo or UAT client (``docs/faults.md``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.kit.fields import IsoDateTime
from bestow.lab import faults
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Strict
from bestow.views.faults import FaultRuleOut, rule_view
from bestow.views.pages import ListOut

router = APIRouter(prefix="/admin", tags=["Admin API"])

MAX_TTL_SECONDS = 30 * 24 * 3600
Params = Annotated[dict[str, Any], Field(max_length=20)]


class FaultRuleIn(Strict):
    kind: str = Field(min_length=1, max_length=32, description=", ".join(faults.KINDS))
    share: float | None = Field(
        default=None, gt=0, le=1, description="Fire on this share of matching requests"
    )
    count: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Fire on the next N matching requests"
    )
    route: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description='A route template, with its method or not: "POST /partner/campaigns/issue"',
    )
    params: Params = Field(
        default_factory=dict,
        description="slow: delay_ms; rate_limit, server_error: retry_after; "
        "lost_answer: answer (drop or 504)",
    )
    expires_at: IsoDateTime | None = None
    ttl_seconds: int | None = Field(default=None, ge=1, le=MAX_TTL_SECONDS)


def _forget_cached_rules(request: Request) -> None:
    """This process sees a changed rule at once; the others within ``RULES_CACHE_SECONDS``."""
    faults.rules_cache(request.app.state).clear()


@router.post("/clients/{client_id}/faults", status_code=201, response_model=FaultRuleOut)
async def create_fault_rule(
    client_id: str,
    body: FaultRuleIn,
    request: Request,
    actor: AdminActor,
    session: WriteSessionDep,
) -> FaultRuleOut:
    """Inject a fault into a demo or UAT client's requests (or jobs, or webhooks)."""
    expires_at = body.expires_at
    if expires_at is not None and body.ttl_seconds is not None:
        raise Invalid("give expires_at or ttl_seconds, not both", field="ttl_seconds")
    if body.ttl_seconds is not None:
        expires_at = utcnow() + timedelta(seconds=body.ttl_seconds)
    rule = await faults.create_rule(
        session,
        client_id=client_id,
        kind=body.kind,
        actor=actor,
        share=body.share,
        count=body.count,
        route=body.route,
        params=body.params,
        expires_at=expires_at,
    )
    _forget_cached_rules(request)
    return rule_view(rule)


@router.get("/clients/{client_id}/faults", response_model=ListOut[FaultRuleOut])
async def list_fault_rules(client_id: str, _: AdminActor, session: ReadSessionDep) -> Any:
    """A client's fault rules, oldest first, live or not."""
    now = utcnow()
    rules = await faults.list_rules(session, client_id)
    return {"data": [rule_view(rule, now) for rule in rules], "next_cursor": None}


@router.delete("/clients/{client_id}/faults/{rule_id}", status_code=204)
async def delete_fault_rule(
    client_id: str,
    rule_id: str,
    request: Request,
    actor: AdminActor,
    session: WriteSessionDep,
) -> Response:
    """Remove a fault rule."""
    await faults.delete_rule(session, client_id=client_id, rule_id=rule_id, actor=actor)
    _forget_cached_rules(request)
    return Response(status_code=204)
