"""Admin API: reward templates (created as drafts, then published or unpublished)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.fields import CleanStrings, JsonObject, LongText, Text
from bestow.models import RewardTemplate
from bestow.rewards import kinds, templates
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit
from bestow.views.pages import ListOut, listing
from bestow.views.templates import TemplateOut

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
    return await templates.create_template(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump()
    )


@router.get("/merchants/{merchant_id}/reward_templates", response_model=ListOut[TemplateOut])
async def list_templates(
    merchant_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[str | None, Query(pattern="^(draft|published|unpublished)$")] = None,
) -> Any:
    """A merchant's reward templates."""
    return listing(
        await templates.list_templates(
            session, merchant_id=merchant_id, state=state, cursor=cursor, limit=limit
        )
    )


@router.get("/reward_templates/{template_id}", response_model=TemplateOut)
async def get_template(template_id: str, _: AdminActor, session: ReadSessionDep) -> RewardTemplate:
    """One reward template."""
    return await templates.get_template(session, template_id)


@router.post("/reward_templates/{template_id}/publish", response_model=TemplateOut)
async def publish_template(
    template_id: str, actor: AdminActor, session: WriteSessionDep
) -> RewardTemplate:
    """Publish a template: campaigns may use it and partners see it."""
    return await templates.set_state(
        session, template_id=template_id, state="published", actor=actor
    )


@router.post("/reward_templates/{template_id}/unpublish", response_model=TemplateOut)
async def unpublish_template(
    template_id: str, actor: AdminActor, session: WriteSessionDep
) -> RewardTemplate:
    """Unpublish a template: new campaigns can no longer use it."""
    return await templates.set_state(
        session, template_id=template_id, state="unpublished", actor=actor
    )
