"""Admin API: reward templates (created as drafts, then published or unpublished)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from bestow.deps import SessionDep, WriteSessionDep
from bestow.kit.fields import CleanStrings, JsonObject, LongText, Text
from bestow.kit.pagination import cursor_paginate
from bestow.models import RewardTemplate
from bestow.rewards import kinds, templates
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import ListOut

router = APIRouter(prefix="/admin", tags=["Admin API"])


class TemplateIn(CleanStrings):
    model_config = ConfigDict(extra="forbid")
    kind: Text = Field(default="discount", max_length=20)
    name: Text = Field(min_length=1, max_length=200)
    subtype: Text | None = Field(default=None, max_length=40)
    description: LongText = Field(default="", max_length=10_000)
    fine_print: LongText = Field(default="", max_length=10_000)
    discount: JsonObject | None = Field(
        default=None, description='Required for kind discount: {"type": ..., "value": ...}'
    )
    redemption_venue: Text | None = Field(default="in_store", max_length=40)
    images: dict[Text, Text] = Field(default_factory=dict, max_length=10)
    config: JsonObject = Field(
        default_factory=dict, description="What the kind needs (voucher, points); none for discount"
    )
    publish: bool = False


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    kind: str
    state: str
    name: str
    type: str
    subtype: str | None
    description: str
    fine_print: str
    discount: dict[str, Any] | None
    redemption_venue: str | None
    images: dict[str, str]
    config: dict[str, Any]
    created_at: datetime


@router.get("/reward_kinds", response_model=list[str])
async def list_reward_kinds(_: AdminActor) -> list[str]:
    """The kinds of reward a template can issue."""
    return kinds.names()


@router.post(
    "/merchants/{merchant_id}/reward_templates", status_code=201, response_model=TemplateOut
)
async def create_template(
    merchant_id: str, body: TemplateIn, actor: AdminActor, session: WriteSessionDep
) -> RewardTemplate:
    """Create a reward template (a draft unless `publish` is true)."""
    template = await templates.create_template(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump()
    )
    await session.commit()
    return template


@router.get("/merchants/{merchant_id}/reward_templates", response_model=ListOut[TemplateOut])
async def list_templates(
    merchant_id: str,
    _: AdminActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[str | None, Query(pattern="^(draft|published|unpublished)$")] = None,
) -> Any:
    """A merchant's reward templates."""
    page = await cursor_paginate(
        session,
        templates.query(merchant_id=merchant_id, state=state),
        RewardTemplate.id,
        cursor=cursor,
        limit=limit,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/reward_templates/{template_id}", response_model=TemplateOut)
async def get_template(template_id: str, _: AdminActor, session: SessionDep) -> RewardTemplate:
    """One reward template."""
    return await templates.get_template(session, template_id)


@router.post("/reward_templates/{template_id}/publish", response_model=TemplateOut)
async def publish_template(
    template_id: str, actor: AdminActor, session: WriteSessionDep
) -> RewardTemplate:
    """Publish a template: campaigns may use it and partners see it."""
    template = await templates.set_state(
        session, template_id=template_id, state="published", actor=actor
    )
    await session.commit()
    return template


@router.post("/reward_templates/{template_id}/unpublish", response_model=TemplateOut)
async def unpublish_template(
    template_id: str, actor: AdminActor, session: WriteSessionDep
) -> RewardTemplate:
    """Unpublish a template: new campaigns can no longer use it."""
    template = await templates.set_state(
        session, template_id=template_id, state="unpublished", actor=actor
    )
    await session.commit()
    return template
