"""Fault rules of a client (``bestow.lab.faults``), as the Admin API and the CLI show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from bestow.kit.db import utcnow
from bestow.models import FaultRule


class FaultRuleOut(BaseModel):
    id: str
    client_id: str
    kind: str
    share: float | None = Field(description="The share of matching requests it applies to")
    remaining: int | None = Field(description="How many more times a counted rule fires")
    route: str | None = Field(description="Only requests of this route template (method first)")
    params: dict[str, Any]
    expires_at: datetime | None
    created_at: datetime
    live: bool = Field(description="Neither expired nor run out: it can still fire")


def rule_view(rule: FaultRule, now: datetime | None = None) -> FaultRuleOut:
    now = now or utcnow()
    expired = rule.expires_at is not None and rule.expires_at <= now
    spent = rule.remaining is not None and rule.remaining <= 0
    return FaultRuleOut(
        id=rule.id,
        client_id=rule.client_id,
        kind=rule.kind,
        share=rule.share,
        remaining=rule.remaining,
        route=rule.route,
        params=dict(rule.params or {}),
        expires_at=rule.expires_at,
        created_at=rule.created_at,
        live=not (expired or spent),
    )
