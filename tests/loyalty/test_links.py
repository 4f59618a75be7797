"""Search Loyalty Account (``GET /client/partners/{partner_id}/accounts/links``): each
identifier type, the account and link statuses, their filters, the 25 limit, the balance, and
the client's programmes only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.loyalty import ledger, links
from bestow.merchants import service as merchants
from bestow.models import Member
from tests.conftest import ACTOR, unique
from tests.loyalty.helpers import REWARD, Programme, make_member, make_programme, refused

# --- Helpers ---------------------------------------------------------------------------------


async def search(
    app_client: httpx.AsyncClient,
    programme: Programme,
    identifiers: list[str] | str,
    *,
    identifier_type: str | None = None,
    partner_id: str | None = None,
    **params: Any,
) -> httpx.Response:
    headers = dict(programme.headers)
    if identifier_type is not None:
        headers["X-Identifier-Type"] = identifier_type
    value = identifiers if isinstance(identifiers, str) else ",".join(identifiers)
    return await app_client.get(
        f"/client/partners/{partner_id or programme.client_id}/accounts/links",
        params={"identifiers": value, **params},
        headers=headers,
    )


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"searchResults"}
    found: list[dict[str, Any]] = body["searchResults"]
    return found


def found(identifier: str, member: Member) -> dict[str, Any]:
    return {
        "requestParameter": identifier,
        "accountId": member.account_id,
        "accountStatus": "ACTIVE",
        "loyaltyId": member.loyalty_id,
        "linkStatus": "CAN_LINK",
    }


def ghost(identifier: str, member: Member) -> dict[str, Any]:
    return {**found(identifier, member), "accountStatus": "INVALID", "linkStatus": "GHOST"}


def missing(identifier: str) -> dict[str, Any]:
    return {
        "requestParameter": identifier,
        "accountId": None,
        "accountStatus": "INVALID",
        "loyaltyId": None,
        "linkStatus": "INVALID",
    }


async def award(runtime: Runtime, programme: Programme, member: Member, points: int) -> None:
    async with runtime.db.write_session() as session:
        await ledger.move(
            session,
            member_id=member.id,
            merchant_id=programme.merchant_id,
            amount=points,
            reward_id=REWARD,
            issuer_id="issuer-1",
        )
        await session.commit()


async def second_merchant(runtime: Runtime, client_id: str) -> str:
    """Another merchant granted to the client: its id."""
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session, name="Second", handle=unique("lm"), time_zone="UTC", actor=ACTOR
        )
        await clients.grant_merchant(
            session, client_id=client_id, merchant_id=merchant.id, actor=ACTOR
        )
        await session.commit()
    return merchant.id


# --- Identifier types ------------------------------------------------------------------------


async def test_loyalty_ids_by_default(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    first = await make_member(runtime, programme.merchant_id)
    second = await make_member(runtime, programme.merchant_id)
    assert first.loyalty_id and second.loyalty_id

    response = await search(app_client, programme, [second.loyalty_id, "nobody", first.loyalty_id])

    assert results(response) == [
        found(second.loyalty_id, second),
        missing("nobody"),
        found(first.loyalty_id, first),
    ]
    explicit = await search(app_client, programme, [first.loyalty_id], identifier_type="LOYALTY_ID")
    assert results(explicit) == [found(first.loyalty_id, first)]


async def test_emails_are_matched_as_stored(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    assert member.email is not None
    asked = [member.email.upper(), "not an email", "nobody@example.com", member.loyalty_id or ""]

    response = await search(app_client, programme, asked, identifier_type="email")

    assert results(response) == [
        found(member.email.upper(), member),
        missing("not an email"),
        missing("nobody@example.com"),
        missing(member.loyalty_id or ""),
    ]


async def test_partner_link_ids_are_the_clients_namespace(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    namespace = links.link_namespace(programme.client_id)
    assert namespace == f"partner.{programme.client_id}"
    linked = await make_member(
        runtime, programme.merchant_id, external_ids={namespace: "card-hash-1", "crm": "crm-1"}
    )
    other = await make_programme(app_client, runtime)
    await make_member(
        runtime,
        programme.merchant_id,
        external_ids={links.link_namespace(other.client_id): "card-hash-2"},
    )

    response = await search(
        app_client,
        programme,
        ["card-hash-1", "card-hash-2", "crm-1", linked.loyalty_id or ""],
        identifier_type="PARTNER_LINK_ID",
    )

    # Another partner's link id and another namespace's external id are not this partner's.
    assert results(response) == [
        found("card-hash-1", linked),
        missing("card-hash-2"),
        missing("crm-1"),
        missing(linked.loyalty_id or ""),
    ]


async def test_unknown_identifier_type(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    response = await search(app_client, programme, ["x"], identifier_type="PHONE_NUMBER")
    refused(response, links.TYPE_INVALID)


# --- Statuses and filters --------------------------------------------------------------------


async def test_an_inactive_account_is_a_ghost(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id, status="inactive")
    assert member.loyalty_id is not None

    response = await search(app_client, programme, [member.loyalty_id])

    assert results(response) == [ghost(member.loyalty_id, member)]


async def test_status_filters(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    active = await make_member(runtime, programme.merchant_id)
    inactive = await make_member(runtime, programme.merchant_id, status="inactive")
    a, i = active.loyalty_id or "", inactive.loyalty_id or ""
    asked = [a, i, "nobody"]

    async def ask(**params: str) -> list[dict[str, Any]]:
        return results(await search(app_client, programme, asked, **params))

    everyone = [found(a, active), ghost(i, inactive), missing("nobody")]
    assert await ask() == everyone
    assert await ask(accountStatus="ACTIVE") == [found(a, active)]
    assert await ask(accountStatus="INVALID") == [ghost(i, inactive), missing("nobody")]
    assert await ask(accountStatus="active,invalid") == everyone
    assert await ask(linkStatus="CAN_LINK") == [found(a, active)]
    assert await ask(linkStatus="GHOST") == [ghost(i, inactive)]
    assert await ask(linkStatus="INVALID") == [missing("nobody")]
    assert await ask(linkStatus="CAN_LINK,GHOST") == [found(a, active), ghost(i, inactive)]
    assert await ask(accountStatus="INVALID", linkStatus="GHOST") == [ghost(i, inactive)]
    assert await ask(accountStatus="ACTIVE", linkStatus="GHOST") == []
    assert await ask(accountStatus="", linkStatus=" ") == everyone


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"accountStatus": "GHOST"}, "accountStatus", "ACTIVE, INVALID"),
        ({"accountStatus": "ACTIVE,CLOSED"}, "accountStatus", "ACTIVE, INVALID"),
        ({"linkStatus": "ACTIVE"}, "linkStatus", "CAN_LINK, GHOST, INVALID"),
    ],
)
async def test_unknown_statuses_are_refused(
    app_client: httpx.AsyncClient,
    programme: Programme,
    params: dict[str, str],
    field: str,
    allowed: str,
) -> None:
    response = await search(app_client, programme, ["x"], **params)
    refused(response, links.STATUS_INVALID.format(field=field, allowed=allowed))


# --- Identifiers -----------------------------------------------------------------------------


async def test_25_identifiers_at_most(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    asked = [member.loyalty_id or ""] + [f"unknown-{n}" for n in range(24)]

    answered = results(await search(app_client, programme, asked))
    assert [r["requestParameter"] for r in answered] == asked
    assert answered[0] == found(asked[0], member)
    assert all(r["linkStatus"] == "INVALID" for r in answered[1:])

    refused(await search(app_client, programme, [*asked, "one-more"]), links.TOO_MANY)


async def test_identifiers_are_required_blanks_skipped_repeats_answered_once(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    member = await make_member(runtime, programme.merchant_id)
    loyalty_id = member.loyalty_id or ""

    refused(await search(app_client, programme, ""), links.IDENTIFIERS_REQUIRED)
    refused(await search(app_client, programme, " , ,"), links.IDENTIFIERS_REQUIRED)
    no_parameter = await app_client.get(
        f"/client/partners/{programme.client_id}/accounts/links", headers=programme.headers
    )
    refused(no_parameter, links.IDENTIFIERS_REQUIRED)

    response = await search(app_client, programme, f" {loyalty_id} ,,x,{loyalty_id}")
    assert results(response) == [found(loyalty_id, member), missing("x")]


# --- Tenants ---------------------------------------------------------------------------------


async def test_only_the_clients_programmes(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    other = await make_programme(app_client, runtime)
    theirs = await make_member(runtime, other.merchant_id)
    mine = await make_member(runtime, programme.merchant_id)
    assert theirs.loyalty_id and theirs.email and mine.loyalty_id

    by_id = await search(app_client, programme, [theirs.loyalty_id, mine.loyalty_id])
    assert results(by_id) == [missing(theirs.loyalty_id), found(mine.loyalty_id, mine)]
    by_email = await search(app_client, programme, [theirs.email], identifier_type="EMAIL")
    assert results(by_email) == [missing(theirs.email)]
    assert results(await search(app_client, other, [theirs.loyalty_id])) == [
        found(theirs.loyalty_id, theirs)
    ]


async def test_partner_id_is_the_clients_own(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    other = await make_programme(app_client, runtime)
    theirs = await make_member(runtime, other.merchant_id)

    for partner_id in (other.client_id, other.merchant_id, programme.merchant_id, "nobody"):
        response = await search(
            app_client, programme, [theirs.loyalty_id or ""], partner_id=partner_id
        )
        assert response.status_code == 404, response.text
        assert response.json() == {
            "statusCode": 404,
            "errorCode": "NOT_FOUND",
            "errorMessage": links.PARTNER_NOT_FOUND,
        }


async def test_an_identifier_of_two_programmes_names_no_account(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    """As when opening a session: one identifier for two accounts names none."""
    shared = unique("L")
    await make_member(runtime, programme.merchant_id, loyalty_id=shared)
    second = await second_merchant(runtime, programme.client_id)
    await make_member(runtime, second, loyalty_id=shared)
    alone = await make_member(runtime, second)

    response = await search(app_client, programme, [shared, alone.loyalty_id or ""])

    assert results(response) == [missing(shared), found(alone.loyalty_id or "", alone)]


# --- Balance ---------------------------------------------------------------------------------


async def test_balance_on_request_for_active_accounts(
    app_client: httpx.AsyncClient, runtime: Runtime, programme: Programme
) -> None:
    rich = await make_member(runtime, programme.merchant_id)
    new = await make_member(runtime, programme.merchant_id)
    inactive = await make_member(runtime, programme.merchant_id, status="inactive")
    await award(runtime, programme, rich, 250)
    await award(runtime, programme, rich, -50)
    await award(runtime, programme, inactive, 40)
    asked = [rich.loyalty_id or "", new.loyalty_id or "", inactive.loyalty_id or "", "nobody"]

    with_balance = results(await search(app_client, programme, asked, includeBalance="true"))
    assert with_balance == [
        {**found(asked[0], rich), "balance": {"pointsBalance": 200}},
        {**found(asked[1], new), "balance": {"pointsBalance": 0}},
        {**ghost(asked[2], inactive), "balance": None},
        {**missing("nobody"), "balance": None},
    ]
    for flag in ("false", "FALSE", ""):
        plain = results(await search(app_client, programme, asked, includeBalance=flag))
        assert all("balance" not in r for r in plain)
    filtered = await search(
        app_client, programme, asked, includeBalance="True", linkStatus="CAN_LINK"
    )
    assert [r["balance"] for r in results(filtered)] == [
        {"pointsBalance": 200},
        {"pointsBalance": 0},
    ]

    refused(
        await search(app_client, programme, asked, includeBalance="yes"),
        links.FLAG_INVALID.format(field="includeBalance"),
    )


# --- Authentication --------------------------------------------------------------------------


async def test_token_and_scope(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    without = await make_programme(app_client, runtime, scopes=("read_vouchers",))
    url = f"/client/partners/{without.client_id}/accounts/links?identifiers=x"
    assert (await app_client.get(url)).status_code == 401
    response = await app_client.get(url, headers=without.headers)
    assert response.status_code == 403
    assert response.json()["errorCode"] == "FORBIDDEN"
