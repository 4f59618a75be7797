"""Shared helpers of the Partner API campaign, template and issuance tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from bestow.clients import service as clients
from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import bulk_insert, utcnow
from bestow.kit.ids import new_guid, new_id
from bestow.models import Campaign, IssuanceJob, Member, Merchant, RewardTemplate
from bestow.rewards import templates
from tests.conftest import ACTOR, make_partner, unique
from tests.fixtures.apps import app_on

ISSUE = "/partner/campaigns/issue"


@dataclass(frozen=True)
class Partner:
    """One partner client and the merchant granted to it."""

    client_id: str
    token: str
    merchant_id: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-ClientId": self.client_id,
            "Accept-Version": "v4.0",
            **extra,
        }


async def new_partner(
    runtime: Runtime,
    *,
    tier: str = "unlimited",
    scopes: tuple[str, ...] = ("rewards.issue",),
    enrol_unknown_members: bool = False,
    environment: str | None = None,
) -> Partner:
    partner = Partner(
        *await make_partner(runtime, tier=tier, scopes=scopes, environment=environment)
    )
    if enrol_unknown_members:
        async with runtime.db.write_session() as session:
            await session.execute(
                update(Merchant)
                .where(Merchant.id == partner.merchant_id)
                .values(enrol_unknown_members=True)
            )
            await session.commit()
    return partner


async def grant(runtime: Runtime, partner: Partner, merchant_id: str) -> None:
    """Grant one more merchant to the partner."""
    async with runtime.db.write_session() as session:
        await clients.grant_merchant(
            session, client_id=partner.client_id, merchant_id=merchant_id, actor=ACTOR
        )
        await session.commit()


async def make_template(
    runtime: Runtime,
    merchant_id: str,
    *,
    name: str = "Free slice",
    state: str = "published",
    discount: dict[str, Any] | None = None,
) -> RewardTemplate:
    """A reward template in the given state (draft, published or unpublished)."""
    async with runtime.db.write_session() as session:
        template = await templates.create_template(
            session,
            merchant_id=merchant_id,
            kind="discount",
            name=name,
            actor=ACTOR,
            description=f"{name} description",
            fine_print=f"{name} fine print",
            discount=discount or {"type": "free_item", "value": None},
            images={"default": "https://img.example/slice.png"},
            publish=state == "published",
        )
        if state == "unpublished":
            await templates.set_state(
                session, template_id=template.id, state="unpublished", actor=ACTOR
            )
        await session.commit()
    return template


async def make_members(
    runtime: Runtime,
    merchant_id: str,
    *,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    status: str = "active",
) -> list[str]:
    """Members in bulk (one per email, then one per phone); returns their ids in that order."""
    now = utcnow()
    rows = [
        {
            "id": new_id("mbr"),
            "merchant_id": merchant_id,
            "account_id": new_guid(),
            "email": email,
            "phone": phone,
            "loyalty_id": None,
            "first_name": "",
            "last_name": "",
            "status": status,
            "created_at": now,
            "updated_at": now,
        }
        for email, phone in [(e, None) for e in emails] + [(None, p) for p in phones]
    ]
    async with runtime.db.write_session() as session:
        await bulk_insert(session, Member.__table__, rows)
        await session.commit()
    return [str(row["id"]) for row in rows]


def campaign_body(merchant_id: str, template_id: str | None, **fields: Any) -> dict[str, Any]:
    """A valid Create Campaign body (a treatment and a Control), with ``fields`` replaced."""
    now = datetime.now(UTC).replace(microsecond=0)
    campaign: dict[str, Any] = {
        "merchant_id": merchant_id,
        "name": "Spring win-back",
        "objective": "Win back lapsed guests",
        "fine_print": "One per guest",
        "start_at": (now - timedelta(hours=1)).isoformat(),
        "end_at": (now + timedelta(days=30)).isoformat(),
        "redeemable_from": now.isoformat(),
        "redeemable_to": (now + timedelta(days=60)).isoformat(),
        "variants": [
            {"name": "Treatment", "reward_template_id": template_id},
            {"name": "Control"},
        ],
    }
    campaign.update(fields)
    return {"campaign": campaign}


async def create_campaign(
    client: httpx.AsyncClient, partner: Partner, template_id: str, **fields: Any
) -> dict[str, Any]:
    """Create a campaign over HTTP; returns the ``campaign`` object."""
    response = await client.post(
        "/partner/campaigns",
        headers=partner.headers(),
        json=campaign_body(partner.merchant_id, template_id, **fields),
    )
    assert response.status_code == 201, response.text
    campaign: dict[str, Any] = response.json()["campaign"]
    return campaign


def variant_id(campaign: dict[str, Any], name: str) -> str:
    [found] = [v["id"] for v in campaign["variants"] if v["name"] == name]
    return str(found)


async def set_campaign_window(
    runtime: Runtime, campaign_id: str, *, start_at: datetime, end_at: datetime | None
) -> None:
    """Move a campaign in time (a scheduled or an ended one cannot be created in the past)."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(start_at=start_at, end_at=end_at)
        )
        await session.commit()


def issue_body(
    partner: Partner, campaign: dict[str, Any], identifiers: list[dict[str, Any]], variant: str
) -> dict[str, Any]:
    return {
        "campaign_id": campaign["id"],
        "merchant_id": partner.merchant_id,
        "variant_id": variant_id(campaign, variant),
        "identifiers": identifiers,
    }


async def count_jobs(runtime: Runtime, client_id: str) -> int:
    async with runtime.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(IssuanceJob).where(IssuanceJob.client_id == client_id)
        )
    return int(count or 0)


async def get_job(client: httpx.AsyncClient, partner: Partner, job_id: str) -> dict[str, Any]:
    response = await client.get(
        f"/partner/issuance_jobs/{job_id}",
        params={"merchant_id": partner.merchant_id},
        headers=partner.headers(),
    )
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["issuance_job"]
    return job


async def wait_for_job(
    client: httpx.AsyncClient,
    partner: Partner,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Poll Get Issuance Job until ``until`` holds; fail with the last state after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await get_job(client, partner, job_id)
        if until(job):
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"issuance job {job_id} after {timeout} s: {job}")
        await asyncio.sleep(0.05)


def in_state(*states: str) -> Callable[[dict[str, Any]], bool]:
    return lambda job: job["state"] in states


@asynccontextmanager
async def worker_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the application with its in-process worker running."""
    async with app_on(settings, with_worker=True) as client:
        yield client


def email(tag: str) -> str:
    """A fresh, valid email address."""
    return f"{unique(tag)}@example.com"
