"""The SDK's Operator API surface against a real ``bestow serve`` and a real ``bestow worker``
(the bulk enrollment needs one), seeded with ``bestow demo --json``, on each test database; and
its request signing and bulk splitting against a mock transport."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.fixtures.deployment import Deployment

from bestow_client import AsyncBestow, AuthenticationError, Bestow, Budget, ConflictError
from bestow_client.operator import MAX_BULK_PLAYERS, BulkEnrollment, Operator

pytestmark = pytest.mark.slow

ACTOR = "sdk-tests@example.com"
BUDGET = Budget(per_second=40, per_window=1_000_000)
"""Under the demo operator's tier (``high``: 50 a second)."""
BULK_PLAYERS = 2500


def tag() -> str:
    return uuid.uuid4().hex[:8]


def sync_client(deployment: Deployment) -> Bestow:
    return Bestow(base_url=deployment.server.base_url, app_name="sdk-tests/1", budget=BUDGET)


def operator_of(client: Bestow | AsyncBestow, deployment: Deployment, **kw: Any) -> Any:
    demo = deployment.demo["operator"]
    return client.operator(
        kw.get("operator_id", demo["operator_id"]), kw.get("key", demo["primary_shared_key"])
    )


def reward_fields(deployment: Deployment, bet_count: int = 3) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": f"{bet_count} free bets",
        "products": deployment.demo["operator"]["products"][:2],
        "start_time": now - timedelta(seconds=30),
        "end_time": now + timedelta(days=30),
        "created_by": ACTOR,
        "bet_value": "1.50",
        "bet_count": bet_count,
        "currency": "EUR",
        "operator_reference": f"SDK-FB-{tag()}",
    }


def test_the_full_flow_with_the_sync_client(deployment: Deployment) -> None:
    run = tag()
    with sync_client(deployment) as client:
        op: Operator = operator_of(client, deployment)

        campaign = op.create_campaign(
            name=f"SDK campaign {run}",
            start_time=datetime.now(UTC) - timedelta(minutes=1),
            created_by=ACTOR,
            description="made by the SDK tests",
            operator_reference=f"SDK-{run}",
        )
        assert campaign.status == "Active"
        assert campaign.operator_id == deployment.demo["operator"]["operator_id"]
        assert campaign.end_time is None and campaign.description == "made by the SDK tests"
        assert op.campaign(campaign.id) == campaign
        assert campaign.id in [c.id for c in op.campaigns()]

        reward = op.create_reward(campaign.id, **reward_fields(deployment))
        assert (reward.status, reward.details_type, reward.currency) == ("Active", "Fixed", "EUR")
        assert (reward.bet_value, reward.bet_count) == (1.5, 3)
        assert op.reward(reward.id) == reward
        assert [r.id for r in op.rewards(campaign.id)] == [reward.id]

        # Enrolling twice answers the same enrollment.
        player = f"player-{run}-0001"
        first = op.enrol(reward.id, player)
        again = op.enrol(reward.id, player, bet_value=1.5, bet_count=3)
        assert again.id == first.id
        assert (first.status, first.total_bet_count, first.remaining_bet_count) == ("New", 3, 3)

        # Bets until Completed; the first one repeated (a lost answer) uses nothing.
        product = reward.products[0]
        bet = op.place_bet(first.id, bet_id=f"bet-{run}-1", product=product)
        repeated = op.place_bet(first.id, bet_id=f"bet-{run}-1", product=product)
        assert repeated == bet and repeated.raw == bet.raw
        assert (bet.remaining_bet_count, bet.enrollment_status) == (2, "Active")
        assert op.enrollment(first.id).remaining_bet_count == 2
        for number in (2, 3):
            bet = op.place_bet(first.id, bet_id=f"bet-{run}-{number}", product=product)
        assert (bet.remaining_bet_count, bet.enrollment_status) == (0, "Completed")
        with pytest.raises(ConflictError) as refused:
            op.place_bet(first.id, bet_id=f"bet-{run}-4", product=product)
        assert (refused.value.status_code, refused.value.code) == (409, "Conflict")
        assert [b.bet_id for b in op.bets(first.id)] == [f"bet-{run}-{n}" for n in (1, 2, 3)]
        assert op.enrollment(first.id).status == "Completed"

        # A bulk of 2,500, the enrolled player among them, waited until Completed.
        players = [f"player-{run}-{n:04d}" for n in range(1, BULK_PLAYERS + 1)]
        [bulk] = op.enrol_bulk(reward.id, players, created_by=ACTOR)
        assert bulk.total_count == BULK_PLAYERS and bulk.status in ("Pending", "Processing")
        seen: list[BulkEnrollment] = []
        done = op.wait_bulk(bulk, timeout=60, on_progress=seen.append)
        assert seen and seen[-1] == done
        assert (done.status, done.processed_count) == ("Completed", BULK_PLAYERS)
        assert (done.enrolled_count, done.existing_count, done.failed_count) == (
            BULK_PLAYERS - 1,
            1,
            0,
        )
        assert op.bulk(reward.id, bulk.id) == done

        # Listing, 1,000 a page: every player once, oldest first; filters.
        listed = op.enrollments(reward_id=reward.id)
        assert len(listed) == BULK_PLAYERS == len({e.id for e in listed})
        assert {e.player_id for e in listed} == set(players)
        assert listed[0].id == first.id
        news = op.enrollments(reward_id=reward.id, status="New")
        assert len(news) == BULK_PLAYERS - 1
        [mine] = op.enrollments(player_id=player)
        assert mine.id == first.id and mine.status == "Completed"

        # Cancelling an enrollment; then the campaign, cascading to its reward and the rest.
        op.cancel_enrollment(listed[1].id, cancelled_by=ACTOR)
        assert op.enrollment(listed[1].id).status == "Cancelled"
        with pytest.raises(ConflictError):
            op.cancel_enrollment(listed[1].id, cancelled_by=ACTOR)
        op.cancel_campaign(campaign.id, cancelled_by=ACTOR)
        assert op.campaign(campaign.id).status == "Cancelled"
        cancelled = op.reward(reward.id)
        assert (cancelled.status, cancelled.cancelled_by) == ("Cancelled", ACTOR)
        assert op.enrollment(listed[2].id).status == "Cancelled"
        assert op.enrollment(first.id).status == "Completed"
        with pytest.raises(ConflictError) as again_refused:
            op.cancel_campaign(campaign.id, cancelled_by=ACTOR)
        assert again_refused.value.code == "Conflict"
        with pytest.raises(ConflictError):
            op.enrol(reward.id, f"player-{run}-late")


async def test_the_flow_with_the_async_client(deployment: Deployment) -> None:
    run = tag()
    async with AsyncBestow(
        base_url=deployment.server.base_url, app_name="sdk-tests/1", budget=BUDGET
    ) as client:
        op = operator_of(client, deployment)
        start = datetime.now(UTC) - timedelta(minutes=1)
        campaign = await op.create_campaign(
            name=f"SDK async {run}", start_time=start, created_by=ACTOR
        )
        assert (await op.campaign(campaign.id)).name == f"SDK async {run}"
        reward = await op.create_reward(campaign.id, **reward_fields(deployment, bet_count=2))
        ranged = await op.create_ranged_reward(
            campaign.id,
            name="ranged",
            products=reward.products,
            start_time=start,
            end_time=datetime.now(UTC) + timedelta(days=1),
            created_by=ACTOR,
            min_bet_value="0.10",
            max_bet_value=2,
            min_bet_count=1,
            max_bet_count=20,
            currency="EUR",
        )
        assert ranged.details_type == "Ranged" and ranged.bet_value is None
        assert [r.id for r in await op.rewards(campaign.id)] == [reward.id, ranged.id]
        picked = await op.enrol(ranged.id, f"p-{run}", bet_value="0.25", bet_count=5)
        assert (picked.bet_value, picked.total_bet_count) == (0.25, 5)

        player = f"player-{run}"
        first = await op.enrol(reward.id, player)
        assert (await op.enrol(reward.id, player)).id == first.id
        product = reward.products[-1]
        bet = await op.place_bet(first.id, bet_id=f"b-{run}-1", product=product)
        assert await op.place_bet(first.id, bet_id=f"b-{run}-1", product=product) == bet
        with pytest.raises(ConflictError) as other_product:
            await op.place_bet(first.id, bet_id=f"b-{run}-1", product=reward.products[0])
        assert other_product.value.code == "Conflict"
        last = await op.place_bet(first.id, bet_id=f"b-{run}-2", product=product)
        assert (last.remaining_bet_count, last.enrollment_status) == (0, "Completed")

        players = [f"player-{run}-{n}" for n in range(1200)]
        [bulk] = await op.enrol_bulk(reward.id, players)
        done = await op.wait_bulk(bulk, timeout=60)
        assert (done.status, done.enrolled_count) == ("Completed", 1200)
        listed = await op.enrollments(reward_id=reward.id)
        assert len(listed) == 1201 and listed[0].id == first.id

        await op.cancel_reward(reward.id, cancelled_by=ACTOR)
        assert (await op.reward(reward.id)).status == "Cancelled"
        assert (await op.enrollment(listed[-1].id)).status == "Cancelled"
        with pytest.raises(ConflictError):
            await op.cancel_reward(reward.id, cancelled_by=ACTOR)
        await op.cancel_campaign(campaign.id, cancelled_by=ACTOR)
        assert (await op.reward(ranged.id)).status == "Cancelled"


def test_a_query_string_is_signed_as_sent(deployment: Deployment) -> None:
    """Characters that need percent-encoding in the query: the hash covers the URL sent."""
    with sync_client(deployment) as client:
        op: Operator = operator_of(client, deployment)
        reward_id = deployment.demo["operator"]["reward_id"]
        odd = f"pl ayer/{tag()}&x=ü+1?"
        enrolled = op.enrol(reward_id, odd)
        assert enrolled.player_id == odd
        assert [e.id for e in op.enrollments(player_id=odd)] == [enrolled.id]
        assert [e.id for e in op.enrollments(reward_id=reward_id, player_id=odd)] == [enrolled.id]
        op.cancel_enrollment(enrolled.id, cancelled_by=ACTOR)


def test_the_secondary_key_signs_and_a_wrong_key_is_refused(deployment: Deployment) -> None:
    demo = deployment.demo["operator"]
    with sync_client(deployment) as client:
        secondary = operator_of(client, deployment, key=demo["secondary_shared_key"])
        assert demo["campaign_id"] in [c.id for c in secondary.campaigns()]

        wrong = operator_of(client, deployment, key="opk_wrong")
        with pytest.raises(AuthenticationError) as refused:
            wrong.campaigns()
        assert (refused.value.status_code, refused.value.code) == (401, "Unauthorized")
        assert "does not match" in (refused.value.message or "")
        unknown = operator_of(client, deployment, operator_id=999_999_999)
        with pytest.raises(AuthenticationError):
            unknown.campaign(demo["campaign_id"])


async def test_a_wrong_key_is_refused_on_the_async_client(deployment: Deployment) -> None:
    async with AsyncBestow(base_url=deployment.server.base_url, budget=BUDGET) as client:
        wrong = operator_of(client, deployment, key="opk_wrong")
        with pytest.raises(AuthenticationError) as refused:
            await wrong.enrol(deployment.demo["operator"]["reward_id"], "nobody")
        assert refused.value.code == "Unauthorized"


def test_credentials_come_from_the_environment(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = deployment.demo["operator"]
    monkeypatch.setenv("BESTOW_OPERATOR_ID", str(demo["operator_id"]))
    monkeypatch.setenv("BESTOW_OPERATOR_SHARED_KEY", demo["primary_shared_key"])
    with sync_client(deployment) as client:
        reward = client.operator().reward(demo["reward_id"])
        assert reward.name == "Ten free spins" and reward.bet_count == 10
        monkeypatch.setenv("BESTOW_OPERATOR_ID", "not-a-number")
        with pytest.raises(ValueError, match="operator_id must be an integer"):
            client.operator()
        monkeypatch.delenv("BESTOW_OPERATOR_SHARED_KEY")
        with pytest.raises(ValueError, match="BESTOW_OPERATOR_SHARED_KEY"):
            client.operator(operator_id=1)


def test_bulks_over_10000_players_are_split_and_every_request_is_signed() -> None:
    """Against a mock transport that checks each request's hash the documented way."""
    key, seen = "opk_test", []

    def handler(request: httpx.Request) -> httpx.Response:
        url = request.url.raw_path.decode()
        expected = hashlib.sha256(key.encode() + url.rstrip("/").encode() + request.content)
        assert request.headers["x-auth-request-hash"] == expected.hexdigest()
        assert request.headers["x-auth-operator-id"] == "7"
        assert request.headers["content-type"] == "application/json"
        assert b", " not in request.content and b": " not in request.content  # compact
        body = json.loads(request.content)
        seen.append(body)
        count = len(body["operatorPlayerIds"])
        data = {
            "id": f"obe_{len(seen)}",
            "rewardId": "orw_1",
            "status": "Pending",
            "totalCount": count,
            "processedCount": 0,
            "enrolledCount": 0,
            "existingCount": 0,
            "failedCount": 0,
        }
        return httpx.Response(202, json={"message": "OK", "data": data, "responseCode": "OK"})

    http = httpx.Client(base_url="http://bestow.test", transport=httpx.MockTransport(handler))
    with Bestow(base_url="http://bestow.test", budget=BUDGET, http_client=http) as client:
        players = [f"p{n}" for n in range(2 * MAX_BULK_PLAYERS + 1)]
        bulks = client.operator(7, key).enrol_bulk("orw_1", players, bet_count=2)
    assert [b.total_count for b in bulks] == [MAX_BULK_PLAYERS, MAX_BULK_PLAYERS, 1]
    assert [b.id for b in bulks] == ["obe_1", "obe_2", "obe_3"]
    assert [p for body in seen for p in body["operatorPlayerIds"]] == players
    assert all(body["betCount"] == 2 and "betValue" not in body for body in seen)
