"""A real receiver gets every event of a 1,000-identifier job, each signed both ways."""

from __future__ import annotations

from collections import Counter

from bestow.config import Settings
from bestow.deps import Runtime
from tests.fixtures.receiver import Receiver
from tests.surfaces.partner.helpers import (
    ISSUE,
    create_campaign,
    in_state,
    issue_body,
    make_members,
    make_template,
    new_partner,
    unique,
    variant_id,
    wait_for_job,
    worker_client,
)
from tests.webhooks.helpers import create_endpoint, thanx_signature_ok, verify_standard

JOB_SIZE = 1000


async def test_a_thousand_identifier_job_delivers_every_event_signed(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client, Receiver() as receiver:
        partner = await new_partner(runtime)
        template = await make_template(runtime, partner.merchant_id)
        campaign = await create_campaign(client, partner, template.id)
        _, secret = await create_endpoint(runtime, partner.client_id, receiver.url)
        emails = [f"{unique('w')}@example.com" for _ in range(JOB_SIZE - 3)]
        await make_members(runtime, partner.merchant_id, emails=emails)
        identifiers = [{"type": "email", "value": e} for e in emails]
        identifiers += [
            {"type": "email", "value": "not-an-email"},
            {"type": "phone", "value": "+14155550000"},  # nobody has it
            {"type": "email", "value": emails[0]},  # a duplicate
        ]
        body = issue_body(partner, campaign, identifiers, "Treatment")
        response = await client.post(ISSUE, headers=partner.headers(), json=body)
        assert response.status_code == 202, response.text
        job_id = response.json()["issuance_job"]["id"]
        await wait_for_job(client, partner, job_id, in_state("completed"), timeout=60)

        got = await receiver.wait_for(JOB_SIZE - 3 + 1, timeout=60)

    events = [verify_standard(request, secret) for request in got]
    assert all(thanx_signature_ok(request, secret) for request in got)
    assert Counter(e["event"] for e in events) == {
        "reward.issued": JOB_SIZE - 3,
        "reward_batch.completed": 1,
    }
    ids = [request.headers["webhook-id"] for request in got]
    assert len(set(ids)) == len(ids)
    issued = [e["data"] for e in events if e["event"] == "reward.issued"]
    assert {d["issuance_job_id"] for d in issued} == {job_id}
    assert sorted(d["identifier"]["index"] for d in issued) == list(range(JOB_SIZE - 3))
    assert len({d["reward_id"] for d in issued}) == JOB_SIZE - 3
    first = issued[0]
    assert first["campaign"]["id"] == campaign["id"]
    assert first["campaign"]["variant"]["id"] == variant_id(campaign, "Treatment")
    assert first["identifier"]["type"] == "email" and "value" not in first["identifier"]
    [batch] = [e for e in events if e["event"] == "reward_batch.completed"]
    assert batch["data"]["issuance_job_id"] == job_id
    assert batch["data"]["state"] == "completed"
    assert (batch["data"]["total_count"], batch["data"]["issued_count"]) == (JOB_SIZE, JOB_SIZE - 3)
    assert batch["data"]["failed_count"] == 3
    assert {f["user_identifier"] for f in batch["data"]["failures"]} == {
        "not-an-email",
        "+14155550000",
        emails[0],
    }
    assert all(request.headers["content-type"] == "application/json" for request in got)
