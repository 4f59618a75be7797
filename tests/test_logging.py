"""Request logs: structured, with request and client ids, and no personal data or secrets."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, PartnerWorld

pytestmark = pytest.mark.asyncio


async def test_logs_carry_ids_but_no_personal_data_or_secrets(
    app_client: httpx.AsyncClient, partner: PartnerWorld, capfd: pytest.CaptureFixture[str]
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    email, phone = "log.check@example.com", "+14155550142"
    created = await app_client.post(
        f"/admin/merchants/{partner.merchant_id}/members",
        json={"email": email, "phone": phone},
        headers=admin,
    )
    assert created.status_code == 201
    await app_client.post(
        f"/admin/merchants/{partner.merchant_id}/members",
        json={"email": email, "phone": phone},
        headers=admin,
    )
    await app_client.get(
        "/partner/merchants", headers=partner.headers(**{"X-Request-Id": "req-log-1"})
    )
    await app_client.get(
        "/partner/merchants", headers=partner.headers(Authorization="Bearer wrong-secret-value")
    )
    out = capfd.readouterr()
    logs = out.out + out.err
    for secret in (email, phone, "log.check", ADMIN_TOKEN, partner.token, "wrong-secret-value"):
        assert secret not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    partner_line = next(line for line in lines if line.get("request_id") == "req-log-1")
    assert partner_line["client_id"] == partner.client_id
    assert partner_line["route"] == "/partner/merchants"
    assert partner_line["status"] == 200
    assert partner_line["method"] == "GET"
    assert isinstance(partner_line["duration_ms"], float)
