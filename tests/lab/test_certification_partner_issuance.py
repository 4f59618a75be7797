"""The Partner checklist's sections judged from traffic and data (issue 19): Campaign Creation,
Reward Issuance, Monitoring & Completion, Revocation and Webhooks. Each item is driven through
a conforming session and a violating one, with real requests; the evidence is checked against
the answers' ``X-Request-Id`` (or the objects of the client's data)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from tests.fixtures.receiver import Receiver
from tests.lab.cert_partner_issuance_helpers import (
    FINISHED,
    attempted,
    campaign,
    create,
    follow,
    identifiers,
    integration,
    issue,
    read_job,
    revoke,
    same_day_dates,
    subscribe,
    until_state,
)
from tests.lab.certification_helpers import evidence_ids, item, report_of
from tests.lab.helpers import requests_of
from tests.surfaces.partner.helpers import campaign_body, email, worker_client

pytestmark = pytest.mark.asyncio

CAMPAIGN_ITEMS = (
    "partner.campaign.create",
    "partner.campaign.merchant_id",
    "partner.campaign.name",
    "partner.campaign.objective",
    "partner.campaign.fine_print",
    "partner.campaign.window",
    "partner.campaign.redemption",
    "partner.campaign.variants",
    "partner.campaign.template",
    "partner.campaign.control",
    "partner.campaign.dates",
)
ISSUE_ITEMS = (
    "partner.issue.identifiers",
    "partner.issue.e164",
    "partner.issue.batch_size",
    "partner.issue.idempotency_key",
    "partner.issue.accepted",
)
MONITORING_ITEMS = (
    "partner.monitoring.polled",
    "partner.monitoring.states",
    "partner.monitoring.counts",
    "partner.monitoring.failures",
)
REVOCATION_ITEMS = (
    "partner.revocation.tested",
    "partner.revocation.states",
    "partner.revocation.async",
)
WEBHOOK_ITEMS = (
    "partner.webhooks.https",
    "partner.webhooks.timely",
    "partner.webhooks.reward_issued",
    "partner.webhooks.batch_completed",
)


def rid(response: httpx.Response) -> str:
    return response.headers["x-request-id"]


def statuses(report: dict[str, Any], ids: tuple[str, ...]) -> dict[str, str]:
    return {i: item(report, i)["status"] for i in ids}


def objects(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["object_type"], e["object_id"]) for e in found["evidence"] if "object_id" in e]


# --- A conforming integration --------------------------------------------------------------------


async def test_a_conforming_flow_passes_every_issuance_item_with_its_requests(
    settings: Settings, runtime: Runtime
) -> None:
    it = await integration(runtime)
    async with worker_client(settings) as http:
        created = await create(http, it)
        assert created.status_code == 201, created.text
        made = created.json()["campaign"]
        unknown = email("unknown")
        accepted = await issue(
            http,
            it,
            made,
            identifiers(("email", it.emails[0]), ("phone", it.phones[0]), ("email", unknown)),
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        reads = await follow(http, it, job_id, *FINISHED)
        finished = reads[-1]
        assert finished.json()["issuance_job"]["failure_count"] == 1
        revoking = await revoke(http, it, job_id)
        assert revoking.status_code == 202, revoking.text
        revoked = (await follow(http, it, job_id, "revoked"))[-1]

        report = await report_of(http, it.partner.client_id, "partner")

    assert statuses(report, CAMPAIGN_ITEMS) == dict.fromkeys(CAMPAIGN_ITEMS, "pass")
    assert statuses(report, ISSUE_ITEMS) == dict.fromkeys(ISSUE_ITEMS, "pass")
    assert statuses(report, MONITORING_ITEMS) == dict.fromkeys(MONITORING_ITEMS, "pass")
    assert statuses(report, REVOCATION_ITEMS) == dict.fromkeys(REVOCATION_ITEMS, "pass")
    assert statuses(report, WEBHOOK_ITEMS) == dict.fromkeys(WEBHOOK_ITEMS, "not_exercised")
    assert evidence_ids(item(report, "partner.campaign.create")) == [rid(created)]
    assert item(report, "partner.campaign.control")["detail"] == (
        "the Control variants of 1 request omit reward_template_id"
    )
    assert evidence_ids(item(report, "partner.issue.idempotency_key")) == [rid(accepted)]
    assert item(report, "partner.issue.e164")["detail"] == "1 of 1 phone identifiers in E.164"
    assert evidence_ids(item(report, "partner.issue.accepted")) == [rid(reads[0])]
    assert evidence_ids(item(report, "partner.monitoring.counts")) == [rid(finished)]
    assert evidence_ids(item(report, "partner.monitoring.failures")) == [rid(finished)]
    assert evidence_ids(item(report, "partner.revocation.tested")) == [rid(revoking)]
    assert evidence_ids(item(report, "partner.revocation.async")) == [rid(revoked)]
    assert item(report, "partner.campaign.strategy")["status"] == "not_attested"


# --- Campaign Creation ---------------------------------------------------------------------------


async def test_a_campaign_without_its_fields_fails_each_field_it_lacks(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(runtime)
    good = await create(app_client, it)
    assert good.status_code == 201, good.text
    bare = await create(app_client, it, objective="", fine_print="  ")
    assert bare.status_code == 201, bare.text  # the API defaults both to empty
    body = campaign_body(it.partner.merchant_id, it.template_id)
    for name in ("merchant_id", "name", "start_at", "end_at", "redeemable_from", "redeemable_to"):
        del body["campaign"][name]
    lacking = await app_client.post("/partner/campaigns", headers=it.headers(), json=body)
    assert lacking.status_code == 400, lacking.text
    five = [{"name": f"T{n}", "reward_template_id": it.template_id} for n in range(5)]
    too_many = await create(app_client, it, variants=five)
    assert too_many.status_code == 400, too_many.text

    report = await report_of(app_client, it.partner.client_id, "partner")

    assert evidence_ids(item(report, "partner.campaign.create")) == [
        rid(bare),
        rid(lacking),
        rid(too_many),
    ]
    for name in ("merchant_id", "name", "window", "redemption"):
        found = item(report, f"partner.campaign.{name}")
        assert found["status"] == "fail", found
        assert evidence_ids(found) == [rid(lacking)]
        assert found["advice"]
    for name in ("objective", "fine_print"):
        found = item(report, f"partner.campaign.{name}")
        assert found["status"] == "fail", found
        assert evidence_ids(found) == [rid(bare)]
    variants = item(report, "partner.campaign.variants")
    assert variants["status"] == "fail"
    assert evidence_ids(variants) == [rid(too_many)]
    assert variants["detail"] == "1 of 4 Create Campaign requests have not 1-4 variants"
    for name in ("template", "control", "dates"):
        assert item(report, f"partner.campaign.{name}")["status"] == "pass"


async def test_variants_and_dates_the_api_refuses_fail_their_items(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(runtime)
    no_template = await create(app_client, it, variants=[{"name": "Treatment"}])
    assert no_template.status_code == 400, no_template.text
    unknown = await create(
        app_client, it, variants=[{"name": "Treatment", "reward_template_id": "rt_nope"}]
    )
    assert unknown.status_code == 400, unknown.text
    control = await create(
        app_client,
        it,
        variants=[
            {"name": "Treatment", "reward_template_id": it.template_id},
            {"name": "Control", "reward_template_id": it.template_id},
        ],
    )
    assert control.status_code == 400, control.text
    one_day = await create(app_client, it, **same_day_dates())
    assert one_day.status_code == 400, one_day.text
    assert "same date" in one_day.json()["message"]

    report = await report_of(app_client, it.partner.client_id, "partner")

    template = item(report, "partner.campaign.template")
    assert template["status"] == "fail"
    assert evidence_ids(template) == [rid(no_template), rid(unknown)]
    controlled = item(report, "partner.campaign.control")
    assert controlled["status"] == "fail"
    assert evidence_ids(controlled) == [rid(control)]
    dates = item(report, "partner.campaign.dates")
    assert dates["status"] == "fail"
    assert evidence_ids(dates) == [rid(one_day)]
    assert "time to redeem" in dates["advice"]
    for name in ("merchant_id", "name", "objective", "fine_print", "window", "variants"):
        assert item(report, f"partner.campaign.{name}")["status"] == "pass"
    assert item(report, "partner.campaign.create")["status"] == "fail"  # nothing created


async def test_campaign_items_are_not_exercised_without_a_create_campaign(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(runtime)
    response = await app_client.get("/partner/merchants", headers=it.headers())
    assert response.status_code == 200

    report = await report_of(app_client, it.partner.client_id, "partner")

    statuses_found = statuses(report, CAMPAIGN_ITEMS + ISSUE_ITEMS + MONITORING_ITEMS)
    assert set(statuses_found.values()) == {"not_exercised"}
    assert item(report, "partner.campaign.create")["advice"].startswith("Create a campaign")


# --- Reward Issuance -----------------------------------------------------------------------------


async def test_a_careless_issuance_fails_the_items_it_violates(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """No worker runs: the jobs stay pending, and none is polled."""
    it = await integration(runtime)
    made = await campaign(app_client, it)
    keyed = await issue(app_client, it, made, identifiers(("email", it.emails[0])))
    assert keyed.status_code == 202, keyed.text
    unkeyed = await issue(app_client, it, made, identifiers(("email", it.emails[0])), key=None)
    assert unkeyed.status_code == 202, unkeyed.text
    formatted = await issue(app_client, it, made, identifiers(("phone", "(415) 555-0123")))
    assert formatted.status_code == 202, formatted.text
    other = await issue(app_client, it, made, identifiers(("user_id", "42")))
    assert other.status_code == 400, other.text
    batch = identifiers(*(("email", f"u{n}@example.com") for n in range(10_001)))
    too_big = await issue(app_client, it, made, batch)
    assert too_big.status_code == 400, too_big.text

    report = await report_of(app_client, it.partner.client_id, "partner")

    kinds = item(report, "partner.issue.identifiers")
    assert (kinds["status"], evidence_ids(kinds)) == ("fail", [rid(other)])
    e164 = item(report, "partner.issue.e164")
    assert (e164["status"], evidence_ids(e164)) == ("fail", [rid(formatted)])
    size = item(report, "partner.issue.batch_size")
    assert (size["status"], evidence_ids(size)) == ("fail", [rid(too_big)])
    assert size["evidence"][0]["note"] == "10001 identifiers in one request"
    key = item(report, "partner.issue.idempotency_key")
    assert (key["status"], evidence_ids(key)) == ("fail", [rid(unkeyed)])
    assert key["detail"] == "1 of 5 Issue Rewards requests lack X-Idempotency-Key"
    accepted = item(report, "partner.issue.accepted")
    assert accepted["status"] == "fail"
    assert evidence_ids(accepted) == [rid(keyed), rid(unkeyed), rid(formatted)]
    polled = item(report, "partner.monitoring.polled")
    assert (polled["status"], evidence_ids(polled)) == (
        "fail",
        [rid(keyed), rid(unkeyed), rid(formatted)],
    )
    for name in ("states", "counts"):
        assert item(report, f"partner.monitoring.{name}")["status"] == "fail"
    # Nothing finished: no failure to read yet.
    assert item(report, "partner.monitoring.failures")["status"] == "not_exercised"
    assert report["passed"] is False
    # The request log holds counts of the bodies, never an identifier.
    logged = str(await requests_of(app_client, client_id=it.partner.client_id))
    assert "identifiers.other" in logged and "phone.not_e164" in logged
    for value in (it.emails[0], "(415) 555-0123", "u0@example.com", "user_id"):
        assert value not in logged


# --- Monitoring & Completion ---------------------------------------------------------------------


async def test_a_job_left_unread_once_finished_fails_states_counts_and_failures(
    app_client: httpx.AsyncClient, settings: Settings, runtime: Runtime
) -> None:
    """The job is issued and read once while no worker runs (it is ``pending``); a worker then
    finishes it, and the integration never reads it again."""
    it = await integration(runtime)
    made = await campaign(app_client, it)
    accepted = await issue(app_client, it, made, identifiers(("email", email("nobody"))))
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["issuance_job"]["id"]
    once = await read_job(app_client, it, job_id)
    assert once.json()["issuance_job"]["state"] == "pending"
    async with worker_client(settings):
        await until_state(runtime, job_id, *FINISHED)

    report = await report_of(app_client, it.partner.client_id, "partner")

    assert item(report, "partner.monitoring.polled")["status"] == "pass"
    for name in ("states", "counts"):
        found = item(report, f"partner.monitoring.{name}")
        assert (found["status"], evidence_ids(found)) == ("fail", [rid(once)]), found
    failures = item(report, "partner.monitoring.failures")
    assert failures["status"] == "fail"
    assert objects(failures) == [("issuance_job", job_id)]
    assert "summary.failures" in failures["advice"]


# --- Revocation ----------------------------------------------------------------------------------


async def test_revoking_an_unfinished_job_fails_the_revocation_items(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(runtime)
    made = await campaign(app_client, it)
    accepted = await issue(app_client, it, made, identifiers(("email", it.emails[0])))
    job_id = accepted.json()["issuance_job"]["id"]
    pending = await revoke(app_client, it, job_id)
    assert pending.status_code == 422, pending.text

    report = await report_of(app_client, it.partner.client_id, "partner")

    tested = item(report, "partner.revocation.tested")
    assert (tested["status"], evidence_ids(tested)) == ("fail", [rid(pending)])
    assert tested["kind"] == "conditional" and tested["feature"] == "revocation"
    states = item(report, "partner.revocation.states")
    assert (states["status"], evidence_ids(states)) == ("fail", [rid(pending)])
    assert item(report, "partner.revocation.async")["status"] == "not_exercised"


async def test_a_revocation_not_followed_and_revoked_twice_fails(
    settings: Settings, runtime: Runtime
) -> None:
    it = await integration(runtime)
    async with worker_client(settings) as http:
        made = await campaign(http, it)
        accepted = await issue(http, it, made, identifiers(("email", it.emails[0])))
        job_id = accepted.json()["issuance_job"]["id"]
        await follow(http, it, job_id, *FINISHED)
        revoking = await revoke(http, it, job_id)
        assert revoking.status_code == 202, revoking.text
        again = await revoke(http, it, job_id)
        assert again.status_code == 422, again.text
        await until_state(runtime, job_id, "revoked")

        report = await report_of(http, it.partner.client_id, "partner")

    assert item(report, "partner.revocation.tested")["status"] == "pass"
    states = item(report, "partner.revocation.states")
    assert (states["status"], evidence_ids(states)) == ("fail", [rid(again)])
    followed = item(report, "partner.revocation.async")
    assert (followed["status"], evidence_ids(followed)) == ("fail", [rid(revoking)])
    assert report["passed"] is False


async def test_an_integration_that_never_revokes_is_not_held_to_revocation(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(runtime)
    await campaign(app_client, it)

    report = await report_of(app_client, it.partner.client_id, "partner")

    assert statuses(report, REVOCATION_ITEMS) == dict.fromkeys(REVOCATION_ITEMS, "not_exercised")
    assert statuses(report, WEBHOOK_ITEMS) == dict.fromkeys(WEBHOOK_ITEMS, "not_exercised")


# --- Webhooks ------------------------------------------------------------------------------------


async def test_webhooks_answered_at_once_pass_and_stand_in_for_polling(
    settings: Settings, runtime: Runtime
) -> None:
    it = await integration(runtime)
    async with Receiver() as receiver, worker_client(settings) as http:
        endpoint = await subscribe(
            http,
            it.partner.client_id,
            receiver.url,
            event_types=["reward.issued", "reward_batch.completed"],
        )
        made = await campaign(http, it)
        accepted = await issue(http, it, made, identifiers(("email", it.emails[0])))
        assert accepted.status_code == 202, accepted.text
        await attempted(runtime, endpoint["id"], "reward.issued", "reward_batch.completed")

        report = await report_of(http, it.partner.client_id, "partner")

    assert statuses(report, WEBHOOK_ITEMS) == dict.fromkeys(WEBHOOK_ITEMS, "pass")
    https = item(report, "partner.webhooks.https")
    assert objects(https) == [("webhook_endpoint", endpoint["id"])]
    assert "loopback" in https["evidence"][0]["note"]
    assert item(report, "partner.webhooks.reward_issued")["evidence"][0]["object_type"] == (
        "webhook_delivery"
    )
    # The subscription stands in for polling: nothing polled the job.
    for name in ("polled", "states", "counts"):
        assert item(report, f"partner.monitoring.{name}")["status"] == "pass", name
    assert item(report, "partner.issue.accepted")["status"] == "pass"


async def test_webhooks_refused_or_unanswered_fail_their_items(
    settings: Settings, runtime: Runtime
) -> None:
    it = await integration(runtime)
    async with Receiver() as receiver, worker_client(settings) as http:
        receiver.status = 500
        failing = await subscribe(http, it.partner.client_id, receiver.url, max_attempts=1)
        closed = Receiver()
        await closed.start()
        dead_url = closed.url
        await closed.stop()
        dead = await subscribe(
            http,
            it.partner.client_id,
            dead_url,
            max_attempts=1,
            event_types=["reward_batch.completed"],
        )
        made = await campaign(http, it)
        accepted = await issue(http, it, made, identifiers(("email", it.emails[0])))
        assert accepted.status_code == 202, accepted.text
        await attempted(runtime, failing["id"], "reward.issued", "reward_batch.completed")
        await attempted(runtime, dead["id"], "reward_batch.completed")

        report = await report_of(http, it.partner.client_id, "partner")

    for name in ("reward_issued", "batch_completed"):
        found = item(report, f"partner.webhooks.{name}")
        assert found["status"] == "fail", found
        assert "not 2xx" in found["evidence"][0]["note"]
    timely = item(report, "partner.webhooks.timely")
    assert timely["status"] == "fail"
    assert all("no answer within 15 s" in e["note"] for e in timely["evidence"])
    assert item(report, "partner.webhooks.https")["status"] == "pass"


async def test_a_plain_http_webhook_outside_loopback_fails_https(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(runtime)
    secure = await subscribe(app_client, it.partner.client_id, "https://hooks.example.com/b")
    plain = await subscribe(app_client, it.partner.client_id, "http://hooks.example.com/b")

    report = await report_of(app_client, it.partner.client_id, "partner")

    https = item(report, "partner.webhooks.https")
    assert https["status"] == "fail"
    assert objects(https) == [("webhook_endpoint", plain["id"])]
    assert https["detail"] == "1 of 2 endpoints not https"
    assert secure["id"] != plain["id"]
    # A subscription with nothing delivered yet leaves the delivery items unjudged.
    for name in ("timely", "reward_issued", "batch_completed"):
        assert item(report, f"partner.webhooks.{name}")["status"] == "not_exercised"
