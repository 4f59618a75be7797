"""End to end through HTTP with the in-process worker: campaign, issue, watch, revoke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bestow.app import create_app
from bestow.rewards import templates
from tests.conftest import ACTOR, make_partner

pytestmark = pytest.mark.asyncio


async def test_issue_and_revoke(settings: Any, runtime: Any) -> None:
    client_id, token, merchant_id = await make_partner(runtime, tier="unlimited")
    async with runtime.db.write_session() as session:
        template = await templates.create_template(
            session, merchant_id=merchant_id, kind="discount", name="Free slice", actor=ACTOR,
            discount={"type": "free_item", "value": None}, publish=True,
        )
        from bestow.members import service as members
        for n in range(5):
            await members.create_member(session, merchant_id=merchant_id, actor=ACTOR,
                                        email=f"u{n}@example.com", phone=f"+1415555{n:04d}")
        await session.commit()
    headers = {"Authorization": f"Bearer {token}", "X-ClientId": client_id,
               "Accept-Version": "v4.0"}
    now = datetime.now(UTC)
    app = create_app(settings, with_worker=True)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as client:
            r = await client.post("/partner/campaigns", headers=headers, json={"campaign": {
                "merchant_id": merchant_id, "name": "Spring", "objective": "win back",
                "fine_print": "terms", "start_at": (now - timedelta(hours=1)).isoformat(),
                "end_at": (now + timedelta(days=30)).isoformat(),
                "redeemable_from": now.isoformat(),
                "redeemable_to": (now + timedelta(days=60)).isoformat(),
                "variants": [{"name": "Treatment", "reward_template_id": template.id},
                             {"name": "Control"}]}})
            assert r.status_code == 201, r.text
            campaign = r.json()["campaign"]
            treatment = campaign["variants"][0]["id"]
            ids = [{"type": "email", "value": f"u{n}@example.com"} for n in range(5)]
            ids += [{"type": "phone", "value": "4155550000"}, {"type": "email", "value": "x@nowhere.com"},
                    {"type": "email", "value": "U0@example.com"}]
            r = await client.post("/partner/campaigns/issue", headers=headers, json={
                "campaign_id": campaign["id"], "merchant_id": merchant_id, "variant_id": treatment,
                "identifiers": ids})
            assert r.status_code == 202, r.text
            job = r.json()["issuance_job"]
            for _ in range(100):
                r = await client.get(f"/partner/issuance_jobs/{job['id']}",
                                     params={"merchant_id": merchant_id}, headers=headers)
                if r.json()["issuance_job"]["state"] == "completed":
                    break
                await asyncio.sleep(0.05)
            body = r.json()["issuance_job"]
            assert body["state"] == "completed", body
            assert body["success_count"] == 5
            assert [f["error"] for f in body["summary"]["failures"]] == [
                "Invalid phone number; E.164 format required", "User not found",
                "Duplicate identifier"]
            r = await client.post(f"/partner/issuance_jobs/{job['id']}/revoke", headers=headers,
                                  json={"merchant_id": merchant_id})
            assert r.status_code == 202 and r.json()["issuance_job"]["state"] == "revoking"
            for _ in range(100):
                r = await client.get(f"/partner/issuance_jobs/{job['id']}",
                                     params={"merchant_id": merchant_id}, headers=headers)
                if r.json()["issuance_job"]["state"] == "revoked":
                    break
                await asyncio.sleep(0.05)
            assert r.json()["issuance_job"]["state"] == "revoked"
