"""Shared helpers of the Loyalty API tests: a programme (a merchant granted to an OAuth client
with the ``loyalty.adhoc_reward`` scope), its members, sessions and ad hoc rewards, and the
ledger's invariant."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.loyalty import ledger, rewards
from bestow.members import service as members
from bestow.merchants import service as merchants
from bestow.models import (
    Member,
    PointsEntry,
    PointsTransaction,
    RewardTemplate,
)
from tests.campaigns import kind_template
from tests.conftest import ACTOR, unique
from tests.oauth.helpers import get_token, oauth_client

SCOPE = "loyalty.adhoc_reward"
UNIT = "Downtown"
OTHER_UNIT = "Airport Kiosk"
REWARD = "BONUS"
MAXIMUM = 1000
SECOND_REWARD = "WELCOME"
DISABLED_REWARD = "RETIRED"


@dataclass
class Programme:
    """A client and its granted merchant: business units ``UNIT`` and ``OTHER_UNIT``, the ad
    hoc rewards ``REWARD`` and ``SECOND_REWARD`` (at most ``MAXIMUM`` points) and the disabled
    ``DISABLED_REWARD``."""

    client_id: str
    headers: dict[str, str]
    merchant_id: str


async def login(
    app_client: httpx.AsyncClient, runtime: Runtime, scopes: tuple[str, ...] = (SCOPE,)
) -> tuple[str, dict[str, str]]:
    """A new client on the unlimited tier (the tests send bursts) and its bearer headers."""
    client_id, secret, _ = await oauth_client(runtime, scopes, tier="unlimited", name="loyalty")
    response = await get_token(app_client, client_id, secret)
    assert response.status_code == 200, response.text
    return client_id, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def programme_for(runtime: Runtime, client_id: str, *, adhoc: bool = True) -> str:
    """A new loyalty programme granted to ``client_id``: a merchant with two business units and
    the rewards ``REWARD``, ``SECOND_REWARD`` and (disabled) ``DISABLED_REWARD``, and the ad hoc
    feature on (or off): the merchant's id."""
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session, name="Loyalty Merchant", handle=unique("lm"), time_zone="UTC", actor=ACTOR
        )
        for name in (UNIT, OTHER_UNIT):
            await merchants.create_business_unit(
                session, merchant_id=merchant.id, name=name, actor=ACTOR
            )
        for reward_id, enabled in ((REWARD, True), (SECOND_REWARD, True), (DISABLED_REWARD, False)):
            await rewards.create_reward(
                session,
                merchant_id=merchant.id,
                reward_id=reward_id,
                name=f"{reward_id} points",
                max_per_transaction=MAXIMUM,
                enabled=enabled,
                actor=ACTOR,
            )
        await clients.grant_merchant(
            session, client_id=client_id, merchant_id=merchant.id, actor=ACTOR
        )
        await rewards.set_adhoc_feature(session, client_id=client_id, enabled=adhoc, actor=ACTOR)
        await session.commit()
    return merchant.id


async def make_programme(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    *,
    adhoc: bool = True,
    scopes: tuple[str, ...] = (SCOPE,),
) -> Programme:
    client_id, headers = await login(app_client, runtime, scopes)
    merchant_id = await programme_for(runtime, client_id, adhoc=adhoc)
    return Programme(client_id, headers, merchant_id)


def phone() -> str:
    """A valid Singapore mobile number, random enough to be unique in the run."""
    return f"+6581{random.randrange(10**6):06d}"


async def make_member(runtime: Runtime, merchant_id: str, **fields: Any) -> Member:
    """A member with an email, a phone, a loyalty id and the external id ``crm``, all unique."""
    values: dict[str, Any] = {
        "email": f"{unique('m')}@example.com",
        "phone": phone(),
        "loyalty_id": unique("L"),
        "external_ids": {"crm": unique("crm")},
        **fields,
    }
    async with runtime.db.write_session() as session:
        member = await members.create_member(
            session, merchant_id=merchant_id, actor=ACTOR, **values
        )
        await session.commit()
    return member


def correlation() -> str:
    return str(uuid.uuid4())


async def start(
    app_client: httpx.AsyncClient,
    headers: dict[str, str],
    identifier: str,
    *,
    identifier_type: str | None = None,
    correlation_id: str | None = None,
    channel: str = "APP",
    **body: Any,
) -> httpx.Response:
    """``POST /client/users/{identifier}/sessions``; a fresh correlation id unless given."""
    sent = dict(headers)
    if identifier_type is not None:
        sent["X-Identifier-Type"] = identifier_type
    payload = {"correlationId": correlation_id or correlation(), "channel": channel, **body}
    return await app_client.post(f"/client/users/{identifier}/sessions", json=payload, headers=sent)


async def open_session(
    app_client: httpx.AsyncClient, headers: dict[str, str], member: Member
) -> str:
    """A session for the member by its account id: its correlation id."""
    response = await start(app_client, headers, member.account_id)
    assert response.status_code == 200, response.text
    correlation_id: str = response.json()["correlationId"]
    return correlation_id


def reward_body(amount: int = 100, **over: Any) -> dict[str, Any]:
    """A valid ad hoc reward body for the programme."""
    return {
        "channel": "APP",
        "businessUnit": UNIT,
        "issuerId": "partner-1",
        "rewardId": REWARD,
        "rewardAmount": amount,
        "externalReferenceId": unique("ref"),
        **over,
    }


async def award(
    app_client: httpx.AsyncClient,
    headers: dict[str, str],
    correlation_id: str,
    body: Any = None,
    *,
    key: str | None = None,
    slash: bool = True,
) -> httpx.Response:
    """``POST /client/users/{correlation_id}/adhoc-reward/`` (``reward_body()`` by default)."""
    sent = dict(headers)
    if key is not None:
        sent["Idempotency-Key"] = key
    path = f"/client/users/{correlation_id}/adhoc-reward" + ("/" if slash else "")
    return await app_client.post(path, json=reward_body() if body is None else body, headers=sent)


async def post_bytes(
    app_client: httpx.AsyncClient, headers: dict[str, str], path: str, content: bytes
) -> httpx.Response:
    """A POST of ``content`` as is, labelled JSON."""
    sent = {**headers, "Content-Type": "application/json"}
    return await app_client.post(path, content=content, headers=sent)


def refused(response: httpx.Response, message: str, status: int = 400) -> None:
    """The Loyalty API's error body, ``INVALID_REQUEST`` for a 400 and the exact message."""
    assert response.status_code == status, response.text
    code = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}[status]
    assert response.json() == {"statusCode": status, "errorCode": code, "errorMessage": message}


async def balance(runtime: Runtime, member_id: str) -> int:
    async with runtime.db.session() as session:
        return await ledger.balance_of(session, member_id)


async def assert_ledger(runtime: Runtime, member_id: str) -> int:
    """The invariant: the member's entries sum to its balance, each of its transactions' entries
    sum to zero, and every transaction has two. Returns the balance."""
    async with runtime.db.session() as session:
        held = await ledger.balance_of(session, member_id)
        entries = await session.scalar(
            select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
                PointsEntry.account == ledger.member_account(member_id)
            )
        )
        per_transaction = (
            await session.execute(
                select(func.sum(PointsEntry.amount), func.count(PointsEntry.id))
                .join(PointsTransaction, PointsTransaction.id == PointsEntry.transaction_id)
                .where(PointsTransaction.member_id == member_id)
                .group_by(PointsEntry.transaction_id)
            )
        ).all()
    assert entries == held
    assert all(total == 0 and count == 2 for total, count in per_transaction)
    return held


async def points_template(
    runtime: Runtime, merchant_id: str, config: dict[str, Any]
) -> RewardTemplate:
    return await kind_template(
        runtime, merchant_id, kind="points", name="Spring points", config=config
    )
