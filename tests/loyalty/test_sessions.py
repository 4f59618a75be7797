"""Loyalty API sessions: ``POST /client/users/{identifier}/sessions`` by each identifier type,
its refusals, the account it returns, expiry and renewal, and tenant isolation."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.loyalty import adhoc
from bestow.members import service as members
from bestow.merchants import service as merchants
from bestow.models import LoyaltySession, Member
from bestow.surfaces.common import NOT_JSON
from bestow.surfaces.loyalty import routes
from tests.conftest import ACTOR, unique
from tests.loyalty.helpers import (
    Programme,
    award,
    correlation,
    make_member,
    make_programme,
    open_session,
    post_bytes,
    refused,
    reward_body,
    start,
)

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UTC_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def identifier_of(member: Member, identifier_type: str) -> str:
    """How a client would name the member with that identifier type."""
    return {
        "ACCOUNT_ID": member.account_id.upper(),  # GUIDs match in either case
        "LOYALTY_ID": member.loyalty_id or "",
        "EMAIL": (member.email or "").upper(),  # emails are normalised
        "PHONE_NUMBER": member.phone or "",
    }.get(identifier_type, "")


async def session_row(runtime: Runtime, client_id: str, correlation_id: str) -> LoyaltySession:
    async with runtime.db.session() as session:
        row = await session.scalar(
            select(LoyaltySession).where(
                LoyaltySession.client_id == client_id,
                LoyaltySession.correlation_id == correlation_id,
            )
        )
    assert row is not None
    return row


async def move_session(
    runtime: Runtime, client_id: str, correlation_id: str, **values: object
) -> None:
    async with runtime.db.write_session() as session:
        await session.execute(
            update(LoyaltySession)
            .where(
                LoyaltySession.client_id == client_id,
                LoyaltySession.correlation_id == correlation_id,
            )
            .values(**values)
        )
        await session.commit()


# --- Opening a session -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier_type", [None, "ACCOUNT_ID", "LOYALTY_ID", "EMAIL", "PHONE_NUMBER", "EXTERNAL_ID"]
)
async def test_each_identifier_type_finds_the_member(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    programme: Programme,
    identifier_type: str | None,
) -> None:
    external = unique("crm")
    member = await make_member(runtime, programme.merchant_id, external_ids={"crm": external})
    identifier = (
        external
        if identifier_type == "EXTERNAL_ID"
        else identifier_of(member, identifier_type or "ACCOUNT_ID")
    )
    correlation_id = correlation()
    response = await start(
        app_client,
        programme.headers,
        identifier,
        identifier_type=identifier_type,
        correlation_id=correlation_id,
        channel="POS",
        externalAgentSessionId="agent-7",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "accountId": member.account_id,
        "loyaltyId": member.loyalty_id,
        "status": "ACTIVE",
        "pointsBalance": 0,
        "availablePointBalance": 0,
        "correlationId": correlation_id,
        "channel": "POS",
        "identifierType": identifier_type or "ACCOUNT_ID",
        "expiresAt": body["expiresAt"],
    }
    assert GUID.match(body["accountId"])
    assert UTC_SECONDS.match(body["expiresAt"])
    row = await session_row(runtime, programme.client_id, correlation_id)
    assert (row.member_id, row.external_agent_session_id) == (member.id, "agent-7")
    assert row.expires_at - row.last_seen_at == timedelta(
        seconds=runtime.settings.loyalty_session_idle_seconds
    )


async def test_the_account_shows_its_balance_and_a_phone_session_cannot_redeem(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    assert (await award(app_client, programme.headers, correlation_id)).status_code == 200

    by_account = await start(app_client, programme.headers, member.account_id)
    assert by_account.json()["pointsBalance"] == 100
    assert by_account.json()["availablePointBalance"] == 100

    by_phone = await start(
        app_client, programme.headers, member.phone or "", identifier_type="PHONE_NUMBER"
    )
    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json()["pointsBalance"] == 100
    assert by_phone.json()["availablePointBalance"] == 0
    # Ad hoc awards and deductions are not redemptions: a phone session makes them.
    phone_session = by_phone.json()["correlationId"]
    for amount in (50, -20):
        done = await award(app_client, programme.headers, phone_session, reward_body(amount))
        assert done.status_code == 200, done.text
    again = await start(app_client, programme.headers, member.account_id)
    assert again.json()["pointsBalance"] == 130


async def test_an_inactive_account_opens_a_session_that_says_so(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id, status="inactive")
    response = await start(app_client, programme.headers, member.account_id)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "INACTIVE"


@pytest.mark.parametrize(
    ("identifier_type", "identifier"),
    [
        ("ACCOUNT_ID", "0b4a3c8e-1111-4222-8333-944455556666"),
        ("ACCOUNT_ID", "not-a-guid"),
        ("LOYALTY_ID", "L-nobody"),
        ("EMAIL", "nobody@example.com"),
        ("EMAIL", "not an email"),
        ("PHONE_NUMBER", "+6590000000"),
        ("PHONE_NUMBER", "12345"),
        ("EXTERNAL_ID", "crm-nobody"),
    ],
)
async def test_an_unknown_account_is_not_found(
    app_client: httpx.AsyncClient, programme: Programme, identifier_type: str, identifier: str
) -> None:
    response = await start(
        app_client, programme.headers, identifier, identifier_type=identifier_type
    )
    refused(response, adhoc.ACCOUNT_NOT_FOUND)


@pytest.mark.parametrize(
    "identifier_type", ["PARTNER_LINK_ID", "EXTERNAL_AGENT_ID", "account_id", "", "LOYALTY ID"]
)
async def test_an_unknown_identifier_type_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme, identifier_type: str
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    response = await start(
        app_client, programme.headers, member.account_id, identifier_type=identifier_type
    )
    refused(
        response,
        "X-Identifier-Type must be one of ACCOUNT_ID, LOYALTY_ID, EMAIL, PHONE_NUMBER, EXTERNAL_ID",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"channel": "APP"}, routes.CORRELATION_REQUIRED),
        ({"correlationId": " ", "channel": "APP"}, routes.CORRELATION_REQUIRED),
        ({"correlationId": None, "channel": "APP"}, routes.CORRELATION_REQUIRED),
        (
            {"correlationId": "c" * 101, "channel": "APP"},
            "correlationId must be at most 100 characters",
        ),
        ({"correlationId": 42, "channel": "APP"}, "correlationId must be a string"),
        ({"correlationId": "c-1"}, adhoc.CHANNEL_REQUIRED),
        ({"correlationId": "c-1", "channel": ""}, adhoc.CHANNEL_REQUIRED),
        ({"correlationId": "c-1", "channel": "\t"}, adhoc.CHANNEL_REQUIRED),
        ({"correlationId": "c-1", "channel": "A" * 41}, "channel must be at most 40 characters"),
        (
            {"correlationId": "c-1", "channel": "APP", "externalAgentSessionId": ["x"]},
            "externalAgentSessionId must be a string",
        ),
        ([], NOT_JSON),
        ("APP", NOT_JSON),
        ({"correlationId": "a/b", "channel": "APP"}, "correlationId must not contain / or \\"),
        ({"correlationId": "a\\b", "channel": "APP"}, "correlationId must not contain / or \\"),
        (
            {"correlationId": "c\x00-1", "channel": "APP"},
            "correlationId must not contain control characters",
        ),
        (
            {"correlationId": "c-1", "channel": "APP", "correlationID": "c-2"},
            "correlationID is not a known field",
        ),
    ],
)
async def test_a_bad_body_is_refused(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    programme: Programme,
    body: object,
    message: str,
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    response = await app_client.post(
        f"/client/users/{member.account_id}/sessions", json=body, headers=programme.headers
    )
    refused(response, message)


@pytest.mark.parametrize("content", [b"", b"{", b"correlationId=c-1&channel=APP"])
async def test_a_body_that_is_not_json_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme, content: bytes
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    path = f"/client/users/{member.account_id}/sessions"
    refused(await post_bytes(app_client, programme.headers, path, content), NOT_JSON)


async def test_the_longest_correlation_id_is_accepted(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    longest = "c" * 100
    response = await start(app_client, programme.headers, member.account_id, correlation_id=longest)
    assert response.status_code == 200, response.text
    assert (await award(app_client, programme.headers, longest)).status_code == 200


# --- Expiry and renewal ----------------------------------------------------------------------


async def test_an_expired_session_finds_no_account_until_it_is_opened_again(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    now = utcnow()
    await move_session(
        runtime,
        programme.client_id,
        correlation_id,
        last_seen_at=now - timedelta(hours=2),
        expires_at=now - timedelta(seconds=1),
    )
    refused(await award(app_client, programme.headers, correlation_id), adhoc.ACCOUNT_NOT_FOUND)

    reopened = await start(
        app_client, programme.headers, member.account_id, correlation_id=correlation_id
    )
    assert reopened.status_code == 200, reopened.text
    assert (await award(app_client, programme.headers, correlation_id)).status_code == 200


async def test_using_a_session_keeps_it_alive(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    now = utcnow()
    soon = now + timedelta(minutes=1)
    await move_session(
        runtime,
        programme.client_id,
        correlation_id,
        last_seen_at=now - timedelta(minutes=29),
        expires_at=soon,
    )
    assert (await award(app_client, programme.headers, correlation_id)).status_code == 200
    row = await session_row(runtime, programme.client_id, correlation_id)
    assert row.expires_at > soon
    assert row.expires_at - row.last_seen_at == timedelta(
        seconds=runtime.settings.loyalty_session_idle_seconds
    )


async def test_a_reused_correlation_id_names_the_member_found_last(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    first = await make_member(runtime, programme.merchant_id)
    second = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, first)
    response = await start(
        app_client, programme.headers, second.account_id, correlation_id=correlation_id
    )
    assert response.status_code == 200, response.text
    assert (await award(app_client, programme.headers, correlation_id)).status_code == 200
    row = await session_row(runtime, programme.client_id, correlation_id)
    assert row.member_id == second.id
    first_view = await start(app_client, programme.headers, first.account_id)
    second_view = await start(app_client, programme.headers, second.account_id)
    assert (first_view.json()["pointsBalance"], second_view.json()["pointsBalance"]) == (0, 100)


# --- Tenants and authentication --------------------------------------------------------------


async def test_another_clients_member_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    other = await make_programme(app_client, runtime)
    theirs = await make_member(runtime, other.merchant_id)
    for identifier_type, identifier in (
        ("ACCOUNT_ID", theirs.account_id),
        ("LOYALTY_ID", theirs.loyalty_id or ""),
        ("EMAIL", theirs.email or ""),
    ):
        response = await start(
            app_client, programme.headers, identifier, identifier_type=identifier_type
        )
        refused(response, adhoc.ACCOUNT_NOT_FOUND)


async def test_a_member_of_a_merchant_not_granted_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    async with runtime.db.write_session() as session:
        loose = await merchants.create_merchant(
            session, name="Not granted", handle=unique("ng"), time_zone="UTC", actor=ACTOR
        )
        await session.commit()
    member = await make_member(runtime, loose.id)
    refused(await start(app_client, programme.headers, member.account_id), adhoc.ACCOUNT_NOT_FOUND)


async def test_an_identifier_of_two_granted_members_names_none(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """Two programmes granted to one client may share a loyalty id: it names no one."""
    async with runtime.db.write_session() as session:
        second = await merchants.create_merchant(
            session, name="Second", handle=unique("m2"), time_zone="UTC", actor=ACTOR
        )
        await clients.grant_merchant(
            session, client_id=programme.client_id, merchant_id=second.id, actor=ACTOR
        )
        await session.commit()
    shared = unique("L")
    await make_member(runtime, programme.merchant_id, loyalty_id=shared)
    await make_member(runtime, second.id, loyalty_id=shared)
    response = await start(app_client, programme.headers, shared, identifier_type="LOYALTY_ID")
    refused(response, adhoc.ACCOUNT_NOT_FOUND)


async def test_a_token_with_the_scope_is_required(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    path = f"/client/users/{member.account_id}/sessions"
    body = {"correlationId": correlation(), "channel": "APP"}

    anonymous = await app_client.post(path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["errorCode"] == "UNAUTHORIZED"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")

    unscoped = await make_programme(app_client, runtime, scopes=("read_catalogue",))
    forbidden = await app_client.post(path, json=body, headers=unscoped.headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["errorCode"] == "FORBIDDEN"


async def test_members_status_change_shows_in_the_next_session(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    async with runtime.db.write_session() as session:
        await members.set_status(session, member_id=member.id, status="inactive", actor=ACTOR)
        await session.commit()
    refused(await award(app_client, programme.headers, correlation_id), adhoc.ACCOUNT_INACTIVE)
    response = await start(app_client, programme.headers, member.account_id)
    assert response.json()["status"] == "INACTIVE"
