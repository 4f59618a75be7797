"""The Operator API checklist (Bestow's, from Gamnify's documents): each automatic and
conditional item judged on a conforming and a violating session of real signed requests, with
the answers' request ids as evidence (``docs/certification-operator.md``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.lab.certification import render
from tests.fixtures import servers
from tests.fixtures.deployment import Deployment, bestow
from tests.lab.cert_operator_helpers import (
    BYPASS,
    LOST,
    RATE_LIMITED,
    add_fault,
    report,
    rid,
    send,
    send_chunked,
)
from tests.lab.certification_helpers import evidence_ids, item, open_run
from tests.lab.helpers import ADMIN
from tests.operator.helpers import (
    Operator,
    at,
    bulk_reward,
    campaign,
    enrol,
    make_operator,
    reward,
    reward_body,
)
from tests.surfaces.partner.helpers import worker_client

BULK = "POST /v1/rewards/{reward_id}/enrollments/bulk"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "operator_flow.py"


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime, environment="uat")


def campaign_body(**fields: Any) -> dict[str, Any]:
    return {"name": "Spins", "startTimeUtc": at(-1), "createdBy": "ops@example.com", **fields}


async def ok(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    return rid(response)


# --- Checklist ---------------------------------------------------------------------------


async def test_the_checklist_is_bestows_and_a_run_schedules_its_faults(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    listed = await app_client.get("/admin/certification/checklists/operator", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    kinds = {i["id"]: i["kind"] for i in body["items"]}
    assert kinds["operator.auth.headers"] == "automatic"
    assert kinds["operator.bets.idempotent"] == "conditional"
    assert kinds["operator.submission.demo"] == "attested"
    assert sorted(f["kind"] for f in body["faults"]) == [
        "lost_answer",
        "lost_answer",
        "partial_failure",
        "rate_limit",
    ]

    run = await open_run(app_client, operator.client_id, "operator", faults=True)
    rules = await app_client.get(f"/admin/clients/{operator.client_id}/faults", headers=ADMIN)
    assert sorted(r["route"] for r in rules.json()["data"]) == sorted(
        f["route"] for f in body["faults"]
    )
    assert len(run["fault_rule_ids"]) == 4
    judged = await report(app_client, operator)
    assert judged["checklist"]["source"] == "bestow"
    assert item(judged, "operator.auth.headers")["status"] == "not_exercised"


# --- Authentication ----------------------------------------------------------------------


async def test_signed_requests_pass_the_authentication_items(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    first = await ok(await send(app_client, operator, "GET", "/v1/campaigns"))
    last = await ok(await send(app_client, operator, "POST", "/v1/campaigns", campaign_body()))

    judged = await report(app_client, operator)

    for name in ("operator.auth.headers", "operator.auth.no_bypass"):
        found = item(judged, name)
        assert found["status"] == "pass", found
        assert evidence_ids(found) == [first, last]


async def test_the_hash_bypass_fails_both_authentication_items(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    await ok(await send(app_client, operator, "GET", "/v1/campaigns"))
    bypassed = await ok(
        await send(
            app_client,
            operator,
            "GET",
            "/v1/campaigns",
            extra=BYPASS,
            drop=("X-AUTH-REQUEST-HASH",),
        )
    )
    both = await ok(await send(app_client, operator, "GET", "/v1/campaigns?x=1", extra=BYPASS))

    judged = await report(app_client, operator)

    signed = item(judged, "operator.auth.headers")
    assert signed["status"] == "fail"
    assert evidence_ids(signed) == [bypassed]
    assert signed["detail"] == "1 of 3 requests lack X-AUTH-OPERATOR-ID or X-AUTH-REQUEST-HASH"
    bypass = item(judged, "operator.auth.no_bypass")
    assert bypass["status"] == "fail"
    assert evidence_ids(bypass) == [bypassed, both]
    assert "X-AUTH-REQUEST-HASH-BYPASS" in bypass["advice"]
    assert judged["passed"] is False


# --- Requests & errors -------------------------------------------------------------------


async def test_content_type_on_every_body(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    await ok(await send(app_client, operator, "GET", "/v1/campaigns"))
    posted = await ok(await send(app_client, operator, "POST", "/v1/campaigns", campaign_body()))

    judged = await report(app_client, operator)
    found = item(judged, "operator.requests.content_type")
    assert found["status"] == "pass"
    assert evidence_ids(found) == [posted]

    # A body streamed without a length and without Content-Type reaches the route (one with a
    # length is refused 415 before authentication, and never logged as the client's).
    bare = await ok(await send_chunked(app_client, operator, "/v1/campaigns", campaign_body()))
    found = item(await report(app_client, operator), "operator.requests.content_type")
    assert found["status"] == "fail"
    assert evidence_ids(found) == [bare]
    assert found["detail"] == "1 of 2 requests have a body without Content-Type: application/json"


async def test_a_refused_request_sent_again_unchanged_fails(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    await ok(await send(app_client, operator, "GET", "/v1/campaigns"))
    judged = await report(app_client, operator)
    assert item(judged, "operator.errors.not_repeated")["status"] == "not_exercised"

    missing = await send(app_client, operator, "GET", "/v1/campaigns/ocm_unknown")
    assert missing.status_code == 404, missing.text
    blank = await send(app_client, operator, "POST", "/v1/campaigns", campaign_body(name=" "))
    assert blank.status_code == 400, blank.text
    found = item(await report(app_client, operator), "operator.errors.not_repeated")
    assert found["status"] == "pass"
    assert evidence_ids(found) == [rid(missing), rid(blank)]

    again = await send(app_client, operator, "GET", "/v1/campaigns/ocm_unknown")
    assert again.status_code == 404, again.text
    found = item(await report(app_client, operator), "operator.errors.not_repeated")
    assert found["status"] == "fail"
    assert evidence_ids(found) == [rid(again)]
    assert rid(missing) in found["evidence"][0]["note"]


async def test_a_429_repeated_after_retry_after_passes(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    body = campaign_body()
    limited = await send(app_client, operator, "POST", "/v1/campaigns", body, extra=RATE_LIMITED)
    assert limited.status_code == 429, limited.text
    assert limited.headers["retry-after"] == "1"
    await asyncio.sleep(1.05)
    repeat = await ok(await send(app_client, operator, "POST", "/v1/campaigns", body))

    judged = await report(app_client, operator)

    found = item(judged, "operator.errors.retry_after")
    assert found["status"] == "pass", found
    assert evidence_ids(found) == [repeat]
    # The 429 is no refusal: neither a repeated error nor a refused campaign.
    assert item(judged, "operator.errors.not_repeated")["status"] == "not_exercised"
    assert item(judged, "operator.campaigns.valid")["status"] == "pass"


async def test_a_429_repeated_at_once_fails(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    body = campaign_body()
    limited = await send(app_client, operator, "POST", "/v1/campaigns", body, extra=RATE_LIMITED)
    assert limited.status_code == 429, limited.text
    repeat = await ok(await send(app_client, operator, "POST", "/v1/campaigns", body))

    found = item(await report(app_client, operator), "operator.errors.retry_after")

    assert found["status"] == "fail"
    assert evidence_ids(found) == [repeat]
    assert "which asked 1 s" in found["evidence"][0]["note"]


async def test_polling_faster_than_once_a_second_fails(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    cid = await campaign(app_client, operator)
    url = f"/v1/campaigns/{cid}"
    await ok(await send(app_client, operator, "GET", url))
    # A write between two reads: the second is no poll.
    await ok(await send(app_client, operator, "POST", "/v1/campaigns", campaign_body()))
    await ok(await send(app_client, operator, "GET", url))
    await asyncio.sleep(1.05)
    slow = await ok(await send(app_client, operator, "GET", url))

    found = item(await report(app_client, operator), "operator.requests.frequency")
    assert found["status"] == "pass", found
    assert evidence_ids(found) == [slow]

    fast = await ok(await send(app_client, operator, "GET", url))
    found = item(await report(app_client, operator), "operator.requests.frequency")
    assert found["status"] == "fail"
    assert evidence_ids(found) == [fast]
    assert found["detail"] == "1 of 2 repeated reads came sooner than 1 s"


# --- Campaigns & rewards -----------------------------------------------------------------


async def test_campaigns_and_rewards_created_valid_pass(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    created = await send(app_client, operator, "POST", "/v1/campaigns", campaign_body())
    cid = created.json()["data"]["id"]
    made = await send(app_client, operator, "POST", f"/v1/campaigns/{cid}/rewards", reward_body())
    await ok(made)

    judged = await report(app_client, operator)

    campaigns = item(judged, "operator.campaigns.valid")
    assert campaigns["status"] == "pass"
    assert evidence_ids(campaigns) == [rid(created)]
    assert cid in campaigns["evidence"][0]["note"]
    rewards = item(judged, "operator.rewards.valid")
    assert rewards["status"] == "pass"
    assert evidence_ids(rewards) == [rid(made)]


async def test_refused_or_already_ended_campaigns_and_rewards_fail(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    await campaign(app_client, operator)
    refused = await send(app_client, operator, "POST", "/v1/campaigns", campaign_body(name=""))
    assert refused.status_code == 400, refused.text
    ended = await send(
        app_client,
        operator,
        "POST",
        "/v1/campaigns",
        campaign_body(startTimeUtc=at(-10), endTimeUtc=at(-1)),
    )
    ended_id = ended.json()["data"]["id"]
    cid = await campaign(app_client, operator)
    url = f"/v1/campaigns/{cid}/rewards"
    bad_reward = await send(app_client, operator, "POST", url, reward_body(products=[]))
    assert bad_reward.status_code == 400, bad_reward.text
    past = await send(
        app_client, operator, "POST", url, reward_body(startTimeUtc=at(-3), endTimeUtc=at(-2))
    )
    past_id = past.json()["data"]["id"]

    judged = await report(app_client, operator)

    campaigns = item(judged, "operator.campaigns.valid")
    assert campaigns["status"] == "fail"
    assert [i for i in evidence_ids(campaigns) if i] == [rid(refused)]
    assert campaigns["evidence"][1]["object_id"] == ended_id
    assert campaigns["detail"] == (
        "1 of 4 campaign creations refused, 1 campaigns already ended when created"
    )
    rewards = item(judged, "operator.rewards.valid")
    assert rewards["status"] == "fail"
    assert [i for i in evidence_ids(rewards) if i] == [rid(bad_reward)]
    stale = rewards["evidence"][1]
    assert (stale["object_type"], stale["object_id"]) == ("reward", past_id)
    assert stale["note"] == "already ended when created"


# --- Enrollments & free bets -------------------------------------------------------------


async def test_a_lost_enrollment_sent_again_passes_enrollment_idempotency(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    found = await reward(app_client, operator)
    url = f"/v1/rewards/{found['id']}/enrollments"
    body = {"operatorPlayerId": "player-1"}
    judged = await report(app_client, operator)
    assert item(judged, "operator.enrollments.idempotent")["status"] == "not_exercised"

    lost = await send(app_client, operator, "POST", url, body, extra=LOST)
    assert lost.status_code == 504, lost.text
    again = await ok(await send(app_client, operator, "POST", url, body))

    found_item = item(await report(app_client, operator), "operator.enrollments.idempotent")
    assert found_item["status"] == "pass", found_item
    assert evidence_ids(found_item) == [rid(lost), again]


async def test_a_lost_enrollment_never_sent_again_fails(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    found = await reward(app_client, operator)
    url = f"/v1/rewards/{found['id']}/enrollments"
    lost = await send(app_client, operator, "POST", url, {"operatorPlayerId": "p"}, extra=LOST)
    assert lost.status_code == 504, lost.text
    await enrol(app_client, operator, found["id"], "another-player")

    judged = item(await report(app_client, operator), "operator.enrollments.idempotent")

    assert judged["status"] == "fail"
    assert evidence_ids(judged) == [rid(lost)]
    assert judged["detail"] == "1 of 1 lost enrollment answers not recovered"


async def test_a_lost_bet_sent_again_with_its_bet_id_passes(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    found = await reward(app_client, operator)
    enrollment = await enrol(app_client, operator, found["id"], "player-1")
    url = f"/v1/enrollments/{enrollment['id']}/bets"
    bet = {"betId": "bet-1", "product": "starburst"}
    lost = await send(app_client, operator, "POST", url, bet, extra=LOST)
    assert lost.status_code == 504, lost.text
    again = await ok(await send(app_client, operator, "POST", url, bet))
    await ok(await send(app_client, operator, "POST", url, {**bet, "betId": "bet-2"}))

    judged = await report(app_client, operator)

    bets = item(judged, "operator.bets.idempotent")
    assert bets["status"] == "pass", bets
    assert bets["kind"] == "conditional"
    assert evidence_ids(bets) == [rid(lost), again]
    left = await send(app_client, operator, "GET", f"/v1/enrollments/{enrollment['id']}")
    assert left.json()["data"]["remainingBetCount"] == 8


async def test_a_lost_bet_sent_under_a_new_bet_id_fails(
    app_client: httpx.AsyncClient, operator: Operator
) -> None:
    found = await reward(app_client, operator)
    enrollment = await enrol(app_client, operator, found["id"], "player-1")
    url = f"/v1/enrollments/{enrollment['id']}/bets"
    judged = await report(app_client, operator)
    assert item(judged, "operator.bets.idempotent")["status"] == "not_exercised"

    bet = {"betId": "bet-1", "product": "starburst"}
    lost = await send(app_client, operator, "POST", url, bet, extra=LOST)
    assert lost.status_code == 504, lost.text
    await ok(await send(app_client, operator, "POST", url, {**bet, "betId": "bet-1b"}))

    judged = await report(app_client, operator)

    bets = item(judged, "operator.bets.idempotent")
    assert bets["status"] == "fail"
    assert evidence_ids(bets) == [rid(lost)]
    assert judged["passed"] is False


# --- Bulk enrollment ---------------------------------------------------------------------


async def poll(
    http: httpx.AsyncClient, operator: Operator, url: str, *, every: float = 1.0
) -> list[httpx.Response]:
    """Read a bulk enrollment every ``every`` seconds until it ends."""
    answers = []
    for _ in range(60):
        answer = await send(http, operator, "GET", url)
        assert answer.status_code == 200, answer.text
        answers.append(answer)
        if answer.json()["data"]["status"] in ("Completed", "Failed"):
            return answers
        await asyncio.sleep(every)
    raise AssertionError(f"{url} did not end")


async def bulk(
    http: httpx.AsyncClient, operator: Operator, reward_id: str, players: list[str]
) -> tuple[httpx.Response, str]:
    url = f"/v1/rewards/{reward_id}/enrollments/bulk"
    accepted = await send(http, operator, "POST", url, {"operatorPlayerIds": players})
    assert accepted.status_code == 202, accepted.text
    return accepted, f"{url}/{accepted.json()['data']['id']}"


async def test_a_bulk_followed_to_its_end_passes_and_one_left_unread_fails(
    settings: Settings, operator: Operator
) -> None:
    async with worker_client(settings) as http:
        found = await bulk_reward(http, operator)
        judged = await report(http, operator)
        assert item(judged, "operator.bulk.followed")["status"] == "not_exercised"
        accepted, url = await bulk(http, operator, found["id"], ["p-1", "p-2", "p-3"])
        answers = await poll(http, operator, url)

        judged = await report(http, operator)
        followed = item(judged, "operator.bulk.followed")
        assert followed["status"] == "pass", followed
        assert evidence_ids(followed) == [rid(accepted), rid(answers[-1])]
        # No failure: nothing to read.
        assert item(judged, "operator.bulk.failures")["status"] == "not_exercised"
        assert item(judged, "operator.requests.frequency")["status"] == "pass"

        unread, _ = await bulk(http, operator, found["id"], ["p-4"])
        followed = item(await report(http, operator), "operator.bulk.followed")
        assert followed["status"] == "fail"
        assert evidence_ids(followed) == [rid(unread)]
        assert followed["detail"] == "1 of 2 bulk enrollments not followed to their end"


async def test_a_bulks_failed_players_enrolled_again_pass_and_dropped_fail(
    settings: Settings, operator: Operator
) -> None:
    async with worker_client(settings) as http:
        await add_fault(http, operator.client_id, "partial_failure", BULK)
        found = await bulk_reward(http, operator)
        players = ["p-1", "p-2", "p-3"]
        _, url = await bulk(http, operator, found["id"], players)
        answers = await poll(http, operator, url)
        end = answers[-1]
        assert end.json()["data"]["failedCount"] == 1, end.text

        failures = item(await report(http, operator), "operator.bulk.failures")
        assert failures["status"] == "fail"
        assert evidence_ids(failures) == [rid(end)]
        assert "failedCount 1 read" in failures["evidence"][0]["note"]

        retry, again_url = await bulk(http, operator, found["id"], players)
        retried = (await poll(http, operator, again_url))[-1].json()["data"]
        assert (retried["enrolledCount"], retried["existingCount"]) == (1, 2)

        judged = await report(http, operator)
        failures = item(judged, "operator.bulk.failures")
        assert failures["status"] == "pass", failures
        assert evidence_ids(failures) == [rid(end), rid(retry)]
        assert item(judged, "operator.bulk.followed")["status"] == "pass"


# --- The example -------------------------------------------------------------------------


@pytest.mark.slow
def test_the_operator_example_in_a_run_with_faults_passes_every_judged_item(
    deployment: Deployment,
) -> None:
    """``examples/operator_flow.py`` in a certification run with the checklist's faults (a 429,
    a lost enrollment, a lost bet, a failed player of a bulk): every automatic and conditional
    item passes; only the attested items wait for a person."""
    client_id = deployment.demo["operator"]["client_id"]
    run_id = bestow(
        deployment.env, "certify", "open", client_id, "--surface", "operator", "--faults"
    ).strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BESTOW_", "OPERATOR_"))}
    flow = subprocess.run(
        [sys.executable, str(EXAMPLE), "--base-url", deployment.base_url, "--demo-json", "-"],
        input=deployment.demo_json,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    closed = subprocess.run(
        [*servers.BESTOW, "certify", "close", client_id, run_id, "--json"],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert flow.returncode == 0, f"{flow.stdout}\n{flow.stderr}\n{deployment.logs()}"
    assert "failed player(s) enrolled by a second bulk" in flow.stdout
    assert closed.returncode == 1, closed.stderr  # the attested items are not attested
    judged = json.loads(closed.stdout)
    statuses = {i["id"]: i["status"] for i in judged["items"]}
    waiting = {k for k, v in statuses.items() if v != "pass"}
    assert waiting == {"operator.submission.backend", "operator.submission.demo"}, judged
    assert judged["summary"] == {"not_attested": 2, "pass": len(statuses) - 2}
    line = render.summary_line(judged)
    print(line)
    assert line.startswith("operator: NOT PASSED (14 items: 12 pass, 2 not attested) client ")
