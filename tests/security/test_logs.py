"""Logs: a representative flow through every surface, with known emails, phones, tokens and
secrets (in bodies, headers and wrong credentials), through the in-process worker (issuance,
bulk enrollment, a failing webhook delivery), leaves none of them in the log output (the access
log, the application's and the worker's logs, as configured by ``create_app``)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.loyalty.helpers import make_member, start
from tests.operator.helpers import call
from tests.security.world import ADMIN, World, open_world
from tests.surfaces.partner.helpers import create_campaign, make_template, variant_id

EMAIL = "log.secret.person@example.com"
PHONE = "+14155550199"
LOYALTY_EMAIL = "loyalty.secret.person@example.com"
LOYALTY_PHONE = "+6581234987"
OPERATOR_EMAIL = "operator.secret.person@example.com"
WRONG_SECRETS = ("bst_pt_wrongwrongwrongwrong", "bst_cs_wrongwrongwrong", "bst_adm_wrongwrong")


async def _flow(world: World) -> list[str]:
    """Drive every surface; returns the values that must not be logged."""
    http, runtime = world.http, world.runtime
    a = world.partner_a
    template = await make_template(runtime, a.merchant_id)
    campaign = await create_campaign(http, a, template.id)
    issued = await http.post(
        "/partner/campaigns/issue",
        headers=a.headers(**{"X-Idempotency-Key": str(uuid.uuid4())}),
        json={
            "campaign_id": campaign["id"],
            "merchant_id": a.merchant_id,
            "variant_id": variant_id(campaign, "Treatment"),
            "identifiers": [
                {"type": "email", "value": EMAIL},
                {"type": "phone", "value": PHONE},
                {"type": "email", "value": "not-an-email@"},
            ],
        },
    )
    assert issued.status_code == 202, issued.text
    job_id = issued.json()["issuance_job"]["id"]

    member = await make_member(
        runtime, world.loyalty_a.merchant_id, email=LOYALTY_EMAIL, phone=LOYALTY_PHONE
    )
    for kind, value in (("EMAIL", LOYALTY_EMAIL), ("PHONE_NUMBER", LOYALTY_PHONE)):
        opened = await start(http, world.loyalty_a.headers, value, identifier_type=kind)
        assert opened.status_code == 200, opened.text
    unknown = await start(
        http, world.loyalty_a.headers, "x" + LOYALTY_EMAIL, identifier_type="EMAIL"
    )
    assert unknown.status_code == 400, unknown.text
    links = await http.get(
        f"/client/partners/{world.loyalty_a.client_id}/accounts/links",
        params={"identifiers": LOYALTY_EMAIL},
        headers={**world.loyalty_a.headers, "X-Identifier-Type": "EMAIL"},
    )
    assert links.status_code == 200, links.text

    op = world.operator_a
    reward_id = world.objects["operator.reward_id"]
    cancelled = await call(
        http,
        op,
        "POST",
        f"/v1/enrollments/{world.objects['operator.enrollment_id']}/cancel",
        {"cancelledBy": OPERATOR_EMAIL},
    )
    assert cancelled.status_code == 200, cancelled.text
    enrolled = await call(
        http, op, "POST", f"/v1/rewards/{reward_id}/enrollments", {"operatorPlayerId": "p-log"}
    )
    assert enrolled.status_code == 200, enrolled.text

    # Wrong credentials of every kind, carrying secret-looking values.
    await http.get(
        "/partner/merchants", headers=a.headers(Authorization=f"Bearer {WRONG_SECRETS[0]}")
    )
    await http.get("/admin/clients", headers={"Authorization": f"Bearer {WRONG_SECRETS[2]}"})
    await http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": a.client_id,
            "client_secret": WRONG_SECRETS[1],
        },
    )
    await http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.voucher_a[0],
            "client_secret": world.voucher_a[1],
        },
    )
    await call(http, op, "GET", "/v1/campaigns", key="not-the-key-" + op.primary[::-1])

    # The worker issues the job (webhook events follow, to an endpoint that refuses them).
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        job = await http.get(
            f"/partner/issuance_jobs/{job_id}",
            params={"merchant_id": a.merchant_id},
            headers=a.headers(),
        )
        if job.json()["issuance_job"]["state"] not in ("pending", "running", "processing"):
            break
        assert asyncio.get_running_loop().time() < deadline, job.text
        await asyncio.sleep(0.05)
    endpoint = world.objects["admin.endpoint_id"]
    while True:
        attempts = await http.get(f"/admin/webhook_endpoints/{endpoint}/attempts", headers=ADMIN)
        if attempts.json()["data"]:
            break
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("no webhook delivery was attempted")
        await asyncio.sleep(0.05)

    return [
        EMAIL,
        EMAIL.split("@")[0],
        PHONE,
        PHONE[1:],
        LOYALTY_EMAIL,
        LOYALTY_EMAIL.upper(),
        LOYALTY_PHONE,
        LOYALTY_PHONE[1:],
        OPERATOR_EMAIL,
        member.email or "",
        *WRONG_SECRETS,
        world.partner_a.token,
        world.partner_b.token,
        world.voucher_a[1],
        world.voucher_b[1],
        world.voucher_a[2]["Authorization"].split()[1],
        world.loyalty_a.headers["Authorization"].split()[1],
        world.operator_a.primary,
        world.operator_a.secondary,
        *world.secrets.values(),
        ADMIN["Authorization"].split()[1],
    ]


async def test_no_personal_data_or_secret_is_logged(
    database_url: str, var_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    async with open_world(
        database_url, var_dir, with_worker=True, webhook_poll_seconds=0.05
    ) as world:
        forbidden = await _flow(world)
    out = capfd.readouterr()
    logs = out.out + out.err
    assert '"route": "/partner/campaigns/issue"' in logs  # the access log was captured
    assert len(logs.splitlines()) > 30
    leaked = [value for value in forbidden if value and value in logs]
    assert not leaked, [
        line for line in logs.splitlines() if any(value in line for value in leaked)
    ][:20]
