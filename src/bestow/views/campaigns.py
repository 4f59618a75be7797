"""Campaigns of every surface as the Admin API and the CLI list them: the shared columns, the
status derived from time, and the variants of the surfaces that have them (Partner)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns import listing
from bestow.campaigns.service import status
from bestow.issuance.campaigns import views
from bestow.kit.db import utcnow
from bestow.models import Campaign, CampaignVariant

COLUMNS = ("id", "surface", "client_id", "merchant_id", "name", "status", "start_at", "end_at")


class AdminVariantOut(BaseModel):
    id: str = Field(examples=["var_01m98g6p0q8r7s6t5v4w3x2y1z"])
    name: str = Field(examples=["Treatment"])
    reward_template_id: str | None = Field(description="Null for the Control, which rewards none")
    is_control: bool


class AdminCampaignOut(BaseModel):
    id: str = Field(examples=["cmp_01m98g6p0q8r7s6t5v4w3x2y1z"])
    surface: str = Field(
        description="The surface that created it: `partner` or `operator`", examples=["partner"]
    )
    client_id: str | None
    merchant_id: str | None = Field(description="Partner campaigns only")
    name: str = Field(examples=["Spring promotion"])
    status: str = Field(description="`scheduled`, `active`, `ended` or `cancelled`")
    start_at: datetime
    end_at: datetime | None
    redeemable_from: datetime | None
    redeemable_to: datetime | None
    cancelled_at: datetime | None
    variants: list[AdminVariantOut] | None = Field(
        description="Its variants in order (Partner); null on a surface without them",
        examples=[
            [
                {
                    "id": "var_01m98g6p0q8r7s6t5v4w3x2y1z",
                    "name": "Treatment",
                    "reward_template_id": "rtp_01m98g6nwezksrtqkaaxgmq9w9",
                    "is_control": False,
                }
            ]
        ],
    )
    created_at: datetime


def _variant(variant: CampaignVariant) -> dict[str, Any]:
    return {
        "id": variant.id,
        "name": variant.name,
        "reward_template_id": variant.reward_template_id,
        "is_control": variant.is_control,
    }


def _campaign(
    campaign: Campaign, variants: list[CampaignVariant] | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "surface": campaign.source,
        "client_id": campaign.client_id,
        "merchant_id": campaign.merchant_id,
        "name": campaign.name,
        "status": status(campaign, now).value.lower(),
        "start_at": campaign.start_at,
        "end_at": campaign.end_at,
        "redeemable_from": campaign.redeemable_from,
        "redeemable_to": campaign.redeemable_to,
        "cancelled_at": campaign.cancelled_at,
        "variants": None if variants is None else [_variant(v) for v in variants],
        "created_at": campaign.created_at,
    }


async def campaign_list(
    session: AsyncSession, filters: listing.Filters, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of campaigns, newest first: ``data`` and the ``next_cursor``; the variants of
    the page's Partner campaigns come in one query."""
    found = await listing.page(session, filters, cursor=cursor, limit=limit)
    partner = [c for c in found.items if c.source == "partner"]
    variants = {view.campaign.id: view.variants for view in await views(session, partner)}
    now = utcnow()
    data = [_campaign(c, variants.get(c.id), now) for c in found.items]
    return {"data": data, "next_cursor": found.next_cursor}
