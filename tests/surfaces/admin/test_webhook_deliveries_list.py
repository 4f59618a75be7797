"""Admin API: ``GET /admin/webhook_deliveries``, the deliveries of every endpoint: newest first,
cursor pages, each filter, the attempts each delivery shows, the per-endpoint list unchanged
beside it, refusals naming the field and the admin token. On each test database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from tests.fixtures.receiver import Received, Receiver
from tests.surfaces.admin.helpers import ADMIN, assert_problem, new_client
from tests.webhooks.helpers import dispatching, emit, poll, settle
from tests.webhooks.seeded import HTTP_500, OK, TIMEOUT, Spec, seed

pytestmark = pytest.mark.asyncio

PATH = "/admin/webhook_deliveries"
URL = "http://127.0.0.1:9/hooks"
"""An endpoint URL for tests that never send (nothing listens on the discard port)."""

PER_ENDPOINT_FIELDS = {
    "id",
    "endpoint_id",
    "event_id",
    "event_type",
    "state",
    "origin",
    "attempt_count",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "created_at",
    "updated_at",
    "delivered_at",
}


async def endpoint(client: httpx.AsyncClient, client_id: str, url: str = URL, **fields: Any) -> str:
    response = await client.post(
        f"/admin/clients/{client_id}/webhook_endpoints", json={"url": url, **fields}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    endpoint_id: str = response.json()["id"]
    return endpoint_id


async def listed(client: httpx.AsyncClient, path: str = PATH, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [item["id"] for item in (await listed(client, **params))["data"]]


async def test_every_endpoints_deliveries_are_listed_newest_first_with_their_attempts(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    first = await endpoint(app_client, client_id)
    second = await endpoint(app_client, client_id)
    retried, waiting, given_up = await seed(
        runtime,
        Spec(first, client_id, tries=(HTTP_500, TIMEOUT, OK)),
        Spec(second, client_id, state="pending"),
        Spec(second, client_id, "reward.revoked", state="failed", tries=(HTTP_500,)),
    )

    page = await listed(app_client, client_id=client_id)

    assert page["next_cursor"] is None
    items = page["data"]
    assert [i["id"] for i in items] == [given_up, waiting, retried]
    by_id = {i["id"]: i for i in items}
    assert {i["client_id"] for i in items} == {client_id}
    assert [by_id[d]["endpoint_id"] for d in (retried, waiting, given_up)] == [
        first,
        second,
        second,
    ]
    assert by_id[retried]["state"] == "succeeded"
    assert (by_id[retried]["attempt_count"], by_id[retried]["failed_attempts"]) == (3, 2)
    last = by_id[retried]["last_attempt"]
    assert {k: v for k, v in last.items() if k != "created_at"} == {
        "attempt": 3,
        "origin": "schedule",
        "success": True,
        "status_code": 200,
        "error": None,
        "latency_ms": 12,
    }
    assert by_id[waiting]["state"] == "pending"
    assert by_id[waiting]["next_attempt_at"] is not None
    assert (by_id[waiting]["failed_attempts"], by_id[waiting]["last_attempt"]) == (0, None)
    assert by_id[given_up]["event_type"] == "reward.revoked"
    assert by_id[given_up]["next_attempt_at"] is None
    assert by_id[given_up]["failed_attempts"] == 1
    assert by_id[given_up]["last_attempt"]["status_code"] == 500
    assert by_id[given_up]["last_attempt"]["error"] == "HTTP 500"
    assert by_id[given_up]["last_attempt"]["latency_ms"] == 40
    # The per-endpoint list's fields, with the same values, then the list's own.
    assert set(items[0]) == PER_ENDPOINT_FIELDS | {"client_id", "failed_attempts", "last_attempt"}
    for endpoint_id in (first, second):
        own = await listed(app_client, f"/admin/webhook_endpoints/{endpoint_id}/deliveries")
        for item in own["data"]:
            assert {k: by_id[item["id"]][k] for k in item} == item


async def test_the_per_endpoint_list_still_answers_oldest_first_in_its_own_shape(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = await endpoint(app_client, client_id)
    older, newer, failed = await seed(
        runtime,
        Spec(endpoint_id, client_id, tries=(OK,)),
        Spec(endpoint_id, client_id, tries=(OK,)),
        Spec(endpoint_id, client_id, state="failed", tries=(HTTP_500,)),
    )
    path = f"/admin/webhook_endpoints/{endpoint_id}/deliveries"

    every = await listed(app_client, path)
    first_page = await listed(app_client, path, limit=2)
    failed_only = await listed(app_client, path, state="failed")

    assert [i["id"] for i in every["data"]] == [older, newer, failed]
    assert all(set(item) == PER_ENDPOINT_FIELDS for item in every["data"])
    assert [i["id"] for i in first_page["data"]] == [older, newer]
    assert first_page["next_cursor"] is not None
    assert [i["id"] for i in failed_only["data"]] == [failed]


async def test_each_filter_keeps_only_its_deliveries(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    mine = (await new_client(app_client))["id"]
    other = (await new_client(app_client))["id"]
    a = await endpoint(app_client, mine)
    b = await endpoint(app_client, mine)
    c = await endpoint(app_client, other)
    issued, revoked, replayed, delayed, resent, pending, elsewhere = await seed(
        runtime,
        Spec(a, mine, tries=(OK,)),
        Spec(a, mine, "reward.revoked", state="failed", tries=(HTTP_500, TIMEOUT)),
        Spec(b, mine, state="succeeded", origin="replay", tries=(HTTP_500, OK)),
        Spec(b, mine, "reward_batch.completed", origin="chaos:delay", tries=(OK,)),
        Spec(b, mine, state="pending", origin="chaos:resend", tries=(OK,)),
        Spec(b, mine, state="pending"),
        Spec(c, other, tries=(HTTP_500, OK)),
    )
    all_mine = [pending, resent, delayed, replayed, revoked, issued]
    event_of = {
        item["id"]: item["event_id"] for item in (await listed(app_client, client_id=mine))["data"]
    }

    assert await ids(app_client, client_id=mine) == all_mine
    assert await ids(app_client, client_id=other) == [elsewhere]
    assert await ids(app_client, endpoint_id=a) == [revoked, issued]
    assert await ids(app_client, endpoint_id=c) == [elsewhere]
    assert await ids(app_client, endpoint_id="ep_unknown") == []
    assert await ids(app_client, event_id=event_of[delayed]) == [delayed]
    assert await ids(app_client, client_id=mine, event_type="reward.revoked") == [revoked]
    assert await ids(app_client, client_id=mine, event_type="reward_batch.completed") == [delayed]
    assert await ids(app_client, client_id=mine, state="pending") == [pending, resent]
    assert await ids(app_client, client_id=mine, state="failed") == [revoked]
    assert await ids(app_client, client_id=mine, state="succeeded") == [
        delayed,
        replayed,
        issued,
    ]
    assert await ids(app_client, client_id=mine, origin="replay") == [replayed]
    assert await ids(app_client, client_id=mine, origin="chaos:delay") == [delayed]
    assert await ids(app_client, client_id=mine, origin="chaos:*") == [resent, delayed]
    assert await ids(app_client, client_id=mine, origin="chaos") == []
    assert await ids(app_client, client_id=mine, origin="schedule") == [pending, revoked, issued]
    assert await ids(app_client, client_id=mine, with_failures="true") == [replayed, revoked]
    assert await ids(app_client, client_id=mine, with_failures="false") == [
        pending,
        resent,
        delayed,
        issued,
    ]
    assert await ids(app_client, endpoint_id=b, state="succeeded", with_failures=True) == [replayed]
    assert await ids(app_client, client_id=other, endpoint_id=a) == []


async def test_since_and_until_select_by_creation_time_read_as_utc(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = await endpoint(app_client, client_id)

    def hour(h: int) -> datetime:
        return datetime(2026, 1, 1, h, tzinfo=UTC)

    ten, eleven, twelve = await seed(
        runtime,
        Spec(endpoint_id, client_id, created_at=hour(10)),
        Spec(endpoint_id, client_id, created_at=hour(11)),
        Spec(endpoint_id, client_id, created_at=hour(12)),
    )

    def window(**params: str) -> Any:
        return ids(app_client, client_id=client_id, **params)

    assert await window(since="2026-01-01T11:00:00Z") == [twelve, eleven]
    assert await window(since="2026-01-01T11:00:00") == [twelve, eleven]
    assert await window(since="2026-01-01T12:00:00+01:00") == [twelve, eleven]
    assert await window(until="2026-01-01T11:00:00Z") == [ten]
    assert await window(since="2026-01-01T10:30:00Z", until="2026-01-01T12:00:00Z") == [eleven]
    assert await window(since="2026-01-01T12:00:01Z") == []


async def test_pages_follow_each_other_without_overlap_and_the_last_has_no_cursor(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = await endpoint(app_client, client_id)
    made = await seed(runtime, *(Spec(endpoint_id, client_id) for _ in range(5)))

    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"client_id": client_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await listed(app_client, **params)
        pages.append([item["id"] for item in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [made[4:2:-1], made[2:0:-1], made[:1]]
    filtered = await listed(app_client, client_id=client_id, state="pending", limit=1)
    assert filtered == {"data": [], "next_cursor": None}


async def test_a_real_send_shows_each_endpoints_last_attempt(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    client_id = (await new_client(app_client))["id"]

    def respond(request: Received) -> tuple[int, bytes] | None:
        return (503, b"down") if request.path.endswith("/down") else None

    async with Receiver() as receiver:
        receiver.respond = respond
        up = await endpoint(app_client, client_id, f"{receiver.url}/up", max_attempts=1)
        down = await endpoint(app_client, client_id, f"{receiver.url}/down", max_attempts=1)
        event_id = await emit(runtime, client_id)

        async def both_settled() -> list[dict[str, Any]] | None:
            items = (await listed(app_client, client_id=client_id))["data"]
            done = [i for i in items if i["state"] != "pending"]
            return items if len(done) == 2 else None

        async with dispatching(runtime, settings):
            items = await poll(both_settled, "two settled deliveries")
        failing = await listed(app_client, client_id=client_id, with_failures="true")
        for endpoint_id in (up, down):
            await settle(runtime, endpoint_id)

    by_endpoint = {i["endpoint_id"]: i for i in items}
    assert set(by_endpoint) == {up, down}
    assert {i["event_id"] for i in items} == {event_id}
    assert (by_endpoint[up]["state"], by_endpoint[down]["state"]) == ("succeeded", "failed")
    assert by_endpoint[up]["last_attempt"]["status_code"] == 200
    assert by_endpoint[up]["last_attempt"]["success"] is True
    assert by_endpoint[up]["failed_attempts"] == 0
    assert by_endpoint[down]["last_attempt"]["status_code"] == 503
    assert by_endpoint[down]["last_attempt"]["error"] == "HTTP 503"
    assert by_endpoint[down]["failed_attempts"] == 1
    for item in items:
        assert item["attempt_count"] == 1
        assert item["last_attempt"]["latency_ms"] >= 0
    assert [i["endpoint_id"] for i in failing["data"]] == [down]


BAD_FILTERS: list[tuple[dict[str, Any], str, str]] = [
    ({"state": "lost"}, "state", "state"),
    ({"origin": "chaos*:"}, "origin", "origin"),
    ({"origin": "Chaos"}, "origin", "origin"),
    ({"event_type": "reward.exploded"}, "event_type", "unknown event type: reward.exploded"),
    ({"with_failures": "maybe"}, "with_failures", "with_failures"),
    ({"since": "yesterday"}, "since", "since"),
    ({"until": "2026-13-01"}, "until", "until"),
    (
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        "until",
        "until must be later than since",
    ),
    ({"cursor": "not-a-cursor"}, "cursor", "cursor is not one this API returned"),
    ({"limit": 0}, "limit", "limit"),
    ({"limit": 501}, "limit", "limit"),
    ({"client_id": "c" * 41}, "client_id", "client_id"),
]


async def test_a_bad_filter_is_a_400_problem_naming_the_field(
    app_client: httpx.AsyncClient,
) -> None:
    for params, field, detail in BAD_FILTERS:
        response = await app_client.get(PATH, params=params, headers=ADMIN)

        assert_problem(response, 400, detail)
        assert response.json()["field"] == field, params


async def test_the_list_needs_the_admin_token(app_client: httpx.AsyncClient) -> None:
    missing = await app_client.get(PATH)
    wrong = await app_client.get(PATH, headers={"Authorization": "Bearer not-the-token"})

    assert_problem(missing, 401, "admin bearer token is required")
    assert_problem(wrong, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
