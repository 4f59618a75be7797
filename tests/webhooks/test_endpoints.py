"""The endpoint service (create, update, rotate, delete, audit), replays, and revocation events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid, InvalidState, NotFound
from bestow.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bestow.webhooks import endpoints, signing
from tests.conftest import ACTOR, unique
from tests.fixtures.receiver import Received, Receiver
from tests.surfaces.partner.helpers import (
    ISSUE,
    create_campaign,
    in_state,
    issue_body,
    make_members,
    make_template,
    new_partner,
    wait_for_job,
    worker_client,
)
from tests.webhooks.helpers import (
    attempts,
    audit_entries,
    create_endpoint,
    deliveries,
    delivery_for,
    dispatching,
    emit,
    endpoint_row,
    make_client,
    poll,
    set_endpoint,
    settled_delivery,
    thanx_signature_ok,
    verify_standard,
)

NOWHERE = "http://127.0.0.1:9/hooks"  # the discard port: nothing listens


def with_id(*event_ids: str) -> Callable[[Received], bool]:
    return lambda request: request.headers.get("webhook-id") in event_ids


async def update(runtime: Runtime, endpoint_id: str, **changes: Any) -> WebhookEndpoint:
    async with runtime.db.write_session() as session:
        endpoint = await endpoints.update_endpoint(
            session, endpoint_id=endpoint_id, actor=ACTOR, **changes
        )
        await session.commit()
    return endpoint


async def replay(runtime: Runtime, endpoint_id: str, **which: Any) -> int:
    async with runtime.db.write_session() as session:
        count = await endpoints.replay(session, endpoint_id=endpoint_id, actor=ACTOR, **which)
        await session.commit()
    return count


async def rows_of(runtime: Runtime, model: type[Any], endpoint_id: str) -> int:
    async with runtime.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(model).where(model.endpoint_id == endpoint_id)
        )
    return int(count or 0)


# The service ---------------------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_stores_it_sealed(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    endpoint_id, secret = await create_endpoint(
        runtime,
        client_id,
        NOWHERE,
        description="  Orders  ",
        event_types=["reward.issued", "reward.issued"],
        max_attempts=3,
        headers={"X-Tenant": "north"},
    )
    assert secret.startswith("whsec_") and signing.is_secret(secret)
    row = await endpoint_row(runtime, endpoint_id)
    assert (row.client_id, row.url, row.description) == (client_id, NOWHERE, "Orders")
    assert (row.event_types, row.max_attempts, row.headers) == (
        ["reward.issued"],
        3,
        {"X-Tenant": "north"},
    )
    assert row.enabled and row.disabled_reason is None and row.sealed_previous_secret is None
    assert runtime.sealer.unseal(row.sealed_secret) == secret
    stored = orjson.dumps({c.name: getattr(row, c.key) for c in WebhookEndpoint.__mapper__.columns})
    assert secret.encode() not in stored
    assert secret.removeprefix("whsec_").encode() not in stored

    other_id, other = await create_endpoint(runtime, client_id, NOWHERE, enabled=False)
    assert other != secret
    disabled = await endpoint_row(runtime, other_id)
    assert not disabled.enabled and disabled.disabled_reason == "disabled by an operator"


@pytest.mark.parametrize("max_attempts", [0, -1, endpoints.MAX_ATTEMPTS + 1, 100])
async def test_max_attempts_out_of_range_is_refused(runtime: Runtime, max_attempts: int) -> None:
    client_id = await make_client(runtime)
    with pytest.raises(Invalid) as refused:
        await create_endpoint(runtime, client_id, NOWHERE, max_attempts=max_attempts)
    assert refused.value.field == "max_attempts"
    endpoint_id, _ = await create_endpoint(runtime, client_id, NOWHERE, max_attempts=1)
    with pytest.raises(Invalid):
        await update(runtime, endpoint_id, max_attempts=max_attempts)
    await update(runtime, endpoint_id, max_attempts=endpoints.MAX_ATTEMPTS)
    assert (await endpoint_row(runtime, endpoint_id)).max_attempts == endpoints.MAX_ATTEMPTS


async def test_an_unknown_client_or_endpoint_is_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        await create_endpoint(runtime, "cli_does_not_exist", NOWHERE)
    for call in (
        lambda s: endpoints.update_endpoint(s, endpoint_id="ep_nope", actor=ACTOR, description="x"),
        lambda s: endpoints.rotate_secret(
            s, runtime.sealer, endpoint_id="ep_nope", actor=ACTOR, overlap=timedelta(0)
        ),
        lambda s: endpoints.delete_endpoint(s, endpoint_id="ep_nope", actor=ACTOR),
        lambda s: endpoints.replay(s, endpoint_id="ep_nope", actor=ACTOR, since=utcnow()),
    ):
        async with runtime.db.write_session() as session:
            with pytest.raises(NotFound):
                await call(session)


async def test_update_changes_the_given_fields_only(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    endpoint_id, _ = await create_endpoint(
        runtime, client_id, NOWHERE, description="first", headers={"X-A": "1"}
    )
    await update(runtime, endpoint_id, url="http://127.0.0.1:10/other", description=" second ")
    row = await endpoint_row(runtime, endpoint_id)
    assert (row.url, row.description, row.headers) == (
        "http://127.0.0.1:10/other",
        "second",
        {"X-A": "1"},
    )
    await update(runtime, endpoint_id, event_types=["reward_batch.completed"], headers={})
    row = await endpoint_row(runtime, endpoint_id)
    assert (row.event_types, row.headers, row.description) == (
        ["reward_batch.completed"],
        {},
        "second",
    )
    await update(runtime, endpoint_id, event_types=[])
    assert (await endpoint_row(runtime, endpoint_id)).event_types == []
    with pytest.raises(Invalid):
        await update(runtime, endpoint_id, url="gopher://127.0.0.1/x")


async def test_disabling_and_enabling_an_endpoint(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    endpoint_id, _ = await create_endpoint(runtime, client_id, NOWHERE)
    await update(runtime, endpoint_id, enabled=False)
    row = await endpoint_row(runtime, endpoint_id)
    assert not row.enabled and row.disabled_reason == "disabled by an operator"

    # as the dispatcher leaves an endpoint it disabled after failing for days
    failing = utcnow() - timedelta(days=6)
    await set_endpoint(
        runtime,
        endpoint_id,
        failing_since=failing,
        disabled_reason="no successful delivery for 5 days",
    )
    await update(runtime, endpoint_id, description="kept disabled")
    row = await endpoint_row(runtime, endpoint_id)
    assert not row.enabled and row.failing_since == failing
    assert row.disabled_reason == "no successful delivery for 5 days"

    await update(runtime, endpoint_id, enabled=True)
    row = await endpoint_row(runtime, endpoint_id)
    assert row.enabled and row.disabled_reason is None and row.failing_since is None


async def test_delete_removes_deliveries_and_attempts(settings: Settings, runtime: Runtime) -> None:
    async with Receiver() as receiver, dispatching(runtime, settings):
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        kept_id, _ = await create_endpoint(runtime, client_id, receiver.url)
        events = [await emit(runtime, client_id) for _ in range(3)]
        for event_id in events:
            await settled_delivery(runtime, endpoint_id, event_id)
            await settled_delivery(runtime, kept_id, event_id)
    assert await rows_of(runtime, WebhookDelivery, endpoint_id) == 3
    assert await rows_of(runtime, WebhookAttempt, endpoint_id) == 3

    async with runtime.db.write_session() as session:
        await endpoints.delete_endpoint(session, endpoint_id=endpoint_id, actor=ACTOR)
        await session.commit()

    assert await rows_of(runtime, WebhookDelivery, endpoint_id) == 0
    assert await rows_of(runtime, WebhookAttempt, endpoint_id) == 0
    async with runtime.db.session() as session:
        assert await session.get(WebhookEndpoint, endpoint_id) is None
        assert len([e for e in events if await session.get(OutboxEvent, e)]) == 3
    assert await rows_of(runtime, WebhookDelivery, kept_id) == 3
    assert await rows_of(runtime, WebhookAttempt, kept_id) == 3


async def test_every_change_is_audited_without_secrets(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    endpoint_id, first = await create_endpoint(
        runtime, client_id, NOWHERE, headers={"Authorization": "Bearer token-value"}
    )
    await update(runtime, endpoint_id, description="changed", enabled=False)
    await update(runtime, endpoint_id, enabled=True)
    async with runtime.db.write_session() as session:
        rotated = await endpoints.rotate_secret(
            session,
            runtime.sealer,
            endpoint_id=endpoint_id,
            actor=ACTOR,
            overlap=timedelta(hours=1),
        )
        await session.commit()
    assert await replay(runtime, endpoint_id, since=utcnow() - timedelta(hours=1)) == 0
    async with runtime.db.write_session() as session:
        await endpoints.delete_endpoint(session, endpoint_id=endpoint_id, actor=ACTOR)
        await session.commit()

    entries = await audit_entries(runtime, endpoint_id)
    assert [e.action for e in entries] == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.replayed",
        "webhook_endpoint.deleted",
    ]
    assert all(e.actor == ACTOR.name and e.target_type == "webhook_endpoint" for e in entries)
    assert entries[1].changes == {"description": "changed", "enabled": False}
    assert entries[3].changes == {"overlap_seconds": 3600}
    assert entries[4].changes["count"] == 0
    audited = orjson.dumps([e.changes for e in entries])
    for secret in (first, rotated.secret):
        assert secret.removeprefix("whsec_").encode() not in audited
    assert b"whsec_" not in audited and b"token-value" not in audited


# Replay --------------------------------------------------------------------------------------


async def test_replaying_a_delivered_event_sends_it_again_with_the_same_id(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver:
        client_id = await make_client(runtime)
        endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
        async with dispatching(runtime, settings):
            event_id = await emit(runtime, client_id)
            [first] = await receiver.wait_for(1, timeout=10, predicate=with_id(event_id))
            assert (await settled_delivery(runtime, endpoint_id, event_id)).state == "succeeded"

        assert await replay(runtime, endpoint_id, event_id=event_id) == 1
        delivery = await delivery_for(runtime, endpoint_id, event_id)
        assert delivery is not None
        assert (delivery.state, delivery.run_attempts, delivery.origin) == ("pending", 0, "replay")
        assert delivery.attempt_count == 1 and delivery.last_error is None

        async with dispatching(runtime, settings):
            got = await receiver.wait_for(2, timeout=10, predicate=with_id(event_id))
            delivery = await settled_delivery(runtime, endpoint_id, event_id)

    again = got[1]
    assert again.headers["webhook-id"] == event_id and again.body == first.body
    assert verify_standard(again, secret)["data"] == verify_standard(first, secret)["data"]
    assert thanx_signature_ok(again, secret)
    assert (delivery.state, delivery.attempt_count, delivery.run_attempts) == ("succeeded", 2, 1)
    assert [(a.attempt, a.origin, a.success) for a in await attempts(runtime, endpoint_id)] == [
        (1, "schedule", True),
        (2, "replay", True),
    ]


async def test_replay_since_resends_only_failed_deliveries_created_since(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver, dispatching(runtime, settings):
        receiver.status = 500
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url, max_attempts=1)
        before = await emit(runtime, client_id)
        assert (await settled_delivery(runtime, endpoint_id, before)).state == "failed"
        since = utcnow()
        failed = [await emit(runtime, client_id) for _ in range(2)]
        for event_id in failed:
            delivery = await settled_delivery(runtime, endpoint_id, event_id)
            assert (delivery.state, delivery.last_status_code) == ("failed", 500)
        receiver.status = 200
        succeeded = await emit(runtime, client_id)
        assert (await settled_delivery(runtime, endpoint_id, succeeded)).state == "succeeded"

        assert await replay(runtime, endpoint_id, since=since) == 2
        await receiver.wait_for(4, timeout=10, predicate=with_id(*failed))
        for event_id in failed:
            delivery = await settled_delivery(runtime, endpoint_id, event_id)
            assert (delivery.state, delivery.origin, delivery.attempt_count) == (
                "succeeded",
                "replay",
                2,
            )

    rows = {d.event_id: d for d in await deliveries(runtime, endpoint_id)}
    assert set(rows) == {before, *failed, succeeded}
    assert (rows[before].state, rows[before].origin, rows[before].attempt_count) == (
        "failed",
        "schedule",
        1,
    )
    assert (rows[succeeded].state, rows[succeeded].attempt_count) == ("succeeded", 1)
    mine = with_id(before, *failed, succeeded)
    sent = Counter(r.headers["webhook-id"] for r in receiver.received if mine(r))
    assert sent == {before: 1, failed[0]: 2, failed[1]: 2, succeeded: 1}
    replayed = [a for a in await attempts(runtime, endpoint_id) if a.origin == "replay"]
    assert sorted(a.event_id for a in replayed) == sorted(failed)
    assert all(a.success and a.status_code == 200 for a in replayed)


async def test_replay_refusals(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    other_client = await make_client(runtime)
    endpoint_id, _ = await create_endpoint(runtime, client_id, NOWHERE)
    foreign = await emit(runtime, other_client)
    own = await emit(runtime, client_id)

    for event_id in (foreign, "evt_does_not_exist"):
        with pytest.raises(NotFound):
            await replay(runtime, endpoint_id, event_id=event_id)
    with pytest.raises(Invalid):
        await replay(runtime, endpoint_id, event_id=own, since=utcnow())
    with pytest.raises(Invalid):
        await replay(runtime, endpoint_id)

    await update(runtime, endpoint_id, enabled=False)
    with pytest.raises(InvalidState):
        await replay(runtime, endpoint_id, event_id=own)
    with pytest.raises(InvalidState):
        await replay(runtime, endpoint_id, since=utcnow() - timedelta(days=1))
    assert await delivery_for(runtime, endpoint_id, foreign) is None


async def test_replay_of_an_event_from_before_the_endpoint_creates_its_delivery(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver:
        client_id = await make_client(runtime)
        async with dispatching(runtime, settings):
            earlier = await emit(runtime, client_id)

            async def published() -> bool:
                async with runtime.db.session() as session:
                    event = await session.get(OutboxEvent, earlier)
                    return event is not None and event.published_at is not None

            await poll(published, f"fan-out of {earlier}", timeout=10)
        endpoint_id, secret = await create_endpoint(runtime, client_id, receiver.url)
        assert await delivery_for(runtime, endpoint_id, earlier) is None

        # an event not fanned out yet needs no replay: its first delivery is on the way
        later = await emit(runtime, client_id)
        assert await replay(runtime, endpoint_id, event_id=later) == 0
        assert await delivery_for(runtime, endpoint_id, later) is None

        assert await replay(runtime, endpoint_id, event_id=earlier) == 1
        created = await delivery_for(runtime, endpoint_id, earlier)
        assert created is not None
        assert (created.state, created.origin, created.attempt_count) == ("pending", "replay", 0)
        async with dispatching(runtime, settings):
            got = await receiver.wait_for(2, timeout=10, predicate=with_id(earlier, later))
            delivered = await settled_delivery(runtime, endpoint_id, earlier)
            await settled_delivery(runtime, endpoint_id, later)

    assert sorted(r.headers["webhook-id"] for r in got) == sorted([earlier, later])
    assert all(verify_standard(r, secret) for r in got)
    assert (delivered.state, delivered.attempt_count) == ("succeeded", 1)
    [attempt] = [a for a in await attempts(runtime, endpoint_id) if a.event_id == earlier]
    assert attempt.origin == "replay" and attempt.success


# Revocation events ---------------------------------------------------------------------------


async def test_revoking_a_job_sends_one_reward_revoked_per_reward_and_a_batch_event(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client, Receiver() as receiver:
        partner = await new_partner(runtime)
        template = await make_template(runtime, partner.merchant_id)
        campaign = await create_campaign(client, partner, template.id)
        endpoint_id, secret = await create_endpoint(runtime, partner.client_id, receiver.url)
        emails = [f"{unique('rv')}@example.com" for _ in range(3)]
        await make_members(runtime, partner.merchant_id, emails=emails)
        identifiers = [{"type": "email", "value": e} for e in emails]
        identifiers.append({"type": "email", "value": "not-an-email"})
        body = issue_body(partner, campaign, identifiers, "Treatment")
        response = await client.post(ISSUE, headers=partner.headers(), json=body)
        assert response.status_code == 202, response.text
        job_id = response.json()["issuance_job"]["id"]
        await wait_for_job(client, partner, job_id, in_state("completed"), timeout=20)
        await receiver.wait_for(4, timeout=20)

        response = await client.post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            headers=partner.headers(),
            json={"merchant_id": partner.merchant_id},
        )
        assert response.status_code == 202, response.text
        assert response.json()["issuance_job"]["state"] == "revoking"
        await wait_for_job(client, partner, job_id, in_state("revoked"), timeout=20)

        async def all_delivered() -> list[WebhookDelivery] | None:
            rows = await deliveries(runtime, endpoint_id)
            return rows if len(rows) == 8 and all(d.state == "succeeded" for d in rows) else None

        rows = await poll(all_delivered, "8 succeeded deliveries", timeout=20)
        got = await receiver.wait_for(8, timeout=20, predicate=with_id(*(d.event_id for d in rows)))

    assert len(got) == 8
    assert all(thanx_signature_ok(r, secret) for r in got)
    events = [verify_standard(r, secret) for r in got]
    assert Counter(e["event"] for e in events) == {
        "reward.issued": 3,
        "reward_batch.completed": 1,
        "reward.revoked": 3,
        "reward_batch.revoked": 1,
    }
    issued = {e["data"]["reward_id"]: e["data"] for e in events if e["event"] == "reward.issued"}
    revoked = [e["data"] for e in events if e["event"] == "reward.revoked"]
    assert sorted(d["reward_id"] for d in revoked) == sorted(issued)
    for data in revoked:
        assert data["issuance_job_id"] == job_id and data["state"] == "revoked"
        assert data["merchant_id"] == partner.merchant_id
        assert data["identifier"]["index"] == issued[data["reward_id"]]["identifier"]["index"]
    [batch] = [e["data"] for e in events if e["event"] == "reward_batch.revoked"]
    assert batch["issuance_job_id"] == job_id
    assert (batch["state"], batch["revoked_count"]) == ("revoked", 3)
    ids = [r.headers["webhook-id"] for r in got]
    assert len(set(ids)) == 8
