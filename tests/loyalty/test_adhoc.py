"""Issue Ad Hoc Reward on the Loyalty API: ``POST /client/users/{correlation_id}/adhoc-reward/``
with the seed's ten refusals word for word, awards and deductions, the ledger's invariant,
external references credited once, ``Idempotency-Key``, concurrency and tenant isolation."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.loyalty import adhoc
from bestow.models import OutboxEvent, PointsTransaction
from bestow.surfaces.common import NOT_JSON
from bestow.surfaces.loyalty.routes import AdhocIn
from tests.conftest import app_on, unique
from tests.loyalty.helpers import (
    DISABLED_REWARD,
    MAXIMUM,
    OTHER_UNIT,
    REWARD,
    SECOND_REWARD,
    UNIT,
    Programme,
    assert_ledger,
    award,
    balance,
    correlation,
    make_member,
    make_programme,
    open_session,
    post_bytes,
    refused,
    reward_body,
    start,
)

TRANSACTION_ID = re.compile(r"^ptx_[0-9a-z]+$")


async def member_session(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme, **fields: Any
) -> tuple[str, str]:
    """A new member of the programme and a session for it: (member id, correlation id)."""
    member = await make_member(runtime, programme.merchant_id, **fields)
    return member.id, await open_session(app_client, programme.headers, member)


def granted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"transactionId", "message"}
    assert TRANSACTION_ID.match(body["transactionId"])
    return body


async def transactions(runtime: Runtime, member_id: str) -> list[PointsTransaction]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(PointsTransaction)
            .where(PointsTransaction.member_id == member_id)
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return list(rows)


# --- Awards and deductions -------------------------------------------------------------------


async def test_award_then_deduct(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    awarded = granted(await award(app_client, programme.headers, correlation_id, reward_body(250)))
    assert awarded["message"] == "Ad hoc reward of 250 points awarded"
    assert await balance(runtime, member_id) == 250

    deducted = granted(
        await award(app_client, programme.headers, correlation_id, reward_body(-100))
    )
    assert deducted["message"] == "Ad hoc reward of 100 points deducted"
    assert deducted["transactionId"] != awarded["transactionId"]
    assert await assert_ledger(runtime, member_id) == 150

    rows = await transactions(runtime, member_id)
    assert [(t.id, t.amount, t.balance_after) for t in rows] == [
        (awarded["transactionId"], 250, 250),
        (deducted["transactionId"], -100, 150),
    ]
    first = rows[0]
    assert (first.client_id, first.merchant_id, first.kind) == (
        programme.client_id,
        programme.merchant_id,
        "adhoc",
    )
    assert (first.reward_id, first.issuer_id, first.business_unit, first.channel) == (
        REWARD,
        "partner-1",
        UNIT,
        "APP",
    )


async def test_the_route_without_its_trailing_slash_is_served_not_redirected(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    response = await award(app_client, programme.headers, correlation_id, slash=False)
    granted(response)
    assert not response.history
    assert await balance(runtime, member_id) == 100


async def test_the_whole_balance_may_be_deducted_but_no_more(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    refused(
        await award(app_client, programme.headers, correlation_id, reward_body(-1)),
        adhoc.INSUFFICIENT,
    )
    granted(await award(app_client, programme.headers, correlation_id, reward_body(40)))
    refused(
        await award(app_client, programme.headers, correlation_id, reward_body(-41)),
        adhoc.INSUFFICIENT,
    )
    granted(await award(app_client, programme.headers, correlation_id, reward_body(-40)))
    assert await assert_ledger(runtime, member_id) == 0
    assert len(await transactions(runtime, member_id)) == 2


async def test_the_maximum_itself_is_allowed_either_way(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    granted(await award(app_client, programme.headers, correlation_id, reward_body(MAXIMUM)))
    granted(await award(app_client, programme.headers, correlation_id, reward_body(-MAXIMUM)))
    assert await assert_ledger(runtime, member_id) == 0


async def test_points_events_are_recorded(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    up = granted(await award(app_client, programme.headers, correlation_id, reward_body(70)))
    down = granted(await award(app_client, programme.headers, correlation_id, reward_body(-20)))
    async with runtime.db.session() as session:
        events = {
            e.subject_id: e
            for e in await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.subject_id.in_([up["transactionId"], down["transactionId"]])
                )
            )
        }
    assert len(events) == 2
    awarded, deducted = events[up["transactionId"]], events[down["transactionId"]]
    assert (awarded.type, deducted.type) == ("points.awarded", "points.deducted")
    for event in (awarded, deducted):
        assert event.subject_type == "points_transaction"
        assert (event.client_id, event.merchant_id) == (programme.client_id, programme.merchant_id)
    assert awarded.payload["event"] == "points.awarded"
    assert awarded.payload["data"]["points"] == 70
    assert awarded.payload["data"]["balance"] == 70
    assert awarded.payload["data"]["account_member_id"] == member_id
    assert deducted.payload["data"]["points"] == -20
    assert deducted.payload["data"]["balance"] == 50


async def test_without_a_reference_every_request_is_a_transaction(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    body = reward_body(10, externalReferenceId=None)
    del body["externalReferenceId"]
    first = granted(await award(app_client, programme.headers, correlation_id, body))
    second = granted(await award(app_client, programme.headers, correlation_id, body))
    assert first["transactionId"] != second["transactionId"]
    assert await assert_ledger(runtime, member_id) == 20


# --- The seed's ten refusals -----------------------------------------------------------------


def without(field: str) -> dict[str, Any]:
    body = reward_body()
    del body[field]
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (without("issuerId"), "issuerId is mandatory and required to be non-empty"),
        (reward_body(issuerId=""), "issuerId is mandatory and required to be non-empty"),
        (reward_body(issuerId="  "), "issuerId is mandatory and required to be non-empty"),
        (reward_body(issuerId=None), "issuerId is mandatory and required to be non-empty"),
        (without("rewardId"), "rewardId is mandatory and required to be non-empty"),
        (reward_body(rewardId=""), "rewardId is mandatory and required to be non-empty"),
        (without("rewardAmount"), "rewardAmount is mandatory and required to be non-empty"),
        (reward_body(rewardAmount=""), "rewardAmount is mandatory and required to be non-empty"),
        (reward_body(rewardAmount=None), "rewardAmount is mandatory and required to be non-empty"),
        (without("businessUnit"), "Business Unit is mandatory and required to be non-empty"),
        (reward_body(businessUnit=" "), "Business Unit is mandatory and required to be non-empty"),
        (
            reward_body(businessUnit="downtown"),
            "Business Unit downtown is not a valid business unit",
        ),
        (
            reward_body(businessUnit="Downtown "),
            "Business Unit Downtown  is not a valid business unit",
        ),
        (
            reward_body(businessUnit="Uptown"),
            "Business Unit Uptown is not a valid business unit",
        ),
        (reward_body(rewardId="NOPE"), "Reward identifier is invalid"),
        (reward_body(rewardId=REWARD.lower()), "Reward identifier is invalid"),
        (reward_body(rewardId=DISABLED_REWARD), "Reward identifier is invalid"),
        (
            reward_body(MAXIMUM + 1),
            "Maximum allowed limit for reward amount that can be issued per transaction",
        ),
        (
            reward_body(-MAXIMUM - 1),
            "Maximum allowed limit for reward amount that can be issued per transaction",
        ),
        # Bestow's own, where the seed has none:
        (without("channel"), "channel is mandatory and required to be non-empty"),
        (reward_body(channel=""), "channel is mandatory and required to be non-empty"),
        (reward_body(0), "rewardAmount must be a non-zero integer"),
        (reward_body(1.5), "rewardAmount must be a non-zero integer"),
        (reward_body(100.0), "rewardAmount must be a non-zero integer"),
        (reward_body("100"), "rewardAmount must be a non-zero integer"),
        (reward_body(True), "rewardAmount must be a non-zero integer"),
        (reward_body(issuerId=7), "issuerId must be a string"),
        (reward_body(issuerId="i" * 101), "issuerId must be at most 100 characters"),
        (reward_body(externalReferenceId=5), "externalReferenceId must be a string"),
        (
            reward_body(externalReferenceId="r" * 201),
            "externalReferenceId must be at most 200 characters",
        ),
        ([reward_body()], NOT_JSON),
        ("award", NOT_JSON),
        (reward_body(externalReferenceID="r-1"), "externalReferenceID is not a known field"),
        (reward_body(issuerId="partner\x001"), "issuerId must not contain control characters"),
        (
            reward_body(externalReferenceId="ref\x00"),
            "externalReferenceId must not contain control characters",
        ),
    ],
)
async def test_a_refused_body_says_why_and_moves_nothing(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    programme: Programme,
    body: Any,
    message: str,
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    refused(await award(app_client, programme.headers, correlation_id, body), message)
    assert await transactions(runtime, member_id) == []
    assert await balance(runtime, member_id) == 0


async def test_the_feature_must_be_enabled_for_the_client(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    disabled = await make_programme(app_client, runtime, adhoc=False)
    member_id, correlation_id = await member_session(app_client, runtime, disabled)
    refused(
        await award(app_client, disabled.headers, correlation_id),
        "Adhoc Reward feature is not enabled",
    )
    # Checked first: even an empty body gets this answer.
    refused(
        await award(app_client, disabled.headers, correlation_id, {}),
        "Adhoc Reward feature is not enabled",
    )
    assert await transactions(runtime, member_id) == []


async def test_an_unknown_session_finds_no_account(
    app_client: httpx.AsyncClient, programme: Programme
) -> None:
    refused(await award(app_client, programme.headers, correlation()), "Could not find the account")


async def test_an_inactive_account_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(
        app_client, runtime, programme, status="inactive"
    )
    refused(await award(app_client, programme.headers, correlation_id), "Account is not active")
    assert await transactions(runtime, member_id) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, adhoc.ISSUER_REQUIRED),
        ({"issuerId": "i"}, adhoc.REWARD_REQUIRED),
        ({"issuerId": "i", "rewardId": "NOPE"}, adhoc.AMOUNT_REQUIRED),
        ({"issuerId": "i", "rewardId": "NOPE", "rewardAmount": 5}, adhoc.UNIT_REQUIRED),
        (
            {"issuerId": "i", "rewardId": "NOPE", "rewardAmount": 5, "businessUnit": "x"},
            adhoc.CHANNEL_REQUIRED,
        ),
        # The account before the business unit, the unit before the reward, the reward before
        # the maximum:
        (reward_body(businessUnit="x", rewardId="NOPE"), adhoc.UNIT_INVALID.format(name="x")),
        (reward_body(MAXIMUM + 1, rewardId="NOPE"), adhoc.REWARD_INVALID),
        (reward_body(-MAXIMUM - 1), adhoc.OVER_MAXIMUM),  # not "insufficient"
    ],
)
async def test_the_checks_run_in_the_documented_order(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    programme: Programme,
    body: dict[str, Any],
    message: str,
) -> None:
    _, correlation_id = await member_session(app_client, runtime, programme)
    refused(await award(app_client, programme.headers, correlation_id, body), message)


async def test_an_unknown_account_comes_before_the_business_unit(
    app_client: httpx.AsyncClient, programme: Programme
) -> None:
    body = reward_body(businessUnit="x", rewardId="NOPE")
    refused(
        await award(app_client, programme.headers, correlation(), body), adhoc.ACCOUNT_NOT_FOUND
    )


async def test_another_business_unit_of_the_programme_is_valid(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    granted(
        await award(
            app_client, programme.headers, correlation_id, reward_body(businessUnit=OTHER_UNIT)
        )
    )
    assert (await transactions(runtime, member_id))[0].business_unit == OTHER_UNIT


@pytest.mark.parametrize("content", [b"", b"{", b"{'rewardAmount': 1}", b"\xff\xfe"])
async def test_a_body_that_is_not_json_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme, content: bytes
) -> None:
    _, correlation_id = await member_session(app_client, runtime, programme)
    path = f"/client/users/{correlation_id}/adhoc-reward/"
    refused(await post_bytes(app_client, programme.headers, path, content), NOT_JSON)


# --- External references ---------------------------------------------------------------------


async def test_a_repeated_reference_credits_once(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    body = reward_body(300)
    first = granted(await award(app_client, programme.headers, correlation_id, body))
    again = granted(await award(app_client, programme.headers, correlation_id, body))
    other_amount = granted(
        await award(app_client, programme.headers, correlation_id, {**body, "rewardAmount": 5})
    )
    assert first == again == other_amount
    assert await assert_ledger(runtime, member_id) == 300
    assert len(await transactions(runtime, member_id)) == 1


async def test_campaign_references_are_reserved(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """A campaign credits ``job:<job id>:<index>``: an ad hoc award may not take such a reference
    and so block (or stand in for) a campaign's credit."""
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    body = reward_body(300, externalReferenceId="job:job_01abc:0")
    refused(
        await award(app_client, programme.headers, correlation_id, body),
        "externalReferenceId must not start with job:",
    )
    assert await transactions(runtime, member_id) == []


async def test_the_same_reference_with_another_reward_is_a_new_transaction(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    body = reward_body(10)
    first = granted(await award(app_client, programme.headers, correlation_id, body))
    second = granted(
        await award(
            app_client, programme.headers, correlation_id, {**body, "rewardId": SECOND_REWARD}
        )
    )
    assert first["transactionId"] != second["transactionId"]
    assert await assert_ledger(runtime, member_id) == 20


async def test_the_same_reference_for_another_member_is_a_new_transaction(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    first_member, first_session = await member_session(app_client, runtime, programme)
    second_member, second_session = await member_session(app_client, runtime, programme)
    body = reward_body(10)
    granted(await award(app_client, programme.headers, first_session, body))
    granted(await award(app_client, programme.headers, second_session, body))
    assert await balance(runtime, first_member) == await balance(runtime, second_member) == 10


async def test_concurrent_repeats_of_a_reference_credit_once(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    body = reward_body(25)
    responses = await asyncio.gather(
        *(award(app_client, programme.headers, correlation_id, body) for _ in range(20))
    )
    assert len({granted(r)["transactionId"] for r in responses}) == 1
    assert await assert_ledger(runtime, member_id) == 25
    assert len(await transactions(runtime, member_id)) == 1


# --- Concurrency -----------------------------------------------------------------------------


async def test_fifty_concurrent_awards_over_http_end_with_the_exact_balance(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    responses = await asyncio.gather(
        *(
            award(app_client, programme.headers, correlation_id, reward_body(amount))
            for amount in range(1, 51)
        )
    )
    assert len({granted(r)["transactionId"] for r in responses}) == 50
    assert await assert_ledger(runtime, member_id) == sum(range(1, 51))
    # Each award saw the balance its predecessor left: none was lost, none saw a stale one.
    before = 0
    for row in sorted(await transactions(runtime, member_id), key=lambda t: t.balance_after):
        assert row.balance_after == before + row.amount
        before = row.balance_after


async def test_fifty_concurrent_awards_in_the_service_end_with_the_exact_balance(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """Each award in its own transaction, as many at once as the pool allows (PostgreSQL runs
    them truly in parallel: the balance row's lock queues them)."""
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    idle = timedelta(seconds=runtime.settings.loyalty_session_idle_seconds)

    async def one(amount: int) -> None:
        async with runtime.db.write_session() as session:
            await adhoc.issue(
                session,
                client_id=programme.client_id,
                correlation_id=correlation_id,
                body=AdhocIn.read(reward_body(amount)).request(),
                idle=idle,
            )
            await session.commit()

    await asyncio.gather(*(one(amount) for amount in [7] * 40 + [-3] * 10))
    assert await assert_ledger(runtime, member_id) == 7 * 40 - 3 * 10
    assert len(await transactions(runtime, member_id)) == 50


async def test_concurrent_deductions_never_overdraw(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    granted(await award(app_client, programme.headers, correlation_id, reward_body(100)))
    responses = await asyncio.gather(
        *(award(app_client, programme.headers, correlation_id, reward_body(-30)) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 3 + [400] * 7
    assert await assert_ledger(runtime, member_id) == 10


# --- Idempotency-Key -------------------------------------------------------------------------


async def test_an_idempotency_key_replays_the_stored_response(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    key = str(uuid.uuid4())
    body = reward_body(60, externalReferenceId=None)
    first = await award(app_client, programme.headers, correlation_id, body, key=key)
    again = await award(app_client, programme.headers, correlation_id, body, key=key)
    assert granted(first) == granted(again)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await assert_ledger(runtime, member_id) == 60

    other = await award(
        app_client, programme.headers, correlation_id, {**body, "rewardAmount": 61}, key=key
    )
    assert other.status_code == 422
    assert other.json() == {
        "statusCode": 422,
        "errorCode": "INVALID_REQUEST",
        "errorMessage": "This idempotency key was already used with a different request",
    }
    assert await balance(runtime, member_id) == 60


async def test_a_refusal_is_not_stored_under_its_key(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    key = str(uuid.uuid4())
    wrong = reward_body(5, businessUnit="downtown")
    refused(
        await award(app_client, programme.headers, correlation_id, wrong, key=key),
        "Business Unit downtown is not a valid business unit",
    )
    granted(await award(app_client, programme.headers, correlation_id, reward_body(5), key=key))
    assert await balance(runtime, member_id) == 5


async def test_keys_are_the_clients_own(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    other = await make_programme(app_client, runtime)
    key = str(uuid.uuid4())
    for world in (programme, other):
        member_id, correlation_id = await member_session(app_client, runtime, world)
        granted(await award(app_client, world.headers, correlation_id, reward_body(9), key=key))
        assert await balance(runtime, member_id) == 9


async def test_an_overlong_idempotency_key_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    _, correlation_id = await member_session(app_client, runtime, programme)
    response = await award(app_client, programme.headers, correlation_id, key="k" * 256)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "INVALID_REQUEST"


# --- Tenants and authentication --------------------------------------------------------------


async def test_another_clients_session_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    other = await make_programme(app_client, runtime)
    member_id, theirs = await member_session(app_client, runtime, other)
    refused(await award(app_client, programme.headers, theirs), adhoc.ACCOUNT_NOT_FOUND)
    assert await transactions(runtime, member_id) == []


async def test_two_clients_may_use_the_same_correlation_id(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    other = await make_programme(app_client, runtime)
    shared = correlation()
    mine = await make_member(runtime, programme.merchant_id)
    theirs = await make_member(runtime, other.merchant_id)
    for world, member in ((programme, mine), (other, theirs)):
        response = await start(app_client, world.headers, member.account_id, correlation_id=shared)
        assert response.status_code == 200, response.text
    granted(await award(app_client, programme.headers, shared, reward_body(11)))
    granted(await award(app_client, other.headers, shared, reward_body(22)))
    assert (await balance(runtime, mine.id), await balance(runtime, theirs.id)) == (11, 22)


async def test_a_token_with_the_scope_is_required(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    path = f"/client/users/{correlation_id}/adhoc-reward/"

    anonymous = await app_client.post(path, json=reward_body())
    assert anonymous.status_code == 401
    assert anonymous.json()["errorCode"] == "UNAUTHORIZED"
    bogus = await app_client.post(
        path, json=reward_body(), headers={"Authorization": "Bearer not-a-token"}
    )
    assert bogus.status_code == 401

    unscoped = await make_programme(app_client, runtime, scopes=("read_catalogue",))
    forbidden = await app_client.post(path, json=reward_body(), headers=unscoped.headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["errorCode"] == "FORBIDDEN"
    assert await transactions(runtime, member_id) == []


async def test_the_route_is_documented_once(app_client: httpx.AsyncClient) -> None:
    paths = (await app_client.get("/openapi.json")).json()["paths"]
    assert "/client/users/{correlation_id}/adhoc-reward/" in paths
    assert "/client/users/{correlation_id}/adhoc-reward" not in paths
    body = paths["/client/users/{correlation_id}/adhoc-reward/"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert set(schema["required"]) >= {"channel", "businessUnit", "issuerId", "rewardId"}


async def test_a_body_labelled_as_something_else_is_unsupported(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """The surface's rule for every write: a body must be labelled JSON (415 otherwise)."""
    _, correlation_id = await member_session(app_client, runtime, programme)
    response = await app_client.post(
        f"/client/users/{correlation_id}/adhoc-reward/",
        content=b"issuerId=i",
        headers={**programme.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("depth", [256, 1023])
async def test_a_keyed_award_nested_past_the_encoders_limit_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme, depth: int
) -> None:
    """The request fingerprint re-encodes the body, which stops at 255 levels: the body's depth
    is bounded before it, for every surface."""
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    nested = b"[" * depth + b"]" * depth
    content = b'{"rewardAmount": 1, "note": ' + nested + b"}"
    headers = {**programme.headers, "Idempotency-Key": str(uuid.uuid4())}
    path = f"/client/users/{correlation_id}/adhoc-reward/"
    refused(
        await post_bytes(app_client, headers, path, content),
        "The request body is nested more than 32 levels deep",
    )
    assert await transactions(runtime, member_id) == []


# --- Awarding without a key or a reference --------------------------------------------------

UNKEYED = "a repeat of this request moves the points again"


async def test_an_award_without_a_key_or_a_reference_is_credited_with_a_warning(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member_id, correlation_id = await member_session(app_client, runtime, programme)
    bare = reward_body(7, externalReferenceId=None)
    for _ in range(2):
        response = await award(app_client, programme.headers, correlation_id, bare)
        granted(response)
        assert response.headers["warning"] == (
            f'299 - "No Idempotency-Key or externalReferenceId: {UNKEYED}"'
        )
    assert await balance(runtime, member_id) == 14
    referenced = await award(app_client, programme.headers, correlation_id, reward_body(1))
    keyed = await award(app_client, programme.headers, correlation_id, bare, key=unique("k"))
    for response in (referenced, keyed):
        granted(response)
        assert "warning" not in response.headers


async def test_a_deployment_that_requires_keys_refuses_an_award_without_key_or_reference(
    runtime: Runtime, settings: Settings
) -> None:
    required = settings.model_copy(update={"require_idempotency_keys": True})
    async with app_on(required) as client:
        programme = await make_programme(client, runtime)
        member_id, correlation_id = await member_session(client, runtime, programme)
        bare = reward_body(7, externalReferenceId=None)
        refused(
            await award(client, programme.headers, correlation_id, bare),
            f"Idempotency-Key or externalReferenceId is required: {UNKEYED}",
        )
        assert await balance(runtime, member_id) == 0
        granted(await award(client, programme.headers, correlation_id, reward_body(3)))
        granted(await award(client, programme.headers, correlation_id, bare, key=unique("k")))
    assert await balance(runtime, member_id) == 10
