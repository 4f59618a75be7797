"""Admin API for webhooks: endpoints (secret shown once, partial updates, rotation), deliveries and
attempts of real sends, replays, the event type catalogue, errors as problem+json, the audit trail
and the production URL rules. On each test database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import app_on, make_settings
from tests.fixtures.receiver import Received, Receiver
from tests.surfaces.admin.helpers import ADMIN, assert_problem, new_client
from tests.webhooks.helpers import dispatching, emit, poll

pytestmark = pytest.mark.asyncio

T = TypeVar("T")

INVALID = 400
"""The Admin API's status for a request that breaks a rule (validation or domain), as for every
other Admin API resource (docs/decisions.md: "Out-of-range values are a 400")."""

ALL_EVENT_TYPES = [
    "reward.issued",
    "reward.revoked",
    "reward_batch.completed",
    "reward_batch.revoked",
]
RECEIVER_URL = "http://127.0.0.1:9/hooks"
"""An endpoint URL for tests that never send (nothing listens on the discard port)."""


# Helpers ------------------------------------------------------------------------------------


async def create(
    client: httpx.AsyncClient, client_id: str, url: str = RECEIVER_URL, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/admin/clients/{client_id}/webhook_endpoints", json={"url": url, **fields}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def patch(client: httpx.AsyncClient, endpoint_id: str, body: dict[str, Any]) -> Any:
    response = await client.patch(
        f"/admin/webhook_endpoints/{endpoint_id}", json=body, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return response.json()


async def rotate(client: httpx.AsyncClient, endpoint_id: str, **body: Any) -> httpx.Response:
    return await client.post(
        f"/admin/webhook_endpoints/{endpoint_id}/rotate_secret",
        json=body or None,
        headers=ADMIN,
    )


async def replay(client: httpx.AsyncClient, endpoint_id: str, body: dict[str, Any]) -> Any:
    return await client.post(
        f"/admin/webhook_endpoints/{endpoint_id}/replay", json=body, headers=ADMIN
    )


async def audit_entries(client: httpx.AsyncClient, endpoint_id: str) -> httpx.Response:
    response = await client.get(
        "/admin/audit",
        params={"target_type": "webhook_endpoint", "target_id": endpoint_id, "limit": 500},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    return response


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def settled(
    client: httpx.AsyncClient,
    endpoint_id: str,
    count: int,
    *,
    origin: str | None = None,
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """The endpoint's deliveries once ``count`` of them are done (succeeded or failed) and none is
    pending; with ``origin``, once that many are done with that origin."""

    async def check() -> list[dict[str, Any]] | None:
        page = await get(client, f"/admin/webhook_endpoints/{endpoint_id}/deliveries", limit=500)
        rows: list[dict[str, Any]] = page["data"]
        done = [
            r for r in rows if r["state"] != "pending" and (origin is None or r["origin"] == origin)
        ]
        pending = [r for r in rows if r["state"] == "pending"]
        return rows if len(done) >= count and not pending else None

    return await poll(check, f"{count} settled deliveries to {endpoint_id}", timeout=timeout)


async def give_up(runtime: Runtime, endpoint_id: str) -> None:
    """Fail the endpoint's pending deliveries, so no later dispatcher sends to a receiver gone."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
            .values(state="failed", last_error="given up by the test")
        )
        await session.commit()


@asynccontextmanager
async def admin_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Like the ``app_client`` fixture, on other settings."""
    async with app_on(settings) as client:
        yield client


# Create, read, list -------------------------------------------------------------------------


async def test_the_secret_is_in_the_creation_response_only(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]

    created = await create(
        app_client,
        client_id,
        "https://hooks.example.com/bestow",
        description="  Orders  ",
        event_types=["reward_batch.completed", "reward.issued", "reward.issued"],
        max_attempts=3,
        headers={"X-Api-Key": "k-1"},
    )
    secret = created.pop("secret")
    shown = await app_client.get(f"/admin/webhook_endpoints/{created['id']}", headers=ADMIN)
    listed = await app_client.get(f"/admin/clients/{client_id}/webhook_endpoints", headers=ADMIN)
    async with runtime.db.session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert row is not None
        stored = {c.key: getattr(row, c.key) for c in WebhookEndpoint.__table__.columns}

    assert secret.startswith("whsec_") and len(secret) > 30
    assert created["id"].startswith("ep_")
    assert (created["client_id"], created["url"], created["description"]) == (
        client_id,
        "https://hooks.example.com/bestow",
        "Orders",
    )
    assert created["event_types"] == ["reward.issued", "reward_batch.completed"]
    assert (created["max_attempts"], created["headers"]) == (3, {"X-Api-Key": "k-1"})
    assert (created["enabled"], created["disabled_reason"]) == (True, None)
    assert created["failing_since"] is None and created["last_success_at"] is None
    assert created["previous_secret_expires_at"] is None
    assert shown.status_code == 200
    assert shown.json() == created
    assert listed.json()["data"] == [created]
    assert secret not in shown.text and secret not in listed.text
    assert "secret" not in shown.json()
    assert stored["sealed_secret"] and secret not in repr(stored)
    assert secret not in (await audit_entries(app_client, created["id"])).text


async def test_an_endpoint_gets_defaults_and_may_start_disabled(
    app_client: httpx.AsyncClient,
) -> None:
    client_id = (await new_client(app_client))["id"]

    plain = await create(app_client, client_id)
    disabled = await create(app_client, client_id, enabled=False)

    assert (plain["event_types"], plain["max_attempts"], plain["headers"]) == ([], 8, {})
    assert (plain["enabled"], plain["description"]) == (True, "")
    assert (disabled["enabled"], disabled["disabled_reason"]) == (
        False,
        "disabled by an operator",
    )


async def test_a_clients_endpoints_are_listed_page_by_page(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    other_id = (await new_client(app_client))["id"]
    made = [(await create(app_client, client_id))["id"] for _ in range(5)]
    await create(app_client, other_id)

    seen: list[str] = []
    pages = 0
    cursor: dict[str, str] = {}
    while True:
        page = await get(
            app_client, f"/admin/clients/{client_id}/webhook_endpoints", limit=2, **cursor
        )
        pages += 1
        seen += [e["id"] for e in page["data"]]
        assert all(e["client_id"] == client_id for e in page["data"])
        if page["next_cursor"] is None:
            break
        cursor = {"cursor": page["next_cursor"]}

    assert seen == sorted(made)
    assert pages == 3


# Update, delete ----------------------------------------------------------------------------


async def test_a_patch_changes_only_the_fields_given(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    created = await create(
        app_client,
        client_id,
        description="first",
        event_types=["reward.issued"],
        max_attempts=4,
        headers={"X-A": "1"},
    )
    created.pop("secret")

    described = await patch(app_client, created["id"], {"description": "second"})
    retyped = await patch(app_client, created["id"], {"event_types": [], "max_attempts": 1})
    moved = await patch(
        app_client,
        created["id"],
        {"url": "https://other.example.com/h", "headers": {"X-B": "2"}},
    )

    unchanged = ("id", "client_id", "created_at", "enabled", "previous_secret_expires_at")
    assert {k: described[k] for k in unchanged} == {k: created[k] for k in unchanged}
    assert described == {
        **created,
        "description": "second",
        "updated_at": described["updated_at"],
    }
    assert retyped == {
        **described,
        "event_types": [],
        "max_attempts": 1,
        "updated_at": retyped["updated_at"],
    }
    assert moved == {
        **retyped,
        "url": "https://other.example.com/h",
        "headers": {"X-B": "2"},
        "updated_at": moved["updated_at"],
    }
    assert at(moved["updated_at"]) >= at(created["updated_at"])
    assert await get(app_client, f"/admin/webhook_endpoints/{created['id']}") == moved


async def test_a_patch_with_an_unknown_field_is_refused(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]

    response = await app_client.patch(
        f"/admin/webhook_endpoints/{endpoint_id}", json={"colour": "red"}, headers=ADMIN
    )
    secret = await app_client.patch(
        f"/admin/webhook_endpoints/{endpoint_id}", json={"secret": "whsec_mine"}, headers=ADMIN
    )

    assert_problem(response, INVALID, "colour: is not a known field")
    assert response.json()["field"] == "colour"
    assert_problem(secret, INVALID, "secret: is not a known field")


async def test_enabling_an_endpoint_the_dispatcher_disabled_clears_its_failure_streak(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    client_id = (await new_client(app_client))["id"]
    async with Receiver() as receiver:
        receiver.status = 410
        endpoint_id = (await create(app_client, client_id, receiver.url))["id"]
        async with dispatching(runtime, settings):
            await emit(runtime, client_id)

            async def disabled() -> dict[str, Any] | None:
                found = await get(app_client, f"/admin/webhook_endpoints/{endpoint_id}")
                return found if not found["enabled"] else None

            gone = await poll(disabled, "endpoint disabled by a 410")
        await give_up(runtime, endpoint_id)

    enabled = await patch(app_client, endpoint_id, {"enabled": True})

    assert gone["disabled_reason"] == "the endpoint answered 410 Gone"
    assert gone["failing_since"] is not None
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["failing_since"]) == (
        True,
        None,
        None,
    )
    entries = (await audit_entries(app_client, endpoint_id)).json()["data"]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("admin:env", "webhook_endpoint.created"),
        ("system:webhooks", "webhook_endpoint.disabled"),
        ("admin:env", "webhook_endpoint.updated"),
    ]


async def test_disabling_then_enabling_through_patch(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]

    disabled = await patch(app_client, endpoint_id, {"enabled": False})
    enabled = await patch(app_client, endpoint_id, {"enabled": True})

    assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "disabled by an operator")
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)


async def test_a_deleted_endpoint_is_gone(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]
    path = f"/admin/webhook_endpoints/{endpoint_id}"

    deleted = await app_client.delete(path, headers=ADMIN)
    shown = await app_client.get(path, headers=ADMIN)
    again = await app_client.delete(path, headers=ADMIN)
    deliveries = await app_client.get(f"{path}/deliveries", headers=ADMIN)
    listed = await get(app_client, f"/admin/clients/{client_id}/webhook_endpoints")

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_problem(shown, 404, f"webhook endpoint {endpoint_id} not found")
    assert_problem(again, 404, f"webhook endpoint {endpoint_id} not found")
    assert_problem(deliveries, 404, f"webhook endpoint {endpoint_id} not found")
    assert listed["data"] == []


async def test_deleting_an_endpoint_removes_its_deliveries_and_attempts(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    client_id = (await new_client(app_client))["id"]
    async with Receiver() as receiver:
        endpoint_id = (await create(app_client, client_id, receiver.url))["id"]
        event_id = await emit(runtime, client_id)
        async with dispatching(runtime, settings):
            await settled(app_client, endpoint_id, 1)
    base = f"/admin/webhook_endpoints/{endpoint_id}"
    before = await get(app_client, f"{base}/attempts")

    deleted = await app_client.delete(base, headers=ADMIN)
    async with runtime.db.session() as session:
        deliveries = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        attempts = await session.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == endpoint_id)
        )

    assert [a["event_id"] for a in before["data"]] == [event_id]
    assert deleted.status_code == 204
    assert (deliveries, attempts) == (0, 0)


async def test_deleting_an_endpoint_while_a_send_is_in_flight_does_not_stall_other_deliveries(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    slow_client = (await new_client(app_client))["id"]
    other_client = (await new_client(app_client))["id"]
    async with Receiver() as slow, Receiver() as fast:
        slow.delay = 0.5
        slow_id = (await create(app_client, slow_client, slow.url))["id"]
        fast_id = (await create(app_client, other_client, fast.url))["id"]
        try:
            async with dispatching(runtime, settings):
                await emit(runtime, slow_client)
                await slow.wait_for(1, timeout=10)
                deleted = await app_client.delete(
                    f"/admin/webhook_endpoints/{slow_id}", headers=ADMIN
                )
                await asyncio.sleep(slow.delay + 0.2)  # the slow answer arrives, is recorded
                event_id = await emit(runtime, other_client)
                await fast.wait_for(1, timeout=10)
                assert deleted.status_code == 204
                [delivery] = await settled(app_client, fast_id, 1, timeout=5)
                assert (delivery["event_id"], delivery["state"]) == (event_id, "succeeded")
        finally:
            await give_up(runtime, fast_id)


# Secret rotation ----------------------------------------------------------------------------


async def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_overlap(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    created = await create(app_client, client_id)

    before = datetime.now(UTC)
    response = await rotate(app_client, created["id"], overlap_seconds=60)
    after = datetime.now(UTC)
    rotated = response.json()
    shown = await get(app_client, f"/admin/webhook_endpoints/{created['id']}")
    async with runtime.db.session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert row is not None

    assert response.status_code == 201, response.text
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    expires = at(rotated["previous_secret_expires_at"])
    assert before + timedelta(seconds=60) - timedelta(seconds=1) <= expires
    assert expires <= after + timedelta(seconds=60) + timedelta(seconds=1)
    assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    assert "secret" not in shown
    assert row.sealed_previous_secret is not None
    assert created["secret"] not in repr(row.__dict__)
    assert rotated["secret"] not in repr(row.__dict__)


async def test_rotation_without_an_overlap_uses_the_deployments_default(
    database_url: str, var_dir: Path
) -> None:
    settings = make_settings(database_url, var_dir, webhook_secret_overlap_seconds=4321)
    async with admin_app(settings) as client:
        client_id = (await new_client(client))["id"]
        endpoint_id = (await create(client, client_id))["id"]
        results = []
        for body in (None, {}, {"overlap_seconds": None}):
            before = datetime.now(UTC)
            response = await client.post(
                f"/admin/webhook_endpoints/{endpoint_id}/rotate_secret", json=body, headers=ADMIN
            )
            results.append((body, before, datetime.now(UTC), response))

    for body, before, after, response in results:
        assert response.status_code == 201, (body, response.text)
        expires = at(response.json()["previous_secret_expires_at"])
        assert before + timedelta(seconds=4320) <= expires <= after + timedelta(seconds=4322), body
    assert len({r.json()["secret"] for _, _, _, r in results}) == 3


async def test_a_rotation_without_overlap_retires_the_old_secret_at_once(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]
    first = (await rotate(app_client, endpoint_id, overlap_seconds=600)).json()

    response = await rotate(app_client, endpoint_id, overlap_seconds=0)
    async with runtime.db.session() as session:
        row = await session.get(WebhookEndpoint, endpoint_id)
        assert row is not None

    assert response.status_code == 201, response.text
    assert first["previous_secret_expires_at"] is not None
    assert response.json()["previous_secret_expires_at"] is None
    assert response.json()["secret"] != first["secret"]
    assert row.sealed_previous_secret is None


async def test_an_overlap_outside_0_to_7_days_is_refused(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]

    too_long = await rotate(app_client, endpoint_id, overlap_seconds=7 * 24 * 3600 + 1)
    negative = await rotate(app_client, endpoint_id, overlap_seconds=-1)
    longest = await rotate(app_client, endpoint_id, overlap_seconds=7 * 24 * 3600)

    for response in (too_long, negative):
        assert_problem(response, INVALID, "overlap_seconds")
        assert response.json()["field"] == "overlap_seconds"
    assert longest.status_code == 201, longest.text
    expires = at(longest.json()["previous_secret_expires_at"])
    assert expires - datetime.now(UTC) > timedelta(days=7) - timedelta(minutes=1)


# Deliveries, attempts, replays --------------------------------------------------------------


async def test_deliveries_and_attempts_of_real_sends_are_listed_filtered_and_replayed(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    client_id = (await new_client(app_client))["id"]
    failing: set[str] = set()

    def respond(request: Received) -> tuple[int, bytes] | None:
        event_id = request.headers["webhook-id"]
        return (500, b"broken for " + event_id.encode()) if event_id in failing else None

    async with Receiver() as receiver:
        receiver.respond = respond
        receiver.response_body = b"thanks"
        endpoint = await create(app_client, client_id, receiver.url, max_attempts=1)
        base = f"/admin/webhook_endpoints/{endpoint['id']}"
        good = await emit(runtime, client_id)
        bad = await emit(runtime, client_id)
        failing.add(bad)
        async with dispatching(runtime, settings):
            rows = await settled(app_client, endpoint["id"], 2)

            failed_only = await get(app_client, f"{base}/deliveries", state="failed")
            succeeded_only = await get(app_client, f"{base}/deliveries", state="succeeded")
            one_event = await get(app_client, f"{base}/deliveries", event_id=good)
            attempts = await get(app_client, f"{base}/attempts")
            bad_attempts = await get(app_client, f"{base}/attempts", event_id=bad)
            first_page = await get(app_client, f"{base}/attempts", limit=1)
            second_page = await get(
                app_client, f"{base}/attempts", limit=1, cursor=first_page["next_cursor"]
            )
            shown = await get(app_client, base)

            failing.clear()
            since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            by_time = await replay(app_client, endpoint["id"], {"since": since})
            await settled(app_client, endpoint["id"], 1, origin="replay")
            by_event = await replay(app_client, endpoint["id"], {"event_id": good})
            await settled(app_client, endpoint["id"], 2, origin="replay")
            after = await get(app_client, f"{base}/deliveries")
            replayed_attempts = await get(app_client, f"{base}/attempts", limit=500)
        await give_up(runtime, endpoint["id"])

    by_id = {r["event_id"]: r for r in rows}
    assert set(by_id) == {good, bad}
    assert by_id[good]["state"] == "succeeded"
    assert by_id[good]["last_status_code"] == 200 and by_id[good]["last_error"] is None
    assert by_id[good]["delivered_at"] is not None
    assert by_id[bad]["state"] == "failed"
    assert (by_id[bad]["last_status_code"], by_id[bad]["last_error"]) == (500, "HTTP 500")
    assert by_id[bad]["delivered_at"] is None
    for row in rows:
        assert row["id"].startswith("dlv_")
        assert (row["endpoint_id"], row["event_type"]) == (endpoint["id"], "reward.issued")
        assert (row["origin"], row["attempt_count"], row["next_attempt_at"]) == (
            "schedule",
            1,
            None,
        )
    assert [d["event_id"] for d in failed_only["data"]] == [bad]
    assert [d["event_id"] for d in succeeded_only["data"]] == [good]
    assert [d["event_id"] for d in one_event["data"]] == [good]

    assert {a["event_id"]: a["success"] for a in attempts["data"]} == {good: True, bad: False}
    [failure] = bad_attempts["data"]
    assert failure["delivery_id"] == by_id[bad]["id"]
    assert (failure["attempt"], failure["origin"], failure["status_code"]) == (1, "schedule", 500)
    assert failure["error"] == "HTTP 500"
    assert failure["response_excerpt"] == f"broken for {bad}"
    assert failure["latency_ms"] >= 0 and failure["id"].startswith("att_")
    [success] = [a for a in attempts["data"] if a["event_id"] == good]
    assert (success["status_code"], success["error"], success["response_excerpt"]) == (
        200,
        None,
        "thanks",
    )
    assert len(first_page["data"]) == len(second_page["data"]) == 1
    assert first_page["data"][0]["id"] != second_page["data"][0]["id"]
    assert shown["last_success_at"] is not None

    assert (by_time.status_code, by_time.json()) == (200, {"replayed": 1})
    assert (by_event.status_code, by_event.json()) == (200, {"replayed": 1})
    assert {
        d["event_id"]: (d["state"], d["origin"], d["attempt_count"]) for d in after["data"]
    } == {
        good: ("succeeded", "replay", 2),
        bad: ("succeeded", "replay", 2),
    }
    assert sorted(
        (a["event_id"] == good, a["attempt"], a["origin"], a["success"])
        for a in replayed_attempts["data"]
    ) == [
        (False, 1, "schedule", False),
        (False, 2, "replay", True),
        (True, 1, "schedule", True),
        (True, 2, "replay", True),
    ]
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(ids) == sorted([good, bad, bad, good])
    entries = (await audit_entries(app_client, endpoint["id"])).json()["data"]
    assert [e["action"] for e in entries] == [
        "webhook_endpoint.created",
        "webhook_endpoint.replayed",
        "webhook_endpoint.replayed",
    ]
    assert entries[2]["changes"] == {"event_id": good, "since": None, "count": 1}


async def test_a_replay_needs_one_known_event_or_a_time(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = (await new_client(app_client))["id"]
    other_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]
    others_event = await emit(runtime, other_id)

    neither = await replay(app_client, endpoint_id, {})
    both = await replay(
        app_client, endpoint_id, {"event_id": others_event, "since": "2026-01-01T00:00:00Z"}
    )
    unknown = await replay(app_client, endpoint_id, {"event_id": "evt_unknown"})
    not_its_client = await replay(app_client, endpoint_id, {"event_id": others_event})
    no_endpoint = await replay(app_client, "ep_unknown", {"since": "2026-01-01T00:00:00Z"})
    nothing_failed = await replay(app_client, endpoint_id, {"since": "2026-01-01T00:00:00Z"})
    bad_time = await replay(app_client, endpoint_id, {"since": "yesterday"})

    assert_problem(neither, INVALID, "give either an event id or a time")
    assert_problem(both, INVALID, "give either an event id or a time")
    assert_problem(unknown, 404, "event evt_unknown not found")
    assert_problem(not_its_client, 404, f"event {others_event} not found")
    assert_problem(no_endpoint, 404, "webhook endpoint ep_unknown not found")
    assert (nothing_failed.status_code, nothing_failed.json()) == (200, {"replayed": 0})
    assert_problem(bad_time, INVALID, "since")


async def test_a_replay_since_a_time_without_an_offset_is_not_a_server_error(
    app_client: httpx.AsyncClient,
) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]

    response = await replay(app_client, endpoint_id, {"since": "2026-01-01T00:00:00"})

    assert response.status_code in (200, INVALID), response.text
    if response.status_code == INVALID:
        assert_problem(response, INVALID, "since")


async def test_a_disabled_endpoint_is_not_replayed(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id, enabled=False))["id"]

    response = await replay(app_client, endpoint_id, {"since": "2026-01-01T00:00:00Z"})

    assert_problem(response, 422, "enable it before replaying")


async def test_an_unknown_delivery_state_filter_is_refused(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]

    response = await app_client.get(
        f"/admin/webhook_endpoints/{endpoint_id}/deliveries",
        params={"state": "lost"},
        headers=ADMIN,
    )

    assert_problem(response, INVALID, "state")


# Event types ---------------------------------------------------------------------------------


async def test_the_event_type_catalogue_lists_the_partner_events(
    app_client: httpx.AsyncClient,
) -> None:
    listed = await get(app_client, "/admin/webhook_event_types")

    by_name = {e["name"]: e for e in listed}
    assert [e["name"] for e in listed] == sorted(by_name)
    assert set(ALL_EVENT_TYPES) <= set(by_name)
    assert {
        name: (by_name[name]["surface"], by_name[name]["extension"]) for name in ALL_EVENT_TYPES
    } == {
        "reward.issued": ("partner", False),
        "reward_batch.completed": ("partner", False),
        "reward.revoked": ("partner", True),
        "reward_batch.revoked": ("partner", True),
    }
    assert all(by_name[name]["description"] for name in ALL_EVENT_TYPES)


# Errors --------------------------------------------------------------------------------------


async def test_an_unknown_client_or_endpoint_is_a_404_problem(
    app_client: httpx.AsyncClient,
) -> None:
    created = await app_client.post(
        "/admin/clients/cli_unknown/webhook_endpoints", json={"url": RECEIVER_URL}, headers=ADMIN
    )
    shown = await app_client.get("/admin/webhook_endpoints/ep_unknown", headers=ADMIN)
    patched = await app_client.patch(
        "/admin/webhook_endpoints/ep_unknown", json={"description": "x"}, headers=ADMIN
    )
    rotated = await rotate(app_client, "ep_unknown", overlap_seconds=0)
    attempts = await app_client.get("/admin/webhook_endpoints/ep_unknown/attempts", headers=ADMIN)

    assert_problem(created, 404, "client cli_unknown not found")
    for response in (shown, patched, rotated, attempts):
        assert_problem(response, 404, "webhook endpoint ep_unknown not found")


BAD_ENDPOINTS: list[tuple[dict[str, Any], str, str]] = [
    ({"url": "ftp://hooks.example.com/x"}, "url", "absolute http or https URL"),
    ({"url": "https://hooks.example.com/" + "a" * 2000}, "url", "url"),
    ({"url": "https://user:pw@hooks.example.com/x"}, "url", "credentials"),
    ({"url": "not a url"}, "url", "absolute http or https URL"),
    ({"headers": {"Webhook-Signature": "v1,forged"}}, "headers", "set by Bestow itself"),
    ({"headers": {"content-type": "text/plain"}}, "headers", "set by Bestow itself"),
    ({"headers": {"Bad Name": "1"}}, "headers", "not a valid HTTP header"),
    ({"event_types": ["reward.exploded"]}, "event_types", "unknown event types: reward.exploded"),
    ({"max_attempts": 0}, "max_attempts", "max_attempts"),
    ({"max_attempts": 9}, "max_attempts", "max_attempts"),
    ({"secret": "whsec_mine"}, "secret", "is not a known field"),
]


async def test_a_bad_endpoint_is_refused_with_the_field(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint = await create(app_client, client_id)
    endpoint.pop("secret")

    for fields, field, detail in BAD_ENDPOINTS:
        created = await app_client.post(
            f"/admin/clients/{client_id}/webhook_endpoints",
            json={"url": RECEIVER_URL, **fields},
            headers=ADMIN,
        )
        patched = await app_client.patch(
            f"/admin/webhook_endpoints/{endpoint['id']}", json=fields, headers=ADMIN
        )
        for response in (created, patched):
            assert_problem(response, INVALID, detail)
            assert response.json()["field"] == field, fields

    listed = await get(app_client, f"/admin/clients/{client_id}/webhook_endpoints")
    assert listed["data"] == [endpoint]


ADMIN_ROUTES = [
    ("GET", "/admin/webhook_event_types"),
    ("POST", "/admin/clients/cli_x/webhook_endpoints"),
    ("GET", "/admin/clients/cli_x/webhook_endpoints"),
    ("GET", "/admin/webhook_endpoints/ep_x"),
    ("PATCH", "/admin/webhook_endpoints/ep_x"),
    ("DELETE", "/admin/webhook_endpoints/ep_x"),
    ("POST", "/admin/webhook_endpoints/ep_x/rotate_secret"),
    ("GET", "/admin/webhook_endpoints/ep_x/deliveries"),
    ("GET", "/admin/webhook_endpoints/ep_x/attempts"),
    ("POST", "/admin/webhook_endpoints/ep_x/replay"),
]


async def test_requests_without_the_admin_token_are_401_problems(
    app_client: httpx.AsyncClient,
) -> None:
    for method, path in ADMIN_ROUTES:
        body = {"url": RECEIVER_URL} if method in ("POST", "PATCH") else None

        missing = await app_client.request(method, path, json=body)
        wrong = await app_client.request(
            method, path, json=body, headers={"Authorization": "Bearer not-the-token"}
        )

        assert_problem(missing, 401, "admin bearer token is required")
        assert_problem(wrong, 401)
        assert missing.headers["www-authenticate"] == "Bearer"


# Production ----------------------------------------------------------------------------------


NOT_PUBLIC_HTTPS = [
    "http://127.0.0.1/hooks",
    "https://10.0.0.1/",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hooks",
    "https://localhost/hooks",
    "https://hooks.internal/x",
    "http://93.184.216.34/hooks",
]


async def test_production_refuses_urls_that_are_not_public_https(
    database_url: str, var_dir: Path
) -> None:
    settings = make_settings(database_url, var_dir, environment="production")
    async with admin_app(settings) as client:
        client_id = (await new_client(client))["id"]
        public = await create(client, client_id, "https://93.184.216.34/hooks")
        refused = []
        for url in NOT_PUBLIC_HTTPS:
            created = await client.post(
                f"/admin/clients/{client_id}/webhook_endpoints", json={"url": url}, headers=ADMIN
            )
            patched = await client.patch(
                f"/admin/webhook_endpoints/{public['id']}", json={"url": url}, headers=ADMIN
            )
            refused += [(url, created), (url, patched)]
        listed = await get(client, f"/admin/clients/{client_id}/webhook_endpoints")

    for url, response in refused:
        assert_problem(response, INVALID)
        assert response.json()["field"] == "url", url
    assert [e["url"] for e in listed["data"]] == ["https://93.184.216.34/hooks"]


async def test_outside_production_a_local_http_url_is_accepted(
    app_client: httpx.AsyncClient,
) -> None:
    client_id = (await new_client(app_client))["id"]

    created = await create(app_client, client_id, "http://127.0.0.1:8080/hooks")

    assert created["url"] == "http://127.0.0.1:8080/hooks"


# Audit ---------------------------------------------------------------------------------------


async def test_every_change_is_audited_without_the_secret(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    created = await create(app_client, client_id, event_types=["reward.issued"])
    endpoint_id = created["id"]

    await patch(app_client, endpoint_id, {"description": "d", "headers": {"X-Key": "hidden-1"}})
    rotated = (await rotate(app_client, endpoint_id, overlap_seconds=30)).json()
    replayed = await replay(app_client, endpoint_id, {"since": "2026-01-01T00:00:00Z"})
    deleted = await app_client.delete(f"/admin/webhook_endpoints/{endpoint_id}", headers=ADMIN)
    response = await audit_entries(app_client, endpoint_id)

    assert replayed.status_code == 200 and deleted.status_code == 204
    entries = response.json()["data"]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("admin:env", "webhook_endpoint.created"),
        ("admin:env", "webhook_endpoint.updated"),
        ("admin:env", "webhook_endpoint.secret_rotated"),
        ("admin:env", "webhook_endpoint.replayed"),
        ("admin:env", "webhook_endpoint.deleted"),
    ]
    assert entries[0]["changes"] == {
        "client_id": client_id,
        "event_types": ["reward.issued"],
        "enabled": True,
    }
    assert entries[1]["changes"] == {"description": "changed", "headers": ["X-Key"]}
    assert entries[2]["changes"] == {"overlap_seconds": 30}
    assert entries[4]["changes"] == {"client_id": client_id}
    for secret in (created["secret"], rotated["secret"], "whsec_", "hidden-1"):
        assert secret not in response.text


async def test_a_refused_change_writes_no_audit_entry(app_client: httpx.AsyncClient) -> None:
    client_id = (await new_client(app_client))["id"]
    endpoint_id = (await create(app_client, client_id))["id"]

    refused = await app_client.patch(
        f"/admin/webhook_endpoints/{endpoint_id}",
        json={"event_types": ["reward.exploded"]},
        headers=ADMIN,
    )
    entries = (await audit_entries(app_client, endpoint_id)).json()["data"]

    assert refused.status_code == INVALID
    assert [e["action"] for e in entries] == ["webhook_endpoint.created"]
