"""The SDK's Loyalty API against a real ``bestow serve`` on each test database, seeded with the
demo by the CLI: sessions, ad hoc awards credited once per external reference (on a retry and on
a repeat), history, token renewal, typed errors; with the sync and the async client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.fixtures.deployment import Deployment

from bestow_client import AsyncBestow, BadRequestError, Bestow, Budget
from bestow_client.loyalty import Loyalty

pytestmark = pytest.mark.slow

BUDGET = Budget(per_second=1000, per_window=1_000_000)
"""No client-side pacing in tests: the demo clients are of the server's ``high`` tier."""


def loyalty_demo(deployment: Deployment) -> dict[str, Any]:
    """The demo's Loyalty API part: its client, member, business units and rewards."""
    found: dict[str, Any] = deployment.demo["loyalty"]
    return found


def credentials(deployment: Deployment) -> dict[str, str]:
    demo = loyalty_demo(deployment)
    return {"client_id": demo["client_id"], "client_secret": demo["client_secret"]}


def account_id(deployment: Deployment) -> str:
    """The demo member's account."""
    account: str = loyalty_demo(deployment)["member"]["account_id"]
    return account


def award_fields(deployment: Deployment, **fields: Any) -> dict[str, Any]:
    """An award's fields for the demo member, with ``fields`` over them."""
    demo = loyalty_demo(deployment)
    return {
        "account_id": account_id(deployment),
        "business_unit": demo["business_units"][0],
        "reward_id": demo["reward_ids"][0],
        "amount": 7,
    } | fields


class Seen:
    """Requests sent, counted by an httpx event hook."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def hook(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def since(self, mark: int) -> list[str]:
        return [f"{r.method} {r.url.path.split('/')[-1] or 'adhoc'}" for r in self.requests[mark:]]

    def bodies(self, match: Callable[[httpx.Request], bool]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = [json.loads(r.content) for r in self.requests if match(r)]
        return found


def is_award(request: httpx.Request) -> bool:
    return request.method == "POST" and "/adhoc-reward" in request.url.path


class DropFirstAnswer(httpx.BaseTransport):
    """Sends every request to the server, but loses the answer of the first award (a timeout
    after the server acted), so that the driver retries it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.dropped and is_award(request):
            self.dropped += 1
            response.read()
            response.close()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncDropFirstAnswer(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.dropped and is_award(request):
            self.dropped += 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def sync_client(
    deployment: Deployment, seen: Seen, transport: httpx.BaseTransport | None = None
) -> Bestow:
    http = httpx.Client(
        base_url=deployment.base_url, event_hooks={"request": [seen]}, transport=transport
    )
    return Bestow(base_url=deployment.base_url, budget=BUDGET, http_client=http)


def async_client(
    deployment: Deployment, seen: Seen, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncBestow:
    http = httpx.AsyncClient(
        base_url=deployment.base_url, event_hooks={"request": [seen.hook]}, transport=transport
    )
    return AsyncBestow(base_url=deployment.base_url, budget=BUDGET, http_client=http)


def balance(loyalty: Loyalty, account_id: str) -> int:
    return loyalty.session(account_id).points_balance


# --- sync ------------------------------------------------------------------------------------


def test_session(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        loyalty = bestow.loyalty(**credentials(deployment))
        opened = loyalty.session(account_id(deployment), correlation_id="sdk-session-1")
        assert opened.account_id == account_id(deployment)
        assert (opened.status, opened.correlation_id, opened.channel) == (
            "ACTIVE",
            "sdk-session-1",
            "APP",
        )
        assert opened.identifier_type == "ACCOUNT_ID"
        by_email = loyalty.session(
            loyalty_demo(deployment)["member"]["email"], identifier_type="EMAIL"
        )
        assert by_email.account_id == account_id(deployment)
        assert by_email.correlation_id != opened.correlation_id
        with pytest.raises(ValueError, match="identifier_type"):
            loyalty.session(account_id(deployment), identifier_type="PARTNER_LINK_ID")


def test_award_is_credited_once_per_reference(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        loyalty = bestow.loyalty(**credentials(deployment))
        before = balance(loyalty, account_id(deployment))
        reference = f"order-{uuid.uuid4()}"
        first = loyalty.award(**award_fields(deployment, amount=7, external_reference_id=reference))
        assert first.transaction_id.startswith("ptx_")
        assert (first.points, first.external_reference_id) == (7, reference)
        assert first.message == "Ad hoc reward of 7 points awarded"
        assert first.balance is None
        assert balance(loyalty, account_id(deployment)) == before + 7

        # The same reference again, even with another amount: the first transaction, no credit.
        again = loyalty.award(**award_fields(deployment, amount=9, external_reference_id=reference))
        assert again.transaction_id == first.transaction_id
        assert again.points == 7
        assert again.correlation_id != first.correlation_id
        assert balance(loyalty, account_id(deployment)) == before + 7

        history = loyalty.history(again.correlation_id)
        mine = [e for e in history if e.external_reference_id == reference]
        assert [(e.transaction_id, e.points, e.type) for e in mine] == [
            (first.transaction_id, 7, "AD_HOC_REWARD")
        ]
        assert mine[0].balance_after == before + 7
        assert history[0].transaction_id == first.transaction_id  # newest first
        assert len(loyalty.history(again.correlation_id, limit=1)) == 1

        # Without a reference, one is generated: each call is an award of its own.
        a = loyalty.award(**award_fields(deployment, amount=1))
        b = loyalty.award(**award_fields(deployment, amount=-1))
        assert a.external_reference_id != b.external_reference_id
        assert (a.points, b.points) == (1, -1)
        assert balance(loyalty, account_id(deployment)) == before + 7


def test_a_lost_answer_is_retried_with_the_same_reference(deployment: Deployment) -> None:
    seen = Seen()
    transport = DropFirstAnswer()
    with sync_client(deployment, seen, transport) as bestow:
        loyalty = bestow.loyalty(**credentials(deployment))
        before = balance(loyalty, account_id(deployment))
        award = loyalty.award(**award_fields(deployment, amount=5))
        assert transport.dropped == 1
        bodies = seen.bodies(is_award)
        assert len(bodies) == 2 and bodies[0] == bodies[1]
        assert bodies[0]["externalReferenceId"] == award.external_reference_id
        assert balance(loyalty, account_id(deployment)) == before + 5
        history = loyalty.history(award.correlation_id, limit=5)
        assert [e.transaction_id for e in history].count(award.transaction_id) == 1


def test_typed_errors(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        loyalty = bestow.loyalty(**credentials(deployment))
        with pytest.raises(BadRequestError) as unit:
            loyalty.award(**award_fields(deployment, business_unit="Nowhere"))
        assert unit.value.code == "INVALID_REQUEST"
        assert unit.value.message == "Business Unit Nowhere is not a valid business unit"
        with pytest.raises(BadRequestError) as account:
            loyalty.session(str(uuid.uuid4()))
        assert account.value.message == "Could not find the account"
        with pytest.raises(BadRequestError) as reward:
            loyalty.award(
                **award_fields(deployment, reward_id=loyalty_demo(deployment)["disabled_reward_id"])
            )
        assert reward.value.message == "Reward identifier is invalid"
        with pytest.raises(ValueError, match="non-zero"):
            loyalty.award(**award_fields(deployment, amount=0))

        disabled = bestow.loyalty(
            client_id=loyalty_demo(deployment)["feature_disabled_client"]["client_id"],
            client_secret=loyalty_demo(deployment)["feature_disabled_client"]["client_secret"],
        )
        with pytest.raises(BadRequestError) as feature:
            disabled.award(**award_fields(deployment))
        assert feature.value.message == "Adhoc Reward feature is not enabled"


def test_tokens_are_renewed(deployment: Deployment) -> None:
    now = [0.0]
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        loyalty = bestow.loyalty(**credentials(deployment), clock=lambda: now[0])
        opened = loyalty.session(account_id(deployment))
        loyalty.history(opened.correlation_id)
        assert loyalty.ops.tokens.issued == 1
        now[0] += 3600
        loyalty.history(opened.correlation_id)
        assert loyalty.ops.tokens.issued == 2

        loyalty.ops.tokens._token = "garbage"  # revoked or tampered, not yet expired
        mark = len(seen.requests)
        loyalty.history(opened.correlation_id)
        assert seen.since(mark) == ["GET v2", "POST token", "GET v2"]
        assert loyalty.ops.tokens.issued == 3


# --- async -----------------------------------------------------------------------------------


async def test_async_client(deployment: Deployment) -> None:
    seen = Seen()
    transport = AsyncDropFirstAnswer()
    async with async_client(deployment, seen, transport) as bestow:
        loyalty = bestow.loyalty(**credentials(deployment))
        before = (await loyalty.session(account_id(deployment))).points_balance
        reference = f"order-{uuid.uuid4()}"
        first = await loyalty.award(
            **award_fields(deployment, amount=3, external_reference_id=reference)
        )
        assert transport.dropped == 1  # the first answer was lost; the retry was credited once
        again = await loyalty.award(
            **award_fields(deployment, amount=3, external_reference_id=reference)
        )
        assert again.transaction_id == first.transaction_id
        opened = await loyalty.session(account_id(deployment))
        assert opened.points_balance == before + 3
        history = await loyalty.history(opened.correlation_id)
        assert [e.external_reference_id for e in history].count(reference) == 1

        loyalty.ops.tokens._token = "garbage"
        mark = len(seen.requests)
        await loyalty.history(opened.correlation_id, limit=1)
        assert seen.since(mark) == ["GET v2", "POST token", "GET v2"]

        with pytest.raises(BadRequestError) as account:
            await loyalty.award(**award_fields(deployment, account_id=str(uuid.uuid4())))
        assert account.value.message == "Could not find the account"
