"""Operator API statuses over time (the application's clock moved), the cancel cascades from a
campaign and from a reward down to enrollments, and the outbox events they record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bestow.deps import Runtime
from bestow.models import OutboxEvent
from tests.operator.helpers import (
    FIXED,
    Operator,
    bet,
    call,
    campaign,
    create,
    enrol,
    get,
    iso,
    listed,
    make_operator,
    now,
    set_clock,
)


@pytest.fixture
async def operator(runtime: Runtime) -> Operator:
    return await make_operator(runtime)


async def status_of(http: httpx.AsyncClient, operator: Operator, url: str) -> str:
    response = await call(http, operator, "GET", url)
    assert response.status_code == 200, response.text
    status: str = response.json()["data"]["status"]
    return status


async def cancel(
    http: httpx.AsyncClient, operator: Operator, url: str, by: str = "boss@example.com"
) -> httpx.Response:
    return await call(http, operator, "POST", url, {"cancelledBy": by})


async def events(http: httpx.AsyncClient, client_id: str) -> list[OutboxEvent]:
    runtime: Runtime = http.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.client_id == client_id)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return list(rows)


def stamp(days: float) -> str:
    return iso(now() + timedelta(days=days))


async def test_status_over_time(app_client: httpx.AsyncClient, operator: Operator) -> None:
    start = now()
    campaign_id = await campaign(app_client, operator, startTimeUtc=stamp(1), endTimeUtc=stamp(10))
    details = {**FIXED, "betCount": 3}
    found = await create(
        app_client,
        operator,
        campaign_id,
        startTimeUtc=stamp(2),
        endTimeUtc=stamp(5),
        freeBetDetails=details,
    )
    campaign_url, reward_url = f"/v1/campaigns/{campaign_id}", f"/v1/rewards/{found['id']}"
    idle = await enrol(app_client, operator, found["id"], "idle")
    player = await enrol(app_client, operator, found["id"], "player")
    assert await status_of(app_client, operator, campaign_url) == "Scheduled"
    assert await status_of(app_client, operator, reward_url) == "Scheduled"
    assert (await get(app_client, operator, idle["id"]))["status"] == "New"

    set_clock(app_client, start + timedelta(days=1, hours=12))
    assert await status_of(app_client, operator, campaign_url) == "Active"
    assert await status_of(app_client, operator, reward_url) == "Scheduled"

    set_clock(app_client, start + timedelta(days=3))
    assert await status_of(app_client, operator, campaign_url) == "Active"
    assert await status_of(app_client, operator, reward_url) == "Active"
    assert (await bet(app_client, operator, player["id"], "b1")).status_code == 200
    assert (await get(app_client, operator, player["id"]))["status"] == "Active"
    assert (await get(app_client, operator, idle["id"]))["status"] == "New"

    set_clock(app_client, start + timedelta(days=6))
    assert await status_of(app_client, operator, campaign_url) == "Active"
    assert await status_of(app_client, operator, reward_url) == "Ended"
    for enrollment in (idle, player):
        data = await get(app_client, operator, enrollment["id"])
        assert data["status"] == "Expired"
        assert data["cancelledAtUtc"] is None
    url = f"/v1/rewards/{found['id']}/enrollments"
    assert await listed(app_client, operator, url + "?status=Expired") == ["idle", "player"]
    assert await listed(app_client, operator, url + "?status=New") == []
    assert await listed(app_client, operator, url + "?status=Active") == []
    across = "/v1/enrollments?operatorPlayerId=idle&status=Expired"
    assert await listed(app_client, operator, across) == ["idle"]
    response = await bet(app_client, operator, idle["id"], "late")
    assert response.status_code == 409, response.text
    assert "Expired" in response.json()["message"]
    # A repeat of the bet used in time still answers it.
    assert (await bet(app_client, operator, player["id"], "b1")).status_code == 200
    response = await cancel(app_client, operator, f"/v1/enrollments/{idle['id']}/cancel")
    assert response.status_code == 409, response.text
    assert "Expired" in response.json()["message"]
    response = await call(app_client, operator, "POST", url, {"operatorPlayerId": "newcomer"})
    assert response.status_code == 409, response.text
    assert "Ended" in response.json()["message"]
    data = await get(app_client, operator, player["id"])
    assert (data["status"], data["remainingBetCount"]) == ("Expired", 2)

    set_clock(app_client, start + timedelta(days=11))
    assert await status_of(app_client, operator, campaign_url) == "Ended"
    response = await cancel(app_client, operator, f"{campaign_url}/cancel")
    assert response.status_code == 409, response.text
    assert "Ended" in response.json()["message"]
    # Back in time, the stored statuses were never changed: the enrollment is New again.
    set_clock(app_client, start + timedelta(days=3))
    assert (await get(app_client, operator, idle["id"]))["status"] == "New"


async def test_campaign_cancel_cascades(app_client: httpx.AsyncClient, operator: Operator) -> None:
    start = now()
    set_clock(app_client, start)
    campaign_id = await campaign(app_client, operator, operatorReference="CMP-9")
    kept = await campaign(app_client, operator)
    details = {**FIXED, "betCount": 2}
    active = await create(app_client, operator, campaign_id, freeBetDetails=details)
    scheduled = await create(app_client, operator, campaign_id, startTimeUtc=stamp(3))
    ending = await create(
        app_client, operator, campaign_id, startTimeUtc=stamp(-1), endTimeUtc=stamp(1)
    )
    elsewhere = await create(app_client, operator, kept)
    fresh = await enrol(app_client, operator, active["id"], "fresh")
    playing = await enrol(app_client, operator, active["id"], "playing")
    done = await enrol(app_client, operator, active["id"], "done")
    early = await enrol(app_client, operator, scheduled["id"], "early")
    expiring = await enrol(app_client, operator, ending["id"], "expiring")
    other = await enrol(app_client, operator, elsewhere["id"], "other")
    assert (await bet(app_client, operator, playing["id"], "p1")).status_code == 200
    for bet_id in ("d1", "d2"):
        assert (await bet(app_client, operator, done["id"], bet_id)).status_code == 200

    moment = start + timedelta(days=2)
    set_clock(app_client, moment)
    response = await cancel(app_client, operator, f"/v1/campaigns/{campaign_id}/cancel")
    assert response.status_code == 200, response.text

    for enrollment in (fresh, playing, early):
        data = await get(app_client, operator, enrollment["id"])
        assert data["status"] == "Cancelled", data
        assert data["cancelledBy"] == "boss@example.com"
        assert data["cancelledAtUtc"] == iso(moment)
        assert data["updatedAtUtc"] == iso(moment)
    assert (await get(app_client, operator, playing["id"]))["remainingBetCount"] == 1
    data = await get(app_client, operator, done["id"])
    assert (data["status"], data["cancelledBy"]) == ("Completed", None)
    data = await get(app_client, operator, expiring["id"])
    assert (data["status"], data["cancelledBy"], data["cancelledAtUtc"]) == (
        "Expired",
        None,
        None,
    )
    data = await get(app_client, operator, other["id"])
    assert (data["status"], data["cancelledBy"]) == ("New", None)
    for found in (active, scheduled):
        assert await status_of(app_client, operator, f"/v1/rewards/{found['id']}") == "Cancelled"
    assert await status_of(app_client, operator, f"/v1/rewards/{ending['id']}") == "Ended"
    assert await status_of(app_client, operator, f"/v1/rewards/{elsewhere['id']}") == "Active"
    response = await bet(app_client, operator, fresh["id"], "after")
    assert response.status_code == 409, response.text
    url = f"/v1/rewards/{active['id']}/enrollments"
    assert await listed(app_client, operator, url + "?status=Cancelled") == ["fresh", "playing"]

    [cancelled] = [
        e for e in await events(app_client, operator.client_id) if e.type == "campaign.cancelled"
    ]
    assert cancelled.subject_id == campaign_id
    assert cancelled.payload["event"] == "campaign.cancelled"
    assert cancelled.payload["data"] == {
        "campaignId": campaign_id,
        "operatorReference": "CMP-9",
        "cancelledAtUtc": iso(moment),
        "cancelledBy": "boss@example.com",
        "cancelledRewardCount": 2,
        "cancelledEnrollmentCount": 3,
    }


async def test_reward_cancel_cascades(app_client: httpx.AsyncClient, operator: Operator) -> None:
    campaign_id = await campaign(app_client, operator)
    found = await create(app_client, operator, campaign_id, freeBetDetails={**FIXED, "betCount": 1})
    sibling = await create(app_client, operator, campaign_id)
    fresh = await enrol(app_client, operator, found["id"], "fresh")
    done = await enrol(app_client, operator, found["id"], "done")
    other = await enrol(app_client, operator, sibling["id"], "fresh")
    assert (await bet(app_client, operator, done["id"], "d1")).status_code == 200
    moment = now() + timedelta(hours=1)
    set_clock(app_client, moment)
    response = await cancel(app_client, operator, f"/v1/rewards/{found['id']}/cancel", "r@x.io")
    assert response.status_code == 200, response.text
    data = await get(app_client, operator, fresh["id"])
    assert (data["status"], data["cancelledBy"], data["cancelledAtUtc"]) == (
        "Cancelled",
        "r@x.io",
        iso(moment),
    )
    assert (await get(app_client, operator, done["id"]))["status"] == "Completed"
    assert (await get(app_client, operator, other["id"]))["status"] == "New"
    response = await bet(app_client, operator, fresh["id"], "late")
    assert response.status_code == 409, response.text
    assert "Cancelled" in response.json()["message"]
    assert await status_of(app_client, operator, f"/v1/campaigns/{campaign_id}") == "Active"
    # Cancelling a reward records no campaign.cancelled event.
    types = {e.type for e in await events(app_client, operator.client_id)}
    assert "campaign.cancelled" not in types


async def test_events(app_client: httpx.AsyncClient, operator: Operator, runtime: Runtime) -> None:
    bystander = await make_operator(runtime)
    campaign_id = await campaign(app_client, operator)
    found = await create(app_client, operator, campaign_id, freeBetDetails={**FIXED, "betCount": 2})
    first = await enrol(app_client, operator, found["id"], "first")
    second = await enrol(app_client, operator, found["id"], "second")
    assert await enrol(app_client, operator, found["id"], "first") == first  # no second event
    for bet_id in ("b1", "b2"):
        assert (await bet(app_client, operator, first["id"], bet_id)).status_code == 200
    assert (await bet(app_client, operator, first["id"], "b2")).status_code == 200  # a repeat
    assert (await bet(app_client, operator, second["id"], "s1")).status_code == 200
    response = await cancel(app_client, operator, f"/v1/campaigns/{campaign_id}/cancel")
    assert response.status_code == 200, response.text

    recorded = await events(app_client, operator.client_id)
    by_type: dict[str, list[OutboxEvent]] = {}
    for event in recorded:
        by_type.setdefault(event.type, []).append(event)
    assert set(by_type) == {"freebets.enrolled", "freebets.completed", "campaign.cancelled"}
    enrolled = {e.subject_id: e for e in by_type["freebets.enrolled"]}
    assert len(by_type["freebets.enrolled"]) == 2
    assert set(enrolled) == {first["id"], second["id"]}
    for enrollment in (first, second):
        event = enrolled[enrollment["id"]]
        assert event.subject_type == "enrollment"
        assert event.payload["event"] == "freebets.enrolled"
        assert event.payload["data"] == enrollment
    [completed] = by_type["freebets.completed"]
    assert completed.subject_id == first["id"]
    data: dict[str, Any] = completed.payload["data"]
    assert (data["status"], data["remainingBetCount"]) == ("Completed", 0)
    assert data["completedAtUtc"] is not None
    assert data["operatorPlayerId"] == "first"
    [cancelled] = by_type["campaign.cancelled"]
    assert cancelled.subject_id == campaign_id
    assert cancelled.payload["data"]["cancelledRewardCount"] == 1
    assert cancelled.payload["data"]["cancelledEnrollmentCount"] == 1
    assert await events(app_client, bystander.client_id) == []
