"""Reward templates: created as drafts, published to be usable in campaigns, unpublished to stop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.lab import catalogue
from bestow.lab.catalogue import TEMPLATE
from bestow.merchants.service import get_merchant
from bestow.models import RewardTemplate
from bestow.rewards import kinds

STATES = ("draft", "published", "unpublished")


async def create_template(
    session: WriteSession,
    *,
    merchant_id: str,
    kind: str,
    name: str,
    actor: Actor,
    subtype: str | None = None,
    description: str = "",
    fine_print: str = "",
    discount: dict[str, Any] | None = None,
    redemption_venue: str | None = "in_store",
    images: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    publish: bool = False,
) -> RewardTemplate:
    await get_merchant(session, merchant_id)
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    reward_kind = kinds.get(kind)
    fields = reward_kind.validate(
        kinds.TemplateFields(type=kind, subtype=subtype, discount=discount, config=config or {})
    )
    if reward_kind.check is not None:
        fields = await reward_kind.check(session, fields)
    template = RewardTemplate(
        merchant_id=merchant_id,
        kind=kind,
        state="published" if publish else "draft",
        name=name.strip(),
        type=fields.type,
        subtype=fields.subtype,
        description=description,
        fine_print=fine_print,
        discount=fields.discount,
        redemption_venue=redemption_venue,
        images=images or {},
        config=fields.config,
    )
    session.add(template)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="reward_template.created",
        target_type="reward_template",
        target_id=template.id,
        changes={"merchant_id": merchant_id, "kind": kind, "state": template.state},
    )
    return template


async def get_template(session: AsyncSession, template_id: str) -> RewardTemplate:
    template = await session.get(RewardTemplate, template_id)
    if template is None:
        raise NotFound(f"reward template {template_id} not found")
    return template


async def set_state(
    session: WriteSession, *, template_id: str, state: str, actor: Actor
) -> RewardTemplate:
    if state not in ("published", "unpublished"):
        raise Invalid("a template is published or unpublished", field="state")
    template = await get_template(session, template_id)
    if template.state == state:
        raise Conflict(f"reward template is already {state}")
    previous, template.state = template.state, state
    audit.record(
        session,
        actor=actor,
        action=f"reward_template.{state}",
        target_type="reward_template",
        target_id=template.id,
        changes={"from": previous, "to": state},
    )
    return template


def query(
    *, merchant_id: str | None = None, state: str | None = None, for_client: str | None = None
) -> Select[RewardTemplate]:
    """Templates of a merchant, in a state; ``for_client``: only those in that client's
    catalogue (``lab.catalogue``)."""
    stmt = select(RewardTemplate)
    if merchant_id:
        stmt = stmt.where(RewardTemplate.merchant_id == merchant_id)
    if state:
        stmt = stmt.where(RewardTemplate.state == state)
    if for_client is not None:
        stmt = stmt.where(catalogue.visible(RewardTemplate.id, client_id=for_client, kind=TEMPLATE))
    return stmt


async def list_templates(
    session: AsyncSession,
    *,
    merchant_id: str | None = None,
    state: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[RewardTemplate]:
    stmt = query(merchant_id=merchant_id, state=state)
    return await cursor_paginate(session, stmt, RewardTemplate.id, cursor=cursor, limit=limit)


async def published_template(
    session: AsyncSession, *, merchant_id: str, template_id: str, for_client: str | None = None
) -> RewardTemplate:
    """A published template of that merchant (in ``for_client``'s catalogue, if given);
    anything else is not found."""
    stmt = query(merchant_id=merchant_id, state="published", for_client=for_client)
    template = await session.scalar(stmt.where(RewardTemplate.id == template_id))
    if template is None:
        raise NotFound(f"reward template {template_id} not found")
    return template
