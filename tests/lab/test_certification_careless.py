"""One Partner integration run twice, carefully and carelessly (issue 19, "done when"): the
careful run passes every automatic item of the Partner checklist; the careless one (no
idempotency key, polling every 0.3 s, a missing ``Accept-Version`` on some requests, a 429
retried at once, rediscovery before every issue, a batch of 10,001) fails exactly the items it
violates and passes all the others."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from tests.lab.cert_partner_issuance_helpers import (
    Integration,
    campaign,
    identifiers,
    integration,
    issue,
    revoke,
)
from tests.lab.certification_helpers import report_of
from tests.lab.helpers import ADMIN
from tests.surfaces.partner.helpers import worker_client

pytestmark = pytest.mark.slow

VIOLATED = {
    "partner.headers.accept_version",
    "partner.issue.idempotency_key",
    "partner.issue.batch_size",
    "partner.general.frequency",
    "partner.discovery.cached",
    "partner.rate_limits.backoff",
}
"""What the careless run violates, one item per carelessness."""


@dataclass(frozen=True)
class Style:
    careless: bool

    @property
    def poll_pause(self) -> float:
        """Careful: a second, growing by half each time (backoff); careless: 0.3 s flat."""
        return 0.3 if self.careless else 1.1


async def _get(
    http: httpx.AsyncClient, it: Integration, path: str, style: Style, params: dict[str, str]
) -> httpx.Response:
    headers = it.headers()
    if style.careless:
        # Some requests go out without Accept-Version; refused, they are sent again with it.
        bare = {k: v for k, v in headers.items() if k != "Accept-Version"}
        refused = await http.get(path, params=params, headers=bare)
        assert refused.status_code == 400, refused.text
    response = await http.get(path, params=params, headers=headers)
    return response


async def _discover(http: httpx.AsyncClient, it: Integration, style: Style) -> None:
    merchant = {"merchant_id": it.partner.merchant_id}
    merchants = await _get(http, it, "/partner/merchants", style, {})
    assert merchants.status_code == 200, merchants.text
    templates = await _get(http, it, "/partner/reward_templates", style, merchant)
    assert templates.status_code == 200, templates.text


async def _follow(
    http: httpx.AsyncClient, it: Integration, job_id: str, style: Style, *states: str
) -> dict[str, Any]:
    pause = style.poll_pause
    rereads = 3 if style.careless else 0
    for _ in range(60):
        read = await http.get(
            f"/partner/issuance_jobs/{job_id}",
            params={"merchant_id": it.partner.merchant_id},
            headers=it.headers(),
        )
        assert read.status_code == 200, read.text
        job: dict[str, Any] = read.json()["issuance_job"]
        if job["state"] in states:
            if rereads == 0:
                return job
            # Careless: the finished job is read again in the same tight loop (a progress
            # screen refreshing), three more times.
            rereads -= 1
        await asyncio.sleep(pause)
        if not style.careless:
            pause *= 1.5
    raise AssertionError(f"job {job_id} never reached {states}")


async def _rate_limited(http: httpx.AsyncClient, it: Integration, style: Style) -> None:
    """A 429 (a fault with Retry-After 1) on the next Get Merchants, and its retry."""
    rule = await http.post(
        f"/admin/clients/{it.partner.client_id}/faults",
        json={
            "kind": "rate_limit",
            "count": 1,
            "route": "GET /partner/merchants",
            "params": {"retry_after": 1},
        },
        headers=ADMIN,
    )
    assert rule.status_code == 201, rule.text
    limited = await http.get("/partner/merchants", headers=it.headers())
    assert limited.status_code == 429, limited.text
    if not style.careless:
        await asyncio.sleep(float(limited.headers["Retry-After"]) + 0.1)
    retried = await http.get("/partner/merchants", headers=it.headers())
    assert retried.status_code == 200, retried.text


async def _integrate(http: httpx.AsyncClient, it: Integration, style: Style) -> None:
    await _discover(http, it, style)
    made = await campaign(http, it)
    key = None if style.careless else "fresh"
    if style.careless:
        await _discover(http, it, style)
        many = identifiers(*[("email", f"m{n}@example.com") for n in range(10_001)])
        refused = await issue(http, it, made, many, key=key)
        assert refused.status_code in (400, 422), refused.text
    # An error met and handled (not sent again unchanged): a key reused with another body.
    if style.careless:
        await _discover(http, it, style)
    first = identifiers(("email", it.emails[0]))
    reused = await issue(http, it, made, first, key="reused-key")
    assert reused.status_code == 202, reused.text
    if style.careless:
        await _discover(http, it, style)
    other = await issue(http, it, made, identifiers(("phone", it.phones[0])), key="reused-key")
    assert other.status_code == 422, other.text
    await _follow(http, it, reused.json()["issuance_job"]["id"], style, "completed", "failed")
    jobs = []
    for ids in (
        identifiers(("email", it.emails[0]), ("phone", it.phones[0])),
        identifiers(("email", "nobody@example.com")),
    ):
        if style.careless:
            await _discover(http, it, style)
        accepted = await issue(http, it, made, ids, key=key)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        await _follow(http, it, job_id, style, "completed", "failed")
        jobs.append(job_id)
    revoking = await revoke(http, it, jobs[0])
    assert revoking.status_code == 202, revoking.text
    await _follow(http, it, jobs[0], style, "revoked")
    await _rate_limited(http, it, style)


async def _paced(request: httpx.Request) -> None:
    """A client-side limiter, as the SDK has: at most 5 requests a second, careless or not."""
    await asyncio.sleep(0.21)


async def _statuses(settings: Settings, runtime: Runtime, style: Style) -> dict[str, str]:
    it = await integration(runtime)
    async with worker_client(settings) as http:
        http.event_hooks["request"].append(_paced)
        await _integrate(http, it, style)
        report = await report_of(http, it.partner.client_id, "partner")
    return {i["id"]: i["status"] for i in report["items"] if i["kind"] != "attested"}


async def test_a_careful_integration_passes_every_automatic_item(
    settings: Settings, runtime: Runtime
) -> None:
    statuses = await _statuses(settings, runtime, Style(careless=False))

    automatic = {i: s for i, s in statuses.items() if not i.startswith("partner.webhooks.")}
    assert {i: s for i, s in automatic.items() if s != "pass"} == {}
    assert all(
        statuses[i] == "not_exercised" for i in statuses if i.startswith("partner.webhooks.")
    )


async def test_a_careless_integration_fails_exactly_what_it_violates(
    settings: Settings, runtime: Runtime
) -> None:
    statuses = await _statuses(settings, runtime, Style(careless=True))

    failed = {i for i, s in statuses.items() if s == "fail"}
    assert failed == VIOLATED
    others = {i: s for i, s in statuses.items() if i not in VIOLATED}
    assert {i: s for i, s in others.items() if s not in ("pass", "not_exercised")} == {}
    assert [i for i, s in others.items() if s == "not_exercised"] == [
        i for i in others if i.startswith("partner.webhooks.")
    ]
