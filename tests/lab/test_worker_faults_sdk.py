"""The SDK drives through the worker-side faults of a demo client against a live deployment
(``bestow serve`` and ``bestow worker`` in their own processes): with a ``partial_failure`` rule
on, it issues, reads the failures and re-issues the failed identifiers under a new idempotency
key, and every member ends rewarded exactly once; with a ``webhook_chaos`` rule on, a real local
receiver gets a duplicate, a delayed and a reordered delivery, and handling each request with the
SDK's ``verify`` and deduplicating on ``webhook-id`` processes each event once."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bestow.deps import Runtime
from bestow.lab import faults
from bestow_client import AsyncBestow
from bestow_client.partner import AsyncPartner
from bestow_client.webhooks import verify
from tests.fixtures.deployment import Deployment
from tests.fixtures.receiver import Receiver
from tests.lab.worker_fault_helpers import make_rule, remaining, rewards_per_member
from tests.surfaces.partner.helpers import Partner, email, make_members, make_template, new_partner
from tests.webhooks.helpers import create_endpoint, deliveries


def campaign_fields(partner: Partner, template_id: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "merchant_id": partner.merchant_id,
        "name": f"Faults {uuid.uuid4().hex[:6]}",
        "objective": "Prove the failure handling",
        "fine_print": "One per guest",
        "start_at": now - timedelta(hours=1),
        "end_at": now + timedelta(days=30),
        "redeemable_from": now,
        "redeemable_to": now + timedelta(days=60),
        "variants": [
            {"name": "Treatment", "reward_template_id": template_id},
            {"name": "Control", "reward_template_id": None},
        ],
    }


async def ready(runtime: Runtime, size: int) -> tuple[Partner, list[str], list[str], str]:
    """A demo partner of its own with ``size`` members and a template: (partner, member ids,
    their emails, template id)."""
    partner = await new_partner(runtime, environment="demo")
    addresses = [email("sdk") for _ in range(size)]
    members = await make_members(runtime, partner.merchant_id, emails=addresses)
    template = await make_template(runtime, partner.merchant_id)
    return partner, members, addresses, template.id


def sdk(deployment: Deployment, partner: Partner) -> tuple[AsyncBestow, AsyncPartner]:
    client = AsyncBestow(base_url=deployment.base_url, app_name="faults-test")
    return client, client.partner(client_id=partner.client_id, access_token=partner.token)


async def test_failed_identifiers_reissued_end_rewarded_once(
    deployment: Deployment, runtime: Runtime
) -> None:
    partner, members, addresses, template_id = await ready(runtime, 6)
    rule_id = await make_rule(
        runtime, partner.client_id, faults.PARTIAL_FAILURE, count=2, params={"error": "not_found"}
    )
    client, api = sdk(deployment, partner)
    try:
        campaign = await api.create_campaign(**campaign_fields(partner, template_id))
        target = {
            "merchant_id": partner.merchant_id,
            "campaign_id": campaign.id,
            "variant_id": campaign.variant("Treatment").id,
        }
        key = uuid.uuid4().hex
        [job] = await api.issue(**target, identifiers=addresses, idempotency_key=key)
        job = await api.wait(job, timeout=60)
        assert job.state == "completed", (job, deployment.logs())
        assert [(f.identifier_index, f.error) for f in job.failures] == [
            (0, "User not found"),
            (1, "User not found"),
        ]
        failed = [addresses[f.identifier_index] for f in job.failures]

        # The integrator's handling: the same call again is a replay (nothing issued twice);
        # the failed identifiers go out again under a new key.
        [again] = await api.issue(**target, identifiers=addresses, idempotency_key=key)
        assert again.replayed and again.id == job.id
        [retry] = await api.issue(**target, identifiers=failed, idempotency_key=uuid.uuid4().hex)
        retry = await api.wait(retry, timeout=60)
    finally:
        await client.close()

    assert (retry.state, retry.failures) == ("completed", [])
    assert await remaining(runtime, rule_id) == 0
    assert await rewards_per_member(runtime, campaign.id) == {member: 1 for member in members}


async def test_chaos_deliveries_are_handled_once_by_event_id(
    deployment: Deployment, runtime: Runtime
) -> None:
    partner, members, addresses, template_id = await ready(runtime, 4)
    modes = ["duplicate", "delay", "reorder"]
    params = {"mode": modes, "delay_seconds": 2, "hold_seconds": 2, "resend_after_seconds": 0}
    await make_rule(runtime, partner.client_id, faults.WEBHOOK_CHAOS, count=3, params=params)
    client, api = sdk(deployment, partner)
    async with Receiver() as receiver:
        endpoint_id, secret = await create_endpoint(runtime, partner.client_id, receiver.url)
        try:
            campaign = await api.create_campaign(**campaign_fields(partner, template_id))
            [job] = await api.issue(
                merchant_id=partner.merchant_id,
                campaign_id=campaign.id,
                variant_id=campaign.variant("Treatment").id,
                identifiers=addresses,
            )
            job = await api.wait(job, timeout=60)
        finally:
            await client.close()
        # Four reward.issued and the batch's event, the first of them twice.
        got = await receiver.wait_for(6, timeout=60)

    handled: dict[str, dict[str, Any]] = {}
    for request in got:
        event = verify(request.body, request.headers, secret)
        handled.setdefault(request.headers["webhook-id"], event)
    assert len(got) == 6 and len(handled) == 5
    issued = [e["data"]["user_id"] for e in handled.values() if e["event"] == "reward.issued"]
    assert Counter(issued) == {member: 1 for member in members}
    origins = Counter(d.origin for d in await deliveries(runtime, endpoint_id))
    assert origins == {"chaos:resend": 1, "chaos:delay": 1, "chaos:reorder": 1, "schedule": 2}
    # The batch's event, created last, overtook the two held back.
    arrival = [verify(r.body, r.headers, secret)["event"] for r in got]
    assert arrival.index("reward_batch.completed") < len(arrival) - 2
