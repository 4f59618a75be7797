"""Partner campaigns (Partner API): a client's campaign of a merchant, its time windows and 1
to 4 variants (at most one Control, which rewards nothing), each treatment naming a published
reward template of the merchant. Issuance jobs reward a campaign's variant (``issuance.service``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import active_clause
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid, NotFound
from bestow.merchants import service as merchants
from bestow.models import Campaign, CampaignVariant, Merchant, RewardTemplate
from bestow.rewards import templates

CONTROL = "control"
MAX_VARIANTS = 4


@dataclass(frozen=True)
class VariantSpec:
    name: str
    reward_template_id: str | None


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    variants: list[CampaignVariant]
    time_zone: str


def is_control(name: str) -> bool:
    return name.strip().lower() == CONTROL


def _local_date(value: datetime, zone: ZoneInfo) -> date:
    """The date in the merchant's zone; past year 9999 there (the last hours of the supported
    range, east of UTC) it is the last date there is."""
    try:
        return value.astimezone(zone).date()
    except OverflowError:
        return date.max


SAME_DATE = "same_date"
"""The ``rule`` detail of the refusal of four dates on one date (the certification reads it)."""


def _check_windows(
    *,
    start_at: datetime,
    end_at: datetime,
    redeemable_from: datetime,
    redeemable_to: datetime,
    time_zone: str,
) -> None:
    if end_at <= start_at:
        raise Invalid("end_at must be after start_at", field="end_at")
    if redeemable_to <= redeemable_from:
        raise Invalid("redeemable_to must be after redeemable_from", field="redeemable_to")
    if end_at <= utcnow():
        raise Invalid("end_at must be in the future", field="end_at")
    zone = ZoneInfo(time_zone)
    dates = {_local_date(d, zone) for d in (start_at, end_at, redeemable_from, redeemable_to)}
    if len(dates) == 1:
        raise Invalid(
            "start_at, end_at, redeemable_from and redeemable_to are all on the same date; "
            "give members time to redeem",
            field="redeemable_to",
            rule=SAME_DATE,
        )


async def _check_variants(
    session: AsyncSession, *, client_id: str, merchant_id: str, variants: list[VariantSpec]
) -> None:
    if not 1 <= len(variants) <= MAX_VARIANTS:
        raise Invalid(f"variants must have 1 to {MAX_VARIANTS} items", field="variants")
    names = [v.name.strip().lower() for v in variants]
    if any(not n for n in names):
        raise Invalid("every variant needs a name", field="variants")
    # Two Controls would also be two equal names: say which rule they break.
    if sum(is_control(v.name) for v in variants) > 1:
        raise Invalid("a campaign has at most one Control variant", field="variants")
    if len(set(names)) != len(names):
        raise Invalid("variant names must be unique within a campaign", field="variants")
    if all(is_control(v.name) for v in variants):
        raise Invalid("a campaign needs at least one treatment variant", field="variants")
    for index, variant in enumerate(variants):
        where = f"variants[{index}].reward_template_id"
        if is_control(variant.name):
            if variant.reward_template_id is not None:
                raise Invalid("the Control variant carries no reward_template_id", field=where)
            continue
        if not variant.reward_template_id:
            raise Invalid(f"{where} is required for a treatment variant", field=where)
        try:
            await templates.published_template(
                session,
                merchant_id=merchant_id,
                template_id=variant.reward_template_id,
                for_client=client_id,
            )
        except NotFound as exc:
            raise Invalid(
                f"{where}: reward template {variant.reward_template_id} is not a published "
                "template of this merchant",
                field=where,
            ) from exc


async def create_partner_campaign(
    session: WriteSession,
    *,
    client_id: str,
    merchant_id: str,
    name: str,
    objective: str,
    fine_print: str,
    start_at: datetime,
    end_at: datetime,
    redeemable_from: datetime,
    redeemable_to: datetime,
    variants: list[VariantSpec],
) -> CampaignView:
    merchant = await merchants.granted_merchant(
        session, client_id=client_id, merchant_id=merchant_id
    )
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    _check_windows(
        start_at=start_at,
        end_at=end_at,
        redeemable_from=redeemable_from,
        redeemable_to=redeemable_to,
        time_zone=merchant.time_zone,
    )
    await _check_variants(session, client_id=client_id, merchant_id=merchant_id, variants=variants)
    campaign = Campaign(
        client_id=client_id,
        merchant_id=merchant_id,
        source="partner",
        name=name.strip(),
        objective=objective,
        fine_print=fine_print,
        start_at=start_at,
        end_at=end_at,
        redeemable_from=redeemable_from,
        redeemable_to=redeemable_to,
        created_by=f"client:{client_id}",
        updated_by=f"client:{client_id}",
    )
    session.add(campaign)
    await session.flush()
    rows = [
        CampaignVariant(
            campaign_id=campaign.id,
            name=v.name.strip(),
            position=i,
            reward_template_id=None if is_control(v.name) else v.reward_template_id,
            is_control=is_control(v.name),
        )
        for i, v in enumerate(variants)
    ]
    session.add_all(rows)
    await session.flush()
    return CampaignView(campaign, rows, merchant.time_zone)


async def _view(session: AsyncSession, campaign: Campaign) -> CampaignView:
    variants = list(
        await session.scalars(
            select(CampaignVariant)
            .where(CampaignVariant.campaign_id == campaign.id)
            .order_by(CampaignVariant.position)
        )
    )
    time_zone = "UTC"
    if campaign.merchant_id:
        time_zone = (await session.get(Merchant, campaign.merchant_id) or Merchant()).time_zone
    return CampaignView(campaign, variants, time_zone or "UTC")


async def client_campaign(session: AsyncSession, *, client_id: str, campaign_id: str) -> Campaign:
    """A campaign this client created; another client's is not found."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.client_id != client_id:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


async def get_partner_campaign(
    session: AsyncSession, *, client_id: str, campaign_id: str
) -> CampaignView:
    campaign = await client_campaign(session, client_id=client_id, campaign_id=campaign_id)
    return await _view(session, campaign)


def partner_active_query(*, client_id: str, merchant_id: str) -> Select[Campaign]:
    return select(Campaign).where(
        Campaign.client_id == client_id,
        Campaign.merchant_id == merchant_id,
        Campaign.source == "partner",
        active_clause(utcnow()),  # type: ignore[arg-type]
    )


async def views(session: AsyncSession, campaigns: list[Campaign]) -> list[CampaignView]:
    """Views of many campaigns with two queries, not one per campaign."""
    if not campaigns:
        return []
    ids = [c.id for c in campaigns]
    variants: dict[str, list[CampaignVariant]] = {i: [] for i in ids}
    for variant in await session.scalars(
        select(CampaignVariant)
        .where(CampaignVariant.campaign_id.in_(ids))
        .order_by(CampaignVariant.position)
    ):
        variants[variant.campaign_id].append(variant)
    merchant_ids = {c.merchant_id for c in campaigns if c.merchant_id}
    rows = await session.execute(
        select(Merchant.id, Merchant.time_zone).where(Merchant.id.in_(merchant_ids))
    )
    zones = {merchant_id: zone for merchant_id, zone in rows}
    return [
        CampaignView(c, variants[c.id], zones.get(c.merchant_id or "", "UTC")) for c in campaigns
    ]


async def variant_of(
    session: AsyncSession, *, campaign_id: str, variant_id: str
) -> tuple[CampaignVariant, RewardTemplate | None]:
    variant = await session.get(CampaignVariant, variant_id)
    if variant is None or variant.campaign_id != campaign_id:
        raise Invalid(
            f"variant {variant_id} does not belong to campaign {campaign_id}", field="variant_id"
        )
    template = None
    if variant.reward_template_id:
        template = await session.get(RewardTemplate, variant.reward_template_id)
    return variant, template
