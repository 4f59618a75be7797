"""The SDK's Voucher API against a real ``bestow serve`` on each test database, seeded with the
demo by the CLI: the catalogue cached, issuance keys reused on retries and repeats, orders of 20,
reads in batches of 20, token renewal, typed errors; with the sync and the async client."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from tests.fixtures.deployment import Deployment

from bestow_client import (
    AsyncBestow,
    AuthenticationError,
    BadRequestError,
    Bestow,
    Budget,
    NotFoundError,
    UnprocessableEntityError,
)
from bestow_client.vouchers import MAX_QUANTITY, order_keys

pytestmark = pytest.mark.slow

FIXED = "DEMO-SGD10"
OPEN = "DEMO-OPEN"
BUDGET = Budget(per_second=1000, per_window=1_000_000)
"""No client-side pacing in tests: the demo clients are of the server's ``high`` tier."""


def credentials(deployment: Deployment) -> dict[str, str]:
    """The demo voucher client's OAuth credentials."""
    v = deployment.demo["vouchers"]
    return {"client_id": v["client_id"], "client_secret": v["client_secret"]}


class Seen:
    """Requests sent, counted by an httpx event hook."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def hook(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == path)

    def mark(self) -> int:
        return len(self.requests)

    def since(self, mark: int) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests[mark:]]


class DropFirstAnswer(httpx.BaseTransport):
    """Sends every request to the server, but loses the answer of the first one ``match``
    accepts (a timeout after the server acted), so that the driver retries it."""

    def __init__(self, match: Callable[[httpx.Request], bool]) -> None:
        self.inner = httpx.HTTPTransport()
        self.match = match
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.dropped and self.match(request):
            self.dropped += 1
            response.read()
            response.close()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncDropFirstAnswer(httpx.AsyncBaseTransport):
    def __init__(self, match: Callable[[httpx.Request], bool]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.match = match
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.dropped and self.match(request):
            self.dropped += 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def is_issue(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.startswith("/v3/products/")


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


# --- pure ------------------------------------------------------------------------------------


def test_order_keys_are_the_key_then_derived_uuids() -> None:
    key = str(uuid.uuid4())
    keys = order_keys(key, 3)
    assert keys[0] == key
    assert keys == order_keys(key, 3)
    assert len(set(keys)) == 3
    assert all(uuid.UUID(k) for k in keys)
    assert len(set(order_keys(None, 2))) == 2
    with pytest.raises(ValueError, match="UUID"):
        order_keys("not-a-uuid", 1)


# --- sync ------------------------------------------------------------------------------------


def test_products_are_cached(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        products = vouchers.products()
        assert {FIXED, OPEN} <= {p.code for p in products}
        fixed = next(p for p in products if p.code == FIXED)
        assert (fixed.face_value, fixed.currency, fixed.is_open_value) == (1000, "SGD", False)
        assert seen.since(0) == ["POST /oauth2/token", "GET /v3/products"]

        mark = seen.mark()
        assert vouchers.products() == products
        assert vouchers.product(FIXED) == fixed
        assert seen.since(mark) == []

        assert vouchers.products(refresh=True) == products
        assert seen.since(mark) == ["GET /v3/products"]


def test_issue_reuses_the_key(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        key = str(uuid.uuid4())
        [first] = vouchers.issue(FIXED, quantity=2, idempotency_key=key)
        assert not first.replayed and first.recorded_at is None
        assert first.idempotency_key == key and len(first.vouchers) == 2
        assert {v.status for v in first.vouchers} == {"active"}

        [again] = vouchers.issue(FIXED, quantity=2, idempotency_key=key)
        assert again.replayed and again.recorded_at
        assert [v.id for v in again.vouchers] == [v.id for v in first.vouchers]
        keys = {r.headers["idempotency-key"] for r in seen.requests if is_issue(r)}
        assert keys == {key}

        # Without a key, each call is a new issuance with a key of its own.
        [a] = vouchers.issue(FIXED)
        [b] = vouchers.issue(FIXED)
        assert a.idempotency_key != b.idempotency_key
        assert a.vouchers[0].id != b.vouchers[0].id


def test_a_lost_answer_is_retried_with_the_same_key(deployment: Deployment) -> None:
    seen = Seen()
    transport = DropFirstAnswer(is_issue)
    with sync_client(deployment, seen, transport) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        [order] = vouchers.issue(OPEN, quantity=3, face_value=1051)
        assert transport.dropped == 1
        issues = [r for r in seen.requests if is_issue(r)]
        assert len(issues) == 2
        assert issues[0].headers["idempotency-key"] == issues[1].headers["idempotency-key"]
        # The first attempt issued; the retry got the same vouchers back.
        assert order.replayed and len(order.vouchers) == 3
        assert all(v.name.startswith("$10.51 ") for v in order.vouchers)


def test_25_vouchers_make_two_orders_and_two_reads(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        key = str(uuid.uuid4())
        orders = vouchers.issue(FIXED, quantity=25, idempotency_key=key)
        assert [len(o.vouchers) for o in orders] == [MAX_QUANTITY, 5]
        assert [o.idempotency_key for o in orders] == order_keys(key, 2)
        assert not any(o.replayed for o in orders)
        ids = [v.id for o in orders for v in o.vouchers]
        assert len(set(ids)) == 25

        wanted = ids[::-1]
        mark = seen.mark()
        read = vouchers.vouchers(wanted)
        assert [v.id for v in read] == wanted
        assert seen.since(mark) == ["GET /v3/vouchers", "GET /v3/vouchers"]
        sizes = [len(r.url.params["id"].split(",")) for r in seen.requests[mark:]]
        assert sizes == [20, 5]
        assert vouchers.voucher(ids[0]).code == orders[0].vouchers[0].code

        # The same call again replays both orders.
        again = vouchers.issue(FIXED, quantity=25, idempotency_key=key)
        assert all(o.replayed for o in again)
        assert [v.id for o in again for v in o.vouchers] == ids
        # Another quantity meets the first order's key: refused, nothing issued.
        with pytest.raises(UnprocessableEntityError) as refused:
            vouchers.issue(FIXED, quantity=5, idempotency_key=key)
        assert refused.value.code == "422-000"
        assert vouchers.vouchers([]) == []


def test_typed_errors(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        with pytest.raises(NotFoundError) as missing:
            vouchers.product("NO-SUCH-PRODUCT")
        assert (missing.value.status_code, missing.value.code) == (404, "404-000")
        with pytest.raises(NotFoundError):
            vouchers.issue("NO-SUCH-PRODUCT")
        with pytest.raises(NotFoundError):
            vouchers.voucher(str(uuid.uuid4()))
        with pytest.raises(BadRequestError) as no_value:
            vouchers.issue(OPEN)
        assert no_value.value.code == "400-056"
        with pytest.raises(ValueError, match="quantity"):
            vouchers.issue(FIXED, quantity=0)

        wrong = bestow.vouchers(client_id=credentials(deployment)["client_id"], client_secret="x")
        with pytest.raises(AuthenticationError) as denied:
            wrong.products()
        assert denied.value.code == "invalid_client"


def test_tokens_are_renewed_before_expiry(deployment: Deployment) -> None:
    now = [1000.0]
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment), clock=lambda: now[0])
        vouchers.products()
        vouchers.products(refresh=True)
        assert vouchers.ops.tokens.issued == 1
        now[0] += 3600 - 61  # more than a minute before expiry: kept
        vouchers.products(refresh=True)
        assert vouchers.ops.tokens.issued == 1
        now[0] += 2  # within the last minute: renewed
        vouchers.products(refresh=True)
        assert vouchers.ops.tokens.issued == 2
        assert seen.count("POST", "/oauth2/token") == 2


def test_a_refused_token_is_renewed_once(deployment: Deployment) -> None:
    seen = Seen()
    with sync_client(deployment, seen) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        vouchers.products()
        vouchers.ops.tokens._token = "garbage"  # revoked or tampered, not yet expired
        mark = seen.mark()
        assert vouchers.products(refresh=True)
        assert seen.since(mark) == ["GET /v3/products", "POST /oauth2/token", "GET /v3/products"]
        assert vouchers.ops.tokens.issued == 2


# --- async -----------------------------------------------------------------------------------


async def test_async_client(deployment: Deployment) -> None:
    seen = Seen()
    transport = AsyncDropFirstAnswer(is_issue)
    async with async_client(deployment, seen, transport) as bestow:
        vouchers = bestow.vouchers(**credentials(deployment))
        products = await vouchers.products()
        mark = seen.mark()
        assert await vouchers.products() == products
        assert await vouchers.product(OPEN) == next(p for p in products if p.code == OPEN)
        assert seen.since(mark) == []

        key = str(uuid.uuid4())
        orders = await vouchers.issue(OPEN, quantity=25, face_value=500, idempotency_key=key)
        assert transport.dropped == 1
        assert [len(o.vouchers) for o in orders] == [20, 5]
        assert orders[0].replayed  # its answer was lost: the retry replayed it
        assert not orders[1].replayed
        ids = [v.id for o in orders for v in o.vouchers]
        again = await vouchers.issue(OPEN, quantity=25, face_value=500, idempotency_key=key)
        assert all(o.replayed for o in again)
        assert [v.id for o in again for v in o.vouchers] == ids

        mark = seen.mark()
        read = await vouchers.vouchers(ids)
        assert [v.id for v in read] == ids
        assert seen.since(mark) == ["GET /v3/vouchers", "GET /v3/vouchers"]
        assert (await vouchers.voucher(ids[-1])).remaining_amount == 500

        vouchers.ops.tokens._token = "garbage"
        mark = seen.mark()
        await vouchers.voucher(ids[0])
        assert seen.count("POST", "/oauth2/token") == 2
        assert len(seen.since(mark)) == 3

        with pytest.raises(NotFoundError) as missing:
            await vouchers.issue("NO-SUCH-PRODUCT", quantity=1)
        assert missing.value.code == "404-000"
