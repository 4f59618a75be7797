"""Helpers of the tests of the Partner checklist's general sections: a UAT partner client that
sends every required header, the calls a test suite makes (discovery, a campaign, an issue, a
poll), each asserting its status and returning the answer (its ``X-Request-Id`` is the evidence
the report names)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from bestow.deps import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.lab.fault_helpers import add_rule
from tests.surfaces.partner.helpers import (
    ISSUE,
    Partner,
    campaign_body,
    email,
    make_template,
    new_partner,
    variant_id,
)

UA = {"User-Agent": "certification-test/1.0"}


def rid(response: httpx.Response) -> str:
    return response.headers["x-request-id"]


@dataclass
class Integration:
    """A partner client's integration under test, through HTTP on the application."""

    http: httpx.AsyncClient
    partner: Partner
    template_id: str

    def headers(self, **extra: str) -> dict[str, str]:
        return self.partner.headers(**UA, **extra)

    async def call(
        self,
        method: str,
        path: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        response = await self.http.request(
            method, path, headers=headers or self.headers(), **kwargs
        )
        assert response.status_code == status, response.text
        return response

    async def merchants(self, status: int = 200, **headers: str) -> httpx.Response:
        return await self.call("GET", "/partner/merchants", status, headers=self.headers(**headers))

    async def templates(self, merchant_id: str | None = None) -> httpx.Response:
        params = {"merchant_id": merchant_id or self.partner.merchant_id}
        return await self.call("GET", "/partner/reward_templates", 200, params=params)

    async def campaign(
        self, merchant_id: str | None = None, *, template_id: str | None = None, **fields: Any
    ) -> httpx.Response:
        merchant = merchant_id or self.partner.merchant_id
        body = campaign_body(merchant, template_id or self.template_id, **fields)
        return await self.call("POST", "/partner/campaigns", 201, json=body)

    async def issue(
        self,
        campaign: httpx.Response,
        *,
        key: str | None = None,
        to: str | None = None,
        status: int = 202,
    ) -> httpx.Response:
        created = campaign.json()["campaign"]
        body = {
            "campaign_id": created["id"],
            "merchant_id": self.partner.merchant_id,
            "variant_id": variant_id(created, "Treatment"),
            "identifiers": [{"type": "email", "value": to or email("cert")}],
        }
        headers = self.headers(**({"X-Idempotency-Key": key} if key else {}))
        return await self.call("POST", ISSUE, status, json=body, headers=headers)

    async def poll(self, job: httpx.Response) -> httpx.Response:
        job_id = job.json()["issuance_job"]["id"]
        return await self.call(
            "GET",
            f"/partner/issuance_jobs/{job_id}",
            200,
            params={"merchant_id": self.partner.merchant_id},
        )

    async def polls(self, job: httpx.Response, waits: list[float]) -> list[httpx.Response]:
        """Poll the job once, then once more after each wait (seconds)."""
        answers = [await self.poll(job)]
        for wait in waits:
            await asyncio.sleep(wait)
            answers.append(await self.poll(job))
        return answers

    async def job(self) -> httpx.Response:
        """Discovery, a campaign and an issue (a job left pending: no worker runs)."""
        await self.merchants()
        await self.templates()
        return await self.issue(await self.campaign())

    async def rate_limit(self, count: int, route: str = "GET /partner/merchants") -> None:
        """The next ``count`` requests to ``route`` answer 429 with ``Retry-After: 1``."""
        await add_rule(
            self.http,
            ADMIN_TOKEN,
            self.partner.client_id,
            kind="rate_limit",
            count=count,
            route=route,
            params={"retry_after": 1},
        )


async def integration(
    http: httpx.AsyncClient, runtime: Runtime, *, tier: str = "unlimited", environment: str = "uat"
) -> Integration:
    partner = await new_partner(runtime, tier=tier, environment=environment)
    template = await make_template(runtime, partner.merchant_id)
    return Integration(http, partner, template.id)
