"""The Partner checklist's general sections (API Headers & General beyond the headers,
Discovery, Rate Limits, Submission Format): for each automatic item, a conforming session and a
violating one through real HTTP requests, and the evidence the report names
(``docs/certification-partner.md``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow_client import AsyncBestow, NotFoundError
from tests.lab.cert_partner_general_helpers import Integration, integration, rid
from tests.lab.certification_helpers import evidence_ids, item, report_of
from tests.surfaces.partner.helpers import (
    campaign_body,
    email,
    grant,
    make_template,
    new_partner,
    worker_client,
)


@pytest.fixture
async def it(app_client: httpx.AsyncClient, runtime: Runtime) -> Integration:
    return await integration(app_client, runtime)


async def judged(it: Integration, item_id: str) -> dict[str, object]:
    report = await report_of(it.http, it.partner.client_id, "partner")
    return item(report, item_id)


# No unnecessary duplicate API requests.


async def test_distinct_requests_and_a_keyed_replay_are_no_duplicates(it: Integration) -> None:
    first = await it.merchants()
    await it.templates()
    campaign = await it.campaign()
    to = email("replay")
    job = await it.issue(campaign, key="dup-key-1", to=to)
    # The same issue again with its key is replayed (no second effect): not a duplicate.
    again = await it.issue(campaign, key="dup-key-1", to=to)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["issuance_job"]["id"] == job.json()["issuance_job"]["id"]
    # Job polls are judged by the frequency item, not here.
    await it.poll(job)
    last = await it.poll(job)

    found = await judged(it, "partner.general.no_duplicates")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(first), rid(last)]


async def test_a_read_whose_answer_was_lost_may_be_sent_again(it: Integration) -> None:
    lost = {"X-Bestow-Fault": "lost_answer", "X-Bestow-Fault-Answer": "504"}
    await it.merchants(504, **lost)
    again = await it.merchants()

    found = await judged(it, "partner.general.no_duplicates")

    assert found["status"] == "pass", found
    assert evidence_ids(found)[-1] == rid(again)


async def test_the_same_read_again_at_once_is_a_duplicate(it: Integration) -> None:
    first = await it.merchants()
    repeat = await it.merchants()
    await it.templates()

    found = await judged(it, "partner.general.no_duplicates")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(first), rid(repeat)]
    assert found["detail"] == "1 of 3 requests repeat an answered request needlessly"
    assert "same read again" in found["evidence"][1]["note"]  # type: ignore[index]


async def test_the_same_write_done_twice_is_a_duplicate(it: Integration) -> None:
    await it.merchants()
    await it.templates()
    body = campaign_body(it.partner.merchant_id, it.template_id)
    created = await it.call("POST", "/partner/campaigns", 201, json=body)
    twice = await it.call("POST", "/partner/campaigns", 201, json=body)
    assert created.json()["campaign"]["id"] != twice.json()["campaign"]["id"]

    found = await judged(it, "partner.general.no_duplicates")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(created), rid(twice)]


# Error messages handled gracefully.


async def test_errors_met_and_not_retried_unchanged_pass(it: Integration) -> None:
    unknown = await it.call("GET", "/partner/campaigns/cmp_nope", 404)
    # A request refused for a missing header, sent again with it: changed, and answered.
    bare = {k: v for k, v in it.headers().items() if k != "Accept-Version"}
    refused = await it.call("GET", "/partner/merchants", 400, headers=bare)
    await it.merchants()

    found = await judged(it, "partner.general.errors_handled")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(unknown), rid(refused)]
    assert found["detail"] == "2 client errors met, none retried unchanged"


async def test_a_failing_request_retried_unchanged_fails(it: Integration) -> None:
    first = await it.call("GET", "/partner/campaigns/cmp_nope", 404)
    retried = await it.call("GET", "/partner/campaigns/cmp_nope", 404)

    found = await judged(it, "partner.general.errors_handled")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(first), rid(retried)]
    assert found["detail"] == "1 of 2 client errors were retried unchanged"
    assert "unknown campaign" in str(found["advice"]) or "404" in str(found["advice"])


async def test_without_an_error_the_item_is_not_exercised(it: Integration) -> None:
    await it.merchants()

    found = await judged(it, "partner.general.errors_handled")

    assert found["status"] == "not_exercised"
    assert "404" in str(found["advice"])


# API requests issued at a reasonable frequency.


async def test_polling_a_job_once_a_second_passes(it: Integration) -> None:
    job = await it.job()
    polls = await it.polls(job, [1.0, 1.3])

    found = await judged(it, "partner.general.frequency")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(polls[0]), rid(polls[-1])]


async def test_polling_a_job_in_a_tight_loop_fails(it: Integration) -> None:
    job = await it.job()
    polls = await it.polls(job, [0.0, 0.0])

    found = await judged(it, "partner.general.frequency")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(polls[0]), rid(polls[1]), rid(polls[1]), rid(polls[2])]
    assert found["detail"] == "2 polls came within 1 s of the last"


@pytest.mark.slow
async def test_polling_a_job_many_times_with_backoff_passes(it: Integration) -> None:
    job = await it.job()
    polls = await it.polls(job, [1.0, 1.0, 1.4, 1.4, 1.4])

    found = await judged(it, "partner.general.frequency")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(polls[0]), rid(polls[-1])]
    assert found["detail"] == "6 polls of 1 jobs, at least 1 s apart and backing off"


@pytest.mark.slow
async def test_polling_a_job_many_times_without_backoff_fails(it: Integration) -> None:
    job = await it.job()
    polls = await it.polls(job, [1.0] * 5)

    found = await judged(it, "partner.general.frequency")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(polls[0]), rid(polls[-1])]
    assert found["detail"] == "1 jobs polled more than 5 times without backoff"


# Discovery.


async def test_discovery_before_operations_and_reused_passes(it: Integration) -> None:
    merchants = await it.merchants()
    templates = await it.templates()
    campaign = await it.campaign()
    issue = await it.issue(campaign, key="reuse-1")

    report = await report_of(it.http, it.partner.client_id, "partner")

    found = item(report, "partner.discovery.merchants")
    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(merchants), rid(campaign)]
    found = item(report, "partner.discovery.templates")
    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(templates)]
    found = item(report, "partner.discovery.cached")
    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(campaign), rid(issue)]


async def test_an_operation_before_get_merchants_fails_the_merchants_item(
    it: Integration,
) -> None:
    await it.templates()
    campaign = await it.campaign()
    await it.merchants()

    found = await judged(it, "partner.discovery.merchants")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(campaign)]


async def test_a_merchant_operated_on_without_listing_its_templates_fails(
    it: Integration, runtime: Runtime
) -> None:
    other = (await new_partner(runtime)).merchant_id
    await grant(runtime, it.partner, other)
    other_template = await make_template(runtime, other)
    await it.merchants()
    await it.templates()
    await it.campaign()
    unlisted = await it.campaign(other, template_id=other_template.id)

    found = await judged(it, "partner.discovery.templates")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(unlisted)]
    assert other in found["evidence"][0]["note"]  # type: ignore[index]
    assert found["detail"] == (
        "1 of 2 merchants operated on without listing their reward templates first"
    )


async def test_discovery_repeated_before_every_operation_fails_cached(it: Integration) -> None:
    await it.merchants()
    await it.templates()
    campaign = await it.campaign()
    await it.merchants()
    issue = await it.issue(campaign)

    report = await report_of(it.http, it.partner.client_id, "partner")

    found = item(report, "partner.discovery.cached")
    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(campaign), rid(issue)]
    assert found["detail"] == "discovery repeated before each of 1 operations after the first"
    # Get Merchants again with an operation in between is this item's business only.
    assert item(report, "partner.general.no_duplicates")["status"] == "pass"


async def test_a_single_operation_leaves_cached_not_exercised(it: Integration) -> None:
    await it.merchants()
    await it.templates()
    await it.campaign()

    found = await judged(it, "partner.discovery.cached")

    assert found["status"] == "not_exercised"
    assert "at least two operations" in str(found["advice"])


# Rate limits.


async def test_five_requests_a_second_are_within_the_limits(it: Integration) -> None:
    first = await it.templates()
    for _ in range(4):
        await it.call("GET", "/partner/scopes", 200)
    await asyncio.sleep(1.05)
    last = await it.merchants()

    found = await judged(it, "partner.rate_limits.respected")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(first), rid(last)]
    # At most 5 in a second (fewer if the machine is slow), all 6 within 15 minutes.
    assert str(found["detail"]).startswith("6 requests; at most ")
    assert str(found["detail"]).endswith(" in any second and 6 in any 15 minutes")


async def test_six_requests_within_a_second_break_the_limit(it: Integration) -> None:
    # At once, so that a loaded machine cannot spread them over more than a second.
    sent = await asyncio.gather(*(it.call("GET", "/partner/scopes", 200) for _ in range(6)))

    found = await judged(it, "partner.rate_limits.respected")

    assert found["status"] == "fail", found
    [over] = evidence_ids(found)
    assert over in {rid(r) for r in sent}
    assert found["evidence"][0]["note"] == "request 6 within 1 s"  # type: ignore[index]
    assert found["detail"] == "1 requests over 5 per second"


async def test_a_429_of_the_rate_limiter_fails_the_limits(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(app_client, runtime, tier="default")
    answers = await asyncio.gather(
        *(app_client.get("/partner/scopes", headers=it.headers()) for _ in range(7))
    )
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == 2, [a.status_code for a in answers]

    found = await judged(it, "partner.rate_limits.respected")

    assert found["status"] == "fail", found
    assert {rid(r) for r in refused} <= set(evidence_ids(found))
    assert found["detail"] == "2 requests over 5 per second; 2 refused by the rate limiter"


async def test_an_injected_429_is_not_held_against_the_limits(it: Integration) -> None:
    await it.rate_limit(1)
    await it.merchants(429)
    await asyncio.sleep(1.05)
    await it.merchants()

    found = await judged(it, "partner.rate_limits.respected")

    assert found["status"] == "pass", found


async def test_429s_waited_out_with_growing_waits_pass_backoff(it: Integration) -> None:
    await it.rate_limit(2)
    first = await it.merchants(429)
    assert first.headers["retry-after"] == "1"
    await asyncio.sleep(1.05)
    second = await it.merchants(429)
    await asyncio.sleep(1.6)
    third = await it.merchants()

    found = await judged(it, "partner.rate_limits.backoff")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(first), rid(second), rid(second), rid(third)]
    assert found["detail"] == "each of 2 429s waited out, waits growing on repeats"


async def test_a_429_retried_at_once_fails_backoff(it: Integration) -> None:
    await it.rate_limit(1)
    refused = await it.merchants(429)
    retried = await it.merchants()

    found = await judged(it, "partner.rate_limits.backoff")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(refused), rid(retried)]
    assert found["detail"] == "1 of 1 429s not waited out with backoff"


async def test_repeated_429s_waited_out_without_growing_fail_backoff(it: Integration) -> None:
    await it.rate_limit(2)
    await it.merchants(429)
    await asyncio.sleep(1.05)
    second = await it.merchants(429)
    await asyncio.sleep(1.05)
    third = await it.merchants()

    found = await judged(it, "partner.rate_limits.backoff")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == [rid(second), rid(third)]
    assert "did not grow" in found["evidence"][1]["note"]  # type: ignore[index]


async def test_without_a_429_backoff_is_not_exercised_and_says_how(it: Integration) -> None:
    await it.merchants()

    found = await judged(it, "partner.rate_limits.backoff")

    assert found["status"] == "not_exercised"
    assert "bestow certify run --faults" in str(found["advice"])


# Submission format.


async def test_a_uat_clients_calls_pass_the_submission_items(it: Integration) -> None:
    first = await it.merchants()
    last = await it.templates()

    report = await report_of(it.http, it.partner.client_id, "partner")

    for item_id in ("partner.submission.sandbox", "partner.submission.logs"):
        found = item(report, item_id)
        assert found["status"] == "pass", found
        assert evidence_ids(found) == [rid(first), rid(last)]
    assert item(report, "partner.submission.sandbox")["detail"] == "2 requests of a uat client"


async def test_a_production_client_fails_the_sandbox_item(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(app_client, runtime, environment="production")
    await it.merchants()

    report = await report_of(app_client, it.partner.client_id, "partner")

    found = item(report, "partner.submission.sandbox")
    assert found["status"] == "fail", found
    [evidence] = found["evidence"]
    assert (evidence["object_type"], evidence["object_id"]) == ("client", it.partner.client_id)
    assert evidence["note"] == "a production client"
    assert item(report, "partner.submission.logs")["status"] == "not_exercised"


async def test_calls_sharing_a_request_id_fail_the_logs_item(it: Integration) -> None:
    fixed = it.headers(**{"X-Request-Id": "my-fixed-id"})
    first = await it.call("GET", "/partner/merchants", 200, headers=fixed)
    again = await it.call("GET", "/partner/scopes", 200, headers=fixed)
    assert rid(first) == rid(again) == "my-fixed-id"

    found = await judged(it, "partner.submission.logs")

    assert found["status"] == "fail", found
    assert evidence_ids(found) == ["my-fixed-id", "my-fixed-id"]
    assert found["detail"] == "1 of 2 requests reuse another's request id"


async def test_an_empty_window_leaves_the_general_items_not_exercised(it: Integration) -> None:
    report = await report_of(it.http, it.partner.client_id, "partner")

    for item_id in (
        "partner.general.no_duplicates",
        "partner.general.errors_handled",
        "partner.general.frequency",
        "partner.discovery.merchants",
        "partner.discovery.templates",
        "partner.discovery.cached",
        "partner.rate_limits.respected",
        "partner.rate_limits.backoff",
        "partner.submission.sandbox",
        "partner.submission.logs",
    ):
        found = item(report, item_id)
        assert found["status"] == "not_exercised", found
        assert found["kind"] == "automatic"
        assert found["advice"], item_id


# The SDK, by construction.


@pytest.mark.slow
async def test_the_sdk_flow_passes_the_general_sections(
    settings: Settings, runtime: Runtime
) -> None:
    """Discovery (cached), a campaign, an issue repeated with its key, a 429 waited out, the
    job followed to completion with backoff, an unknown campaign met once: through the SDK."""
    async with worker_client(settings) as http:
        it = await integration(http, runtime)
        await it.rate_limit(1, route="POST /partner/campaigns/issue")
        async with AsyncBestow(
            base_url=str(http.base_url), app_name="cert-sdk", http_client=http
        ) as sdk:
            partner = sdk.partner(client_id=it.partner.client_id, access_token=it.partner.token)
            [merchant] = await partner.merchants()
            [template] = await partner.reward_templates(merchant.id)
            start = datetime.now(UTC).replace(microsecond=0)
            campaign = await partner.create_campaign(
                merchant_id=merchant.id,
                name="SDK flow",
                objective="Certify",
                fine_print="One per guest",
                start_at=start,
                end_at=start + timedelta(days=30),
                redeemable_from=start,
                redeemable_to=start + timedelta(days=60),
                variants=[{"name": "Treatment", "reward_template_id": template.id}],
            )
            fields = {
                "merchant_id": merchant.id,
                "campaign_id": campaign.id,
                "variant_id": campaign.variant("Treatment").id,
                "identifiers": [email("sdk")],
                "idempotency_key": "sdk-flow-1",
            }
            [job] = await partner.issue(**fields)
            [again] = await partner.issue(**fields)
            assert again.id == job.id
            await partner.merchants()
            await partner.wait(job)
            with pytest.raises(NotFoundError):
                await partner.campaign("cmp_doesnotexist")
            report = await report_of(http, it.partner.client_id, "partner")

    statuses = {i["id"]: i["status"] for i in report["items"] if i["kind"] == "automatic"}
    general = {
        k: v
        for k, v in statuses.items()
        if k.split(".")[1] in ("headers", "general", "discovery", "rate_limits", "submission")
    }
    assert general == dict.fromkeys(general, "pass"), general
    assert len(general) == 15
