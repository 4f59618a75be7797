"""Helpers of the Partner checklist's issuance tests: a partner integration's requests as an
integrator sends them (every header, a key on each issue), and waits on the worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from bestow.deps import Runtime
from bestow.kit.ids import new_id
from bestow.models import IssuanceJob, WebhookAttempt, WebhookDelivery
from tests.lab.helpers import ADMIN
from tests.surfaces.partner.helpers import (
    ISSUE,
    Partner,
    campaign_body,
    email,
    make_members,
    make_template,
    new_partner,
    variant_id,
)

UA = {"User-Agent": "certification-issuance-test/1.0"}
FINISHED = ("completed", "failed")


@dataclass(frozen=True)
class Integration:
    """A UAT partner with a published template and two members (an email, a phone)."""

    partner: Partner
    template_id: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        keyed = {"X-Idempotency-Key": key} if key else {}
        return self.partner.headers(**UA, **keyed, **extra)


async def integration(runtime: Runtime) -> Integration:
    partner = await new_partner(runtime, environment="uat")
    template = await make_template(runtime, partner.merchant_id)
    emails = (email("cert"),)
    phones = ("+14155550123",)
    await make_members(runtime, partner.merchant_id, emails=emails, phones=phones)
    return Integration(partner, template.id, emails, phones)


async def create(http: httpx.AsyncClient, it: Integration, **fields: Any) -> httpx.Response:
    body = campaign_body(it.partner.merchant_id, it.template_id, **fields)
    return await http.post("/partner/campaigns", headers=it.headers(), json=body)


async def campaign(http: httpx.AsyncClient, it: Integration) -> dict[str, Any]:
    response = await create(http, it)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()["campaign"]
    return found


def identifiers(*values: tuple[str, str]) -> list[dict[str, str]]:
    return [{"type": kind, "value": value} for kind, value in values]


async def issue(
    http: httpx.AsyncClient,
    it: Integration,
    made: dict[str, Any],
    ids: list[dict[str, str]],
    *,
    key: str | None = "fresh",
) -> httpx.Response:
    body = {
        "campaign_id": made["id"],
        "merchant_id": it.partner.merchant_id,
        "variant_id": variant_id(made, "Treatment"),
        "identifiers": ids,
    }
    return await http.post(
        ISSUE, headers=it.headers(new_id("key") if key == "fresh" else key), json=body
    )


async def read_job(http: httpx.AsyncClient, it: Integration, job_id: str) -> httpx.Response:
    response = await http.get(
        f"/partner/issuance_jobs/{job_id}",
        params={"merchant_id": it.partner.merchant_id},
        headers=it.headers(),
    )
    assert response.status_code == 200, response.text
    return response


async def follow(
    http: httpx.AsyncClient, it: Integration, job_id: str, *states: str, timeout: float = 20.0
) -> list[httpx.Response]:
    """Poll the job (every 0.05 s: the tests' worker is quick) until it is in ``states``;
    the reads in order."""
    deadline = asyncio.get_running_loop().time() + timeout
    reads: list[httpx.Response] = []
    while True:
        reads.append(await read_job(http, it, job_id))
        if reads[-1].json()["issuance_job"]["state"] in states:
            return reads
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id}: {reads[-1].text}")
        await asyncio.sleep(0.05)


async def revoke(http: httpx.AsyncClient, it: Integration, job_id: str) -> httpx.Response:
    return await http.post(
        f"/partner/issuance_jobs/{job_id}/revoke",
        headers=it.headers(),
        json={"merchant_id": it.partner.merchant_id},
    )


async def job_state(runtime: Runtime, job_id: str) -> str:
    async with runtime.db.session() as session:
        job = await session.get(IssuanceJob, job_id)
        assert job is not None
        return job.state


async def until_state(runtime: Runtime, job_id: str, *states: str, timeout: float = 20.0) -> None:
    """Wait on the database (no request logged) until the job is in ``states``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (state := await job_state(runtime, job_id)) not in states:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id} still {state}")
        await asyncio.sleep(0.05)


async def subscribe(
    http: httpx.AsyncClient, client_id: str, url: str, **options: Any
) -> dict[str, Any]:
    """A webhook endpoint through the Admin API (the operator registers it: docs/webhooks.md)."""
    response = await http.post(
        f"/admin/clients/{client_id}/webhook_endpoints",
        json={"url": url, **options},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def attempted(
    runtime: Runtime, endpoint_id: str, *event_types: str, timeout: float = 20.0
) -> list[tuple[str, WebhookAttempt]]:
    """Wait until the endpoint's attempts of each event type are recorded; (type, attempt)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with runtime.db.session() as session:
            rows = [
                (t, a)
                for a, t in await session.execute(
                    select(WebhookAttempt, WebhookDelivery.event_type)
                    .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                    .where(WebhookAttempt.endpoint_id == endpoint_id)
                )
            ]
        if set(event_types) <= {t for t, _ in rows}:
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"endpoint {endpoint_id}: attempts {rows}")
        await asyncio.sleep(0.05)


def same_day_dates() -> dict[str, str]:
    """The four dates within two hours of tomorrow's 15:00 UTC: one local date in New York
    (the test merchants' time zone)."""
    day = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    return {
        "start_at": day.isoformat(),
        "end_at": (day + timedelta(hours=1)).isoformat(),
        "redeemable_from": day.isoformat(),
        "redeemable_to": (day + timedelta(hours=2)).isoformat(),
    }
