"""The Loyalty API's checklist (Bestow's, from ES Loyalty's documents): each automatic and
conditional item judged on a real client's requests, a conforming session and a violating one,
with the request ids the server answered as the evidence (``docs/certification-loyalty.md``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from bestow.lab.certification.loyalty import CHECKLIST
from tests.conftest import unique
from tests.fixtures import servers
from tests.fixtures.deployment import Deployment, bestow
from tests.lab.cert_loyalty_helpers import FAULT, Integration, integration, rid
from tests.lab.certification_helpers import close_run, evidence_ids, item, open_run, report_of
from tests.lab.helpers import ADMIN
from tests.loyalty.helpers import DISABLED_REWARD, MAXIMUM, make_member, reward_body
from tests.surfaces.admin.helpers import new_client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "loyalty_flow.py"
LOST = {FAULT: "lost_answer", "X-Bestow-Fault-Answer": "504"}


@pytest.fixture
async def it(app_client: httpx.AsyncClient, runtime: Runtime) -> Integration:
    return await integration(app_client, runtime)


async def judged(it: Integration, item_id: str) -> dict[str, Any]:
    report = await report_of(it.http, it.client_id, "loyalty")
    return item(report, item_id)


async def awarded(it: Integration, correlation_id: str, **over: Any) -> httpx.Response:
    response = await it.award(correlation_id, reward_body(**over))
    assert response.status_code == 200, response.text
    return response


# The checklist as data


def test_the_checklist_is_bestows_with_an_attested_demo_and_the_faults_a_run_needs() -> None:
    assert CHECKLIST.source == "bestow"
    assert "es-user-docs" in CHECKLIST.reference
    kinds = {i.id: i.kind for i in CHECKLIST.items}
    assert kinds["loyalty.submission.demo"] == "attested"
    assert kinds["loyalty.history.read"] == "conditional"
    assert sum(k == "automatic" for k in kinds.values()) == 12
    assert all(i.advice for i in CHECKLIST.items)
    assert all(i.exercise for i in CHECKLIST.items if i.kind != "attested")
    assert {(f.kind, f.count, f.route) for f in CHECKLIST.faults} == {
        ("rate_limit", 2, None),
        ("lost_answer", 1, "POST /client/users/{correlation_id}/adhoc-reward/"),
    }


def test_the_docs_give_every_item_in_its_words() -> None:
    docs = (EXAMPLE.parents[1] / "docs" / "certification-loyalty.md").read_text()
    assert "**This checklist is Bestow's.**" in docs
    for found in CHECKLIST.items:
        assert f"| `{found.id}` | {found.kind}" in docs, found.id
        assert f"| {found.text} |" in docs, found.id


async def test_a_window_without_requests_leaves_every_judged_item_not_exercised(
    it: Integration,
) -> None:
    report = await report_of(it.http, it.client_id, "loyalty")

    assert report["checklist"]["source"] == "bestow"
    for found in report["items"]:
        if found["kind"] == "attested":
            assert found["status"] == "not_attested"
        elif found["id"] not in ("loyalty.auth.bearer", "loyalty.auth.token_reuse"):
            assert found["status"] == "not_exercised", found
    assert item(report, "loyalty.auth.bearer")["status"] == "not_exercised"
    assert report["passed"] is False


# Authentication


async def test_bearer_passes_with_the_token_request_and_the_calls_as_evidence(
    it: Integration,
) -> None:
    opened = await it.start()
    award = await it.award(opened.json()["correlationId"])
    assert it.token_response is not None

    found = await judged(it, "loyalty.auth.bearer")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(it.token_response), rid(opened), rid(award)]


async def test_bearer_fails_on_a_token_without_the_loyalty_scope(it: Integration) -> None:
    ok = await it.start()
    await it.fetch_token(scope="read_catalogue")
    refused = await it.start()
    assert refused.status_code == 403, refused.text

    found = await judged(it, "loyalty.auth.bearer")

    assert ok.status_code == 200
    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(refused)]
    assert "scope" in found["evidence"][0]["note"]
    assert found["detail"] == "1 of 2 requests not authenticated as documented"


async def test_one_token_reused_for_every_call_passes(it: Integration) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id)
    last = await it.history(correlation_id)
    assert it.token_response is not None

    found = await judged(it, "loyalty.auth.token_reuse")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(it.token_response), rid(last)]
    assert found["detail"] == "1 token fetched for 3 Loyalty API requests"


async def test_a_token_fetched_before_every_call_fails_naming_the_refetches(
    it: Integration,
) -> None:
    correlation_id = await it.session()
    refetches = []
    for _ in range(3):
        refetches.append(await it.fetch_token())
        await it.history(correlation_id)

    found = await judged(it, "loyalty.auth.token_reuse")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(r) for r in refetches]
    assert "3 fetched while the previous one was still valid" in found["detail"]


async def test_a_single_early_refetch_is_tolerated_as_a_restart(it: Integration) -> None:
    correlation_id = await it.session()
    await it.fetch_token()
    await it.history(correlation_id)
    await it.history(correlation_id, limit=5)

    assert (await judged(it, "loyalty.auth.token_reuse"))["status"] == "pass"


# Headers & General


async def test_json_bodies_pass_content_type(it: Integration) -> None:
    opened = await it.start()
    award = await it.award(opened.json()["correlationId"])

    found = await judged(it, "loyalty.headers.content_type")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(opened), rid(award)]


async def test_a_body_sent_without_content_type_fails_naming_it(it: Integration) -> None:
    """A body labelled otherwise is refused (415) before its client is known, so it is not in
    the request log (``docs/lab.md``); one streamed without a length and without a label
    reaches the route, and the log."""
    await it.start()
    assert it.member is not None

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"correlationId": "c-1", "channel": "APP"}'

    offending = await it.http.post(
        f"/client/users/{it.member.account_id}/sessions", content=chunks(), headers=it.headers()
    )
    assert "content-type" not in offending.request.headers

    found = await judged(it, "loyalty.headers.content_type")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]
    assert found["detail"] == ("1 of 2 requests have a body without Content-Type: application/json")


async def test_paced_calls_pass_frequency(it: Integration) -> None:
    correlation_id = await it.session()
    first = await it.history(correlation_id)
    await asyncio.sleep(1.05)
    last = await it.history(correlation_id)

    found = await judged(it, "loyalty.general.frequency")

    assert found["status"] == "pass", found
    assert first.status_code == 200
    assert evidence_ids(found)[-1] == rid(last)


async def test_the_same_read_repeated_at_once_fails_frequency(it: Integration) -> None:
    correlation_id = await it.session()
    await it.history(correlation_id)
    again = await it.history(correlation_id)

    found = await judged(it, "loyalty.general.frequency")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(again)]
    assert "the same read again" in found["evidence"][0]["note"]


async def test_going_over_the_rate_limit_fails_frequency(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    it = await integration(app_client, runtime, tier="default")
    correlation_id = await it.session()
    answers = [await it.history(correlation_id, limit=n) for n in range(1, 12)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]

    found = await judged(it, "loyalty.general.frequency")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(r) for r in limited][:5]
    assert "rate limit" in found["evidence"][0]["note"]


# Sessions & History


async def test_awards_in_an_open_session_pass(it: Integration) -> None:
    opened = await it.start()
    award = await awarded(it, opened.json()["correlationId"])

    found = await judged(it, "loyalty.sessions.open")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(opened), rid(award)]


async def test_an_award_without_a_session_fails_sessions(it: Integration) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id)
    offending = await it.award("never-opened")
    assert offending.json()["errorMessage"] == "Could not find the account"

    found = await judged(it, "loyalty.sessions.open")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]
    assert found["detail"] == ("1 of 2 requests name no open session (Could not find the account)")


async def test_history_read_and_paged_as_documented_passes(it: Integration) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id)
    await awarded(it, correlation_id)
    first = await it.history(correlation_id, limit=1)
    cursor = first.json()["nextTransactionId"]
    assert cursor
    paged = await it.history(correlation_id, limit=1, transactionId=cursor)
    assert paged.status_code == 200, paged.text

    found = await judged(it, "loyalty.history.read")

    assert found["status"] == "pass"
    assert found["kind"] == "conditional"
    assert evidence_ids(found) == [rid(first), rid(paged)]
    assert found["detail"] == "2 reads, 1 of them a next page"


async def test_a_refused_history_query_fails_history(it: Integration) -> None:
    correlation_id = await it.session()
    await it.history(correlation_id)
    offending = await it.history(correlation_id, limit=151)
    assert offending.status_code == 400, offending.text

    found = await judged(it, "loyalty.history.read")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]


async def test_history_not_read_is_not_held_against_the_client(it: Integration) -> None:
    await awarded(it, await it.session())

    found = await judged(it, "loyalty.history.read")

    assert found["status"] == "not_exercised"
    assert "Judged only if" in found["advice"]


# Ad Hoc Rewards


async def test_awards_with_a_reference_pass(it: Integration) -> None:
    correlation_id = await it.session()
    first = await awarded(it, correlation_id)
    last = await awarded(it, correlation_id, rewardAmount=-10)

    found = await judged(it, "loyalty.awards.reference")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(first), rid(last)]


async def test_an_award_without_a_reference_fails(it: Integration) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id)
    body = reward_body()
    del body["externalReferenceId"]
    offending = await it.award(correlation_id, body, **{"Idempotency-Key": "k-1"})
    assert offending.status_code == 200, offending.text

    found = await judged(it, "loyalty.awards.reference")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]
    assert found["detail"] == "1 of 2 awards lack an externalReferenceId"


async def test_a_lost_award_retried_with_its_reference_passes_as_a_replay(
    it: Integration,
) -> None:
    correlation_id = await it.session()
    body = reward_body()
    lost = await it.award(correlation_id, body, **LOST)
    assert lost.status_code == 504, lost.text
    retried = await it.award(correlation_id, body)
    assert retried.status_code == 200, retried.text

    found = await judged(it, "loyalty.awards.retry")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(lost), rid(retried)]
    assert "replayed" in found["evidence"][1]["note"]


async def test_a_lost_award_retried_with_a_new_reference_fails(it: Integration) -> None:
    correlation_id = await it.session()
    lost = await it.award(correlation_id, reward_body(), **LOST)
    assert lost.status_code == 504, lost.text
    await awarded(it, correlation_id)  # a new reference: credited twice

    found = await judged(it, "loyalty.awards.retry")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(lost)]
    assert "not retried with its externalReferenceId" in found["evidence"][0]["note"]


async def test_no_lost_answer_leaves_retry_not_exercised_with_how_to(it: Integration) -> None:
    await awarded(it, await it.session())

    found = await judged(it, "loyalty.awards.retry")

    assert found["status"] == "not_exercised"
    assert "--faults" in found["advice"]


# Reward Rules


async def test_amounts_within_the_rules_pass(it: Integration) -> None:
    correlation_id = await it.session()
    first = await awarded(it, correlation_id, rewardAmount=MAXIMUM)
    last = await awarded(it, correlation_id, rewardAmount=-MAXIMUM)

    found = await judged(it, "loyalty.rules.amounts")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(first), rid(last)]


@pytest.mark.parametrize("amount", [MAXIMUM + 1, -5000, 1.5])
async def test_an_amount_the_rules_refuse_fails(it: Integration, amount: Any) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id, rewardAmount=100)
    offending = await it.award(correlation_id, reward_body(rewardAmount=amount))
    assert offending.status_code == 400, offending.text

    found = await judged(it, "loyalty.rules.amounts")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]
    assert (
        item(await report_of(it.http, it.client_id, "loyalty"), "loyalty.rules.rewards")["status"]
        == "pass"
    )


async def test_rewards_of_the_programme_pass(it: Integration) -> None:
    correlation_id = await it.session()
    award = await awarded(it, correlation_id)

    found = await judged(it, "loyalty.rules.rewards")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(award)]


@pytest.mark.parametrize(
    "over", [{"rewardId": DISABLED_REWARD}, {"rewardId": "NOPE"}, {"businessUnit": "downtown"}]
)
async def test_a_reward_or_unit_the_programme_lacks_fails(
    it: Integration, over: dict[str, str]
) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id)
    offending = await it.award(correlation_id, reward_body(**over))
    assert offending.status_code == 400, offending.text

    found = await judged(it, "loyalty.rules.rewards")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]
    assert (
        item(await report_of(it.http, it.client_id, "loyalty"), "loyalty.rules.amounts")["status"]
        == "pass"
    )


async def test_one_reference_per_award_passes(it: Integration) -> None:
    correlation_id = await it.session()
    body = reward_body()
    first = await awarded(it, correlation_id, **body)
    repeat = await awarded(it, correlation_id, **body)  # a retry: the same award

    found = await judged(it, "loyalty.rules.reference_unique")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(first), rid(repeat)]


async def test_a_reference_reused_for_another_award_fails(it: Integration) -> None:
    correlation_id = await it.session()
    await awarded(it, correlation_id, externalReferenceId="order-1", rewardAmount=100)
    offending = await awarded(it, correlation_id, externalReferenceId="order-1", rewardAmount=50)

    found = await judged(it, "loyalty.rules.reference_unique")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(offending)]
    assert "nothing was credited" in found["evidence"][0]["note"]


# Errors & Rate Limits


async def test_a_documented_error_met_and_not_repeated_passes(
    it: Integration, runtime: Runtime
) -> None:
    inactive = await make_member(runtime, it.merchant_id, status="inactive")
    correlation_id = await it.session(inactive)
    refused = await it.award(correlation_id)
    assert refused.json()["errorMessage"] == "Account is not active"

    found = await judged(it, "loyalty.errors.not_retried")

    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(refused)]
    assert found["evidence"][0]["note"] == "INVALID_REQUEST met, not repeated unchanged"


async def test_a_documented_error_retried_unchanged_fails(
    it: Integration, runtime: Runtime
) -> None:
    inactive = await make_member(runtime, it.merchant_id, status="inactive")
    correlation_id = await it.session(inactive)
    body = reward_body()
    await it.award(correlation_id, body)
    again = await it.award(correlation_id, body)
    assert again.status_code == 400

    found = await judged(it, "loyalty.errors.not_retried")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(again)]
    assert found["detail"] == "1 request sent again unchanged after a documented error"


async def test_no_error_met_leaves_the_errors_item_not_exercised(it: Integration) -> None:
    await awarded(it, await it.session())

    found = await judged(it, "loyalty.errors.not_retried")

    assert found["status"] == "not_exercised"
    assert "Account is not active" in found["advice"]


async def test_429s_waited_out_and_longer_on_repeat_pass(it: Integration) -> None:
    first = await it.start(**{FAULT: "rate_limit"})
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    await asyncio.sleep(1.05)
    second = await it.start(**{FAULT: "rate_limit"})
    assert second.status_code == 429
    await asyncio.sleep(1.6)
    done = await it.start()
    assert done.status_code == 200, done.text

    found = await judged(it, "loyalty.errors.backoff")

    assert found["status"] == "pass", found
    assert evidence_ids(found) == [rid(second), rid(done)]
    assert "after the 429 no. 2 in a row" in found["evidence"][1]["note"]


async def test_a_429_retried_at_once_fails(it: Integration) -> None:
    limited = await it.start(**{FAULT: "rate_limit"})
    assert limited.status_code == 429
    at_once = await it.start()

    found = await judged(it, "loyalty.errors.backoff")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(at_once)]
    assert "after a 429 (Retry-After 1 s): at least 1.00 s" in found["evidence"][0]["note"]


async def test_a_repeated_429_waited_out_no_longer_fails(it: Integration) -> None:
    await it.start(**{FAULT: "rate_limit"})
    await asyncio.sleep(1.05)
    await it.start(**{FAULT: "rate_limit"})
    await asyncio.sleep(1.05)
    same_wait = await it.start()

    found = await judged(it, "loyalty.errors.backoff")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(same_wait)]
    assert "after the 429 no. 2 in a row" in found["evidence"][0]["note"]
    assert "at least 1.50 s expected" in found["evidence"][0]["note"]


# The whole checklist, in a run


async def test_a_run_with_faults_schedules_the_loyalty_faults(it: Integration) -> None:
    run = await open_run(it.http, it.client_id, "loyalty", faults=True)
    rules = await it.http.get(f"/admin/clients/{it.client_id}/faults", headers=ADMIN)
    kinds = sorted((r["kind"], r["remaining"], r["route"]) for r in rules.json()["data"])

    closed = await close_run(it.http, it.client_id, run["id"])

    assert kinds == [
        ("lost_answer", 1, "POST /client/users/{correlation_id}/adhoc-reward/"),
        ("rate_limit", 2, None),
    ]
    assert closed["report"]["surface"] == "loyalty"


async def careful_session(it: Integration, runtime: Runtime, correlation_id: str) -> None:
    """A session exercising every automatic item and the conditional one, each as documented:
    a lost award retried with its reference, a deduction, the history read, an account error
    met and not repeated, a 429 waited out."""
    body = reward_body()
    assert (await it.award(correlation_id, body, **LOST)).status_code == 504
    assert (await it.award(correlation_id, body)).status_code == 200
    await awarded(it, correlation_id, rewardAmount=-10)
    assert (await it.history(correlation_id, limit=5)).status_code == 200
    inactive = await make_member(runtime, it.merchant_id, status="inactive")
    assert (await it.award(await it.session(inactive))).status_code == 400
    assert (await it.start(**{FAULT: "rate_limit"})).status_code == 429
    await asyncio.sleep(1.05)
    assert (await it.start()).status_code == 200


async def attest_demo(it: Integration) -> None:
    attested = await it.http.put(
        f"/admin/clients/{it.client_id}/certification/attestations/loyalty.submission.demo",
        json={"note": "Demoed to the programme's team"},
        headers=ADMIN,
    )
    assert attested.status_code == 200, attested.text


async def test_a_careful_integration_passes_once_the_demo_is_attested(
    it: Integration, runtime: Runtime
) -> None:
    """Every automatic item exercised and passed, the conditional one too; ``passed`` once an
    admin attests the demo."""
    await careful_session(it, runtime, await it.session())

    report = await report_of(it.http, it.client_id, "loyalty")
    statuses = {i["id"]: i["status"] for i in report["items"]}
    assert statuses.pop("loyalty.submission.demo") == "not_attested"
    assert set(statuses.values()) == {"pass"}, statuses
    assert report["passed"] is False

    await attest_demo(it)
    assert (await report_of(it.http, it.client_id, "loyalty"))["passed"] is True


async def test_the_go_live_gate_opens_on_a_passing_report(
    it: Integration, runtime: Runtime
) -> None:
    """The gate of the sandbox lab asks this report: a production client of the organisation
    gets its first Loyalty credential once the demo client's report passes, not before."""
    organisation = unique("org")
    named = await it.http.patch(
        f"/admin/clients/{it.client_id}", json={"organization": organisation}, headers=ADMIN
    )
    assert named.status_code == 200, named.text
    production = await new_client(
        it.http,
        environment="production",
        organization=organisation,
        scopes=["loyalty.adhoc_reward"],
    )
    credentials = f"/admin/clients/{production['id']}/credentials"
    correlation_id = await it.session()
    await awarded(it, correlation_id)

    refused = await it.http.post(credentials, json={"kind": "oauth_secret"}, headers=ADMIN)
    assert refused.status_code == 409, refused.text
    assert f"client {it.client_id} has not passed the loyalty checklist" in refused.text

    await careful_session(it, runtime, correlation_id)
    await attest_demo(it)
    assert (await report_of(it.http, it.client_id, "loyalty"))["passed"] is True

    issued = await it.http.post(credentials, json={"kind": "oauth_secret"}, headers=ADMIN)
    assert issued.status_code == 201, issued.text
    audit = await it.http.get("/admin/audit", params={"target_id": production["id"]}, headers=ADMIN)
    [entry] = [e for e in audit.json()["data"] if e["action"] == "client.went_live"]
    assert entry["changes"]["certified_by"] == {
        "loyalty": {"client_id": it.client_id, "report_id": None}
    }


# The example, against a live server


@pytest.mark.slow
def test_the_example_passes_its_certification_run(deployment: Deployment, tmp_path: Path) -> None:
    """``examples/loyalty_flow.py`` in a run with the checklist's faults (two 429s, a lost
    answer), on the demo's loyalty client: every item passes, the demo once attested."""
    demo_json = tmp_path / "demo.json"
    demo_json.write_text(deployment.demo_json)
    client_id = deployment.demo["loyalty"]["client_id"]
    env = {**deployment.env, "BESTOW_BASE_URL": deployment.server.base_url}
    bestow(env, "certify", "attest", client_id, "loyalty.submission.demo", "--note", "Demoed")
    try:
        done = subprocess.run(
            [*servers.BESTOW, "certify", "run", "--client", client_id, "--surface", "loyalty",
             "--faults", "--json", "--", sys.executable, str(EXAMPLE), "--demo-json",
             str(demo_json)],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        bestow(env, "certify", "withdraw", client_id, "loyalty.submission.demo")

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{deployment.logs()}"
    # With --json the flow's own output goes to stderr, the report alone to stdout.
    flow = done.stderr
    assert "Loyalty flow result: PASS (9 checks)" in flow
    assert "(sent 2 times: the answer was lost" in flow
    assert "2 429(s) waited out, 1 lost answer(s) retried" in flow
    report = json.loads(done.stdout)
    assert report["passed"] is True
    assert {i["status"] for i in report["items"]} == {"pass", "attested"}
