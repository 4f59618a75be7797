"""Helpers of the Operator API tests: an operator client with both shared keys, and a signer
that computes the request hash itself (hashlib, as an operator's script would), not with the
project's code; campaigns, rewards, enrollments, bets and bulks made through the API."""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from bestow.clients import service as clients
from bestow.deps import Runtime
from tests.conftest import ACTOR, unique

SCOPE = "operator.campaigns"


@dataclass
class Operator:
    client_id: str
    operator_id: int
    primary: str
    secondary: str


def sign(key: str, url: str, body: bytes = b"") -> str:
    """The documented hash: SHA-256 of key + relative URL (the path's trailing slashes trimmed,
    the query string as sent) + body."""
    path, mark, query = url.partition("?")
    relative = path.rstrip("/") + (mark + query if query else "")
    return hashlib.sha256(key.encode() + relative.encode() + body).hexdigest()


def headers(operator: Operator, url: str, body: bytes = b"", *, key: str | None = None) -> dict:
    return {
        "X-AUTH-OPERATOR-ID": str(operator.operator_id),
        "X-AUTH-REQUEST-HASH": sign(key or operator.primary, url, body),
        "Content-Type": "application/json",
    }


async def make_operator(
    runtime: Runtime,
    *,
    scopes: tuple[str, ...] = (SCOPE,),
    secondary: bool = True,
    environment: str | None = None,
) -> Operator:
    """An operator client with its shared keys, of ``environment`` (unset: the deployment's pin,
    else demo)."""
    operator_id = random.randint(1, 2_000_000_000)
    async with runtime.db.write_session() as session:
        client = await clients.create_client(
            session,
            name=unique("operator"),
            scopes=list(scopes),
            rate_limit_tier="unlimited",
            known_tiers=runtime.rate_limiter.tier_names(),
            operator_id=operator_id,
            environment=environment,
            pinned=runtime.settings.environment,
            actor=ACTOR,
        )
        keys = []
        for label in ("primary", "secondary") if secondary else ("primary",):
            issued = await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=client.id,
                kind=clients.OPERATOR_KEY,
                label=label,
                # A production fixture goes live without a certified UAT client (lab.golive).
                override_reason="test fixture",
                pinned=runtime.settings.environment,
                actor=ACTOR,
            )
            keys.append(issued.secret)
        await session.commit()
    return Operator(client.id, operator_id, keys[0], keys[-1])


async def call(
    http: httpx.AsyncClient,
    operator: Operator,
    method: str,
    url: str,
    body: Any = None,
    *,
    key: str | None = None,
) -> httpx.Response:
    """A signed request; ``url`` is the relative URL as sent (path and query)."""
    raw = b"" if body is None else orjson.dumps(body)
    return await http.request(
        method, url, content=raw, headers=headers(operator, url, raw, key=key)
    )


FIXED = {
    "freeBetDetailsType": "Fixed",
    "betValue": 1.5,
    "currencyIsoCode": "EUR",
    "betCount": 10,
}


RANGED = {
    "freeBetDetailsType": "Ranged",
    "minBetValue": 0.1,
    "maxBetValue": 2,
    "currencyIsoCode": "GBP",
    "minBetCount": 1,
    "maxBetCount": 20,
    "creditWalletType": "Cash",
    "stakeNotReturned": False,
}


def at(days: float) -> str:
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def campaign(http: httpx.AsyncClient, operator: Operator, **fields: Any) -> str:
    body = {
        "name": "Campaign",
        "startTimeUtc": at(-10),
        "endTimeUtc": at(30),
        "createdBy": "ops@example.com",
        **fields,
    }
    response = await call(http, operator, "POST", "/v1/campaigns", body)
    assert response.status_code == 200, response.text
    campaign_id: str = response.json()["data"]["id"]
    return campaign_id


def reward_body(**fields: Any) -> dict[str, Any]:
    return {
        "rewardType": "FreeBets",
        "name": "Ten free spins",
        "description": "Welcome free bets",
        "operatorReference": "OP-FB-1",
        "products": ["starburst", "book-of-dead"],
        "startTimeUtc": at(-1),
        "endTimeUtc": at(7),
        "createdBy": "ops@example.com",
        "freeBetDetails": FIXED,
        **fields,
    }


async def create(
    http: httpx.AsyncClient, operator: Operator, campaign_id: str, **fields: Any
) -> dict[str, Any]:
    url = f"/v1/campaigns/{campaign_id}/rewards"
    response = await call(http, operator, "POST", url, reward_body(**fields))
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["message"] == "OK" and envelope["responseCode"] == "OK"
    data: dict[str, Any] = envelope["data"]
    return data


RANGED_VALUE = "betValue is required for a Ranged reward and must be from 0.10 to 2.00"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def set_clock(http: httpx.AsyncClient, moment: datetime) -> None:
    """Move the application's "now" (the Operator API routes read ``runtime.clock()``)."""
    http.app.state.runtime.clock = lambda: moment  # type: ignore[attr-defined]


async def reward(http: httpx.AsyncClient, operator: Operator, **fields: Any) -> dict[str, Any]:
    """A reward (Fixed, 10 bets of 1.50 EUR, Active) in a fresh Active campaign."""
    campaign_id = await campaign(http, operator, operatorReference="CMP-REF")
    return await create(http, operator, campaign_id, **fields)


async def enrol(
    http: httpx.AsyncClient, operator: Operator, reward_id: str, player: str, **extra: Any
) -> dict[str, Any]:
    url = f"/v1/rewards/{reward_id}/enrollments"
    response = await call(http, operator, "POST", url, {"operatorPlayerId": player, **extra})
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["message"] == "OK" and envelope["responseCode"] == "OK"
    data: dict[str, Any] = envelope["data"]
    return data


async def get(http: httpx.AsyncClient, operator: Operator, enrollment_id: str) -> dict[str, Any]:
    response = await call(http, operator, "GET", f"/v1/enrollments/{enrollment_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def bet(
    http: httpx.AsyncClient,
    operator: Operator,
    enrollment_id: str,
    bet_id: str,
    product: str = "starburst",
) -> httpx.Response:
    url = f"/v1/enrollments/{enrollment_id}/bets"
    return await call(http, operator, "POST", url, {"betId": bet_id, "product": product})


async def listed(http: httpx.AsyncClient, operator: Operator, url: str) -> list[str]:
    """The operator player ids a listing answers, in order."""
    response = await call(http, operator, "GET", url)
    assert response.status_code == 200, response.text
    return [e["operatorPlayerId"] for e in response.json()["data"]]


async def bulk_reward(http: httpx.AsyncClient, operator: Operator, **fields: Any) -> dict[str, Any]:
    return await create(http, operator, await campaign(http, operator), **fields)


async def post_bulk(
    http: httpx.AsyncClient, operator: Operator, reward_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await call(http, operator, "POST", f"/v1/rewards/{reward_id}/enrollments/bulk", body)


async def wait_bulk(
    http: httpx.AsyncClient,
    operator: Operator,
    reward_id: str,
    bulk_id: str,
    *,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Poll the bulk enrollment until it is Completed or Failed."""
    url = f"/v1/rewards/{reward_id}/enrollments/bulk/{bulk_id}"
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await call(http, operator, "GET", url)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        if data["status"] in ("Completed", "Failed"):
            return data
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"bulk enrollment {bulk_id} after {timeout} s: {data}")
        await asyncio.sleep(0.1)
