"""Webhook signatures as a receiver checks them, secret rotation, extra headers, event filters."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from standardwebhooks import WebhookVerificationError

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.issuance.events import REWARD_BATCH_COMPLETED, REWARD_ISSUED, REWARD_REVOKED
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.webhooks import endpoints, signing
from tests.conftest import ACTOR
from tests.fixtures.receiver import Received, Receiver
from tests.webhooks.helpers import (
    create_endpoint,
    deliveries,
    dispatching,
    emit,
    endpoint_row,
    make_client,
    set_endpoint,
    thanx_signature_ok,
    verify_standard,
)

BAD_SIGNATURE = (WebhookVerificationError, ValueError)


def with_id(*event_ids: str) -> Callable[[Received], bool]:
    return lambda request: request.headers.get("webhook-id") in event_ids


async def one(receiver: Receiver, event_id: str) -> Received:
    """The request of the event, once it arrived (and only one did)."""
    [request] = await receiver.wait_for(1, timeout=10, predicate=with_id(event_id))
    return request


def verifies(request: Received, secret: str) -> bool:
    try:
        verify_standard(request, secret)
    except BAD_SIGNATURE:
        return False
    return True


async def rotate(runtime: Runtime, endpoint_id: str, overlap: timedelta) -> str:
    async with runtime.db.write_session() as session:
        rotated = await endpoints.rotate_secret(
            session, runtime.sealer, endpoint_id=endpoint_id, actor=ACTOR, overlap=overlap
        )
        await session.commit()
    return rotated.secret


async def test_a_delivery_is_signed_both_ways(settings: Settings, runtime: Runtime) -> None:
    async with Receiver() as receiver, dispatching(runtime, settings):
        client_id = await make_client(runtime)
        _, secret = await create_endpoint(runtime, client_id, receiver.url)
        event_id = await emit(runtime, client_id, amount=5)
        request = await one(receiver, event_id)

    body = verify_standard(request, secret)
    assert body["event"] == "reward.issued" and body["data"]["amount"] == 5
    assert request.headers["webhook-id"] == event_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 10
    assert request.headers["x-thanx-signature"] == (
        hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert request.headers["webhook-signature"].startswith("v1,")
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert request.headers["content-type"] == "application/json"

    tampered = Received(
        **{**vars(request), "body": request.body.replace(b'"amount":5', b'"amount":6')}
    )
    assert tampered.body != request.body
    with pytest.raises(BAD_SIGNATURE):
        verify_standard(tampered, secret)
    assert not thanx_signature_ok(tampered, secret)

    wrong = signing.new_secret()
    with pytest.raises(BAD_SIGNATURE):
        verify_standard(request, wrong)
    assert not thanx_signature_ok(request, wrong)

    replayed_id = Received(**{**vars(request), "headers": {**request.headers, "webhook-id": "x"}})
    with pytest.raises(BAD_SIGNATURE):
        verify_standard(replayed_id, secret)


async def test_a_rotation_overlap_signs_with_both_secrets_until_it_ends(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver, dispatching(runtime, settings):
        client_id = await make_client(runtime)
        endpoint_id, old = await create_endpoint(runtime, client_id, receiver.url)
        new = await rotate(runtime, endpoint_id, timedelta(hours=1))
        during = await one(receiver, await emit(runtime, client_id))

        row = await endpoint_row(runtime, endpoint_id)
        assert row.previous_secret_expires_at is not None
        assert row.previous_secret_expires_at - utcnow() > timedelta(minutes=59)
        await set_endpoint(
            runtime, endpoint_id, previous_secret_expires_at=utcnow() - timedelta(seconds=1)
        )
        after = await one(receiver, await emit(runtime, client_id))

        newest = await rotate(runtime, endpoint_id, timedelta(0))
        at_once = await one(receiver, await emit(runtime, client_id))

    assert len({old, new, newest}) == 3
    assert all(signing.is_secret(s) and s.startswith("whsec_") for s in (new, newest))

    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in during.headers["webhook-signature"].split(" "))
    assert verifies(during, old) and verifies(during, new)
    assert thanx_signature_ok(during, old)  # the vendor header keeps the previous secret
    assert not thanx_signature_ok(during, new)

    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verifies(after, new) and thanx_signature_ok(after, new)
    assert not verifies(after, old) and not thanx_signature_ok(after, old)

    assert len(at_once.headers["webhook-signature"].split(" ")) == 1
    assert verifies(at_once, newest) and thanx_signature_ok(at_once, newest)
    assert not verifies(at_once, new) and not thanx_signature_ok(at_once, new)

    row = await endpoint_row(runtime, endpoint_id)
    assert row.sealed_previous_secret is None and row.previous_secret_expires_at is None
    assert runtime.sealer.unseal(row.sealed_secret) == newest
    for secret in (old, new, newest):
        encoded = secret.removeprefix("whsec_")
        for column in (row.sealed_secret, row.sealed_previous_secret or ""):
            assert secret not in column and encoded not in column


async def test_a_rotation_is_refused_beyond_the_maximum_overlap(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    endpoint_id, _ = await create_endpoint(runtime, client_id, "http://127.0.0.1:9/hooks")
    for overlap in (timedelta(seconds=-1), endpoints.MAX_OVERLAP + timedelta(seconds=1)):
        with pytest.raises(Invalid):
            await rotate(runtime, endpoint_id, overlap)


async def test_extra_headers_are_sent(settings: Settings, runtime: Runtime) -> None:
    extra = {"Authorization": "Bearer abc.def", "X-Tenant": "north", "X-Empty": ""}
    async with Receiver() as receiver, dispatching(runtime, settings):
        client_id = await make_client(runtime)
        _, secret = await create_endpoint(runtime, client_id, receiver.url, headers=extra)
        request = await one(receiver, await emit(runtime, client_id))

    assert request.headers["authorization"] == "Bearer abc.def"
    assert request.headers["x-tenant"] == "north"
    assert request.headers["x-empty"] == ""
    assert verify_standard(request, secret)


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-id": "mine"},
        {"Webhook-Signature": "v1,forged"},
        {"WEBHOOK-TIMESTAMP": "1"},
        {"Content-Type": "text/plain"},
        {"X-Thanx-Signature": "forged"},
        {"Host": "internal.example.com"},
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
        {"User-Agent": "me"},
        {"X-Injected": "a\r\nX-Evil: 1"},
        {"X-Injected": "a\nb"},
        {"X-Injected": "a\rb"},
        {"X-Null": "a\x00b"},
        {"Bad Name": "v"},
        {"Bad:Name": "v"},
        {"": "v"},
        {f"X-{n}": "v" for n in range(endpoints.MAX_HEADERS + 1)},
    ],
)
async def test_reserved_and_malformed_headers_are_refused(
    runtime: Runtime, headers: dict[str, str]
) -> None:
    client_id = await make_client(runtime)
    with pytest.raises(Invalid) as refused:
        await create_endpoint(runtime, client_id, "http://127.0.0.1:9/hooks", headers=headers)
    assert refused.value.field == "headers"
    endpoint_id, _ = await create_endpoint(runtime, client_id, "http://127.0.0.1:9/hooks")
    async with runtime.db.write_session() as session:
        with pytest.raises(Invalid):
            await endpoints.update_endpoint(
                session, endpoint_id=endpoint_id, actor=ACTOR, headers=headers
            )
    assert (await endpoint_row(runtime, endpoint_id)).headers == {}


async def test_the_event_type_filter(settings: Settings, runtime: Runtime) -> None:
    async with (
        Receiver() as filtered,
        Receiver() as everything,
        dispatching(runtime, settings),
    ):
        client_id = await make_client(runtime)
        only_batches, _ = await create_endpoint(
            runtime, client_id, filtered.url, event_types=[" reward_batch.completed "]
        )
        await create_endpoint(runtime, client_id, everything.url)
        issued = await emit(runtime, client_id)
        completed = await emit(runtime, client_id, REWARD_BATCH_COMPLETED)
        revoked = await emit(runtime, client_id, REWARD_REVOKED)
        mine = with_id(issued, completed, revoked)
        got = await everything.wait_for(3, timeout=10, predicate=mine)
        [batch] = await filtered.wait_for(1, timeout=10, predicate=mine)

    assert {r.headers["webhook-id"] for r in got} == {issued, completed, revoked}
    assert batch.headers["webhook-id"] == completed
    # every event was fanned out before ``everything`` got it: the filtered endpoint has no more
    assert [(d.event_id, d.event_type) for d in await deliveries(runtime, only_batches)] == [
        (completed, "reward_batch.completed")
    ]
    assert [r.headers["webhook-id"] for r in filtered.received if mine(r)] == [completed]
    row = await endpoint_row(runtime, only_batches)
    assert row.event_types == ["reward_batch.completed"]


async def test_unknown_event_types_are_refused(runtime: Runtime) -> None:
    client_id = await make_client(runtime)
    for types in (["reward.issued", "reward.exploded"], ["*"], ["REWARD.ISSUED"]):
        with pytest.raises(Invalid) as refused:
            await create_endpoint(runtime, client_id, "http://127.0.0.1:9/hooks", event_types=types)
        assert refused.value.field == "event_types"
    endpoint_id, _ = await create_endpoint(
        runtime, client_id, "http://127.0.0.1:9/hooks", event_types=[REWARD_ISSUED.name]
    )
    async with runtime.db.write_session() as session:
        with pytest.raises(Invalid):
            await endpoints.update_endpoint(
                session,
                endpoint_id=endpoint_id,
                actor=ACTOR,
                event_types=["nope"],
            )
    assert (await endpoint_row(runtime, endpoint_id)).event_types == [REWARD_ISSUED.name]
