"""Shared helpers of the fault-injection tests: a client of each surface with one effect to
count, the Admin API's fault rules, and what an SDK client's traffic looked like.

``Scenario`` is one surface's effect done through the SDK (an issuance job, a voucher order, a
points award, an enrollment), with the route a rule targets and a count of that effect in the
database. ``Traffic`` records, through ``httpx`` event hooks, each request the SDK sent and each
answer it got: a lost answer is a request without one. ``first_only`` adds the sandbox header to
the first request of a route only, as an integrator's proxy would (the SDK sends the same headers
on every retry). ``logged_faults`` reads the request log when the deployment has one
(``GET /admin/requests``), so that a test can check that the fault and the recovery were
recorded; without it (404) it answers ``None``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.loyalty import rewards
from bestow.merchants import service as merchants
from bestow.models import OperatorEnrollment, PointsTransaction, Voucher
from bestow_client import Bestow
from tests.conftest import ACTOR, make_partner, unique
from tests.loyalty.helpers import REWARD, SCOPE, UNIT, make_member
from tests.oauth.helpers import VOUCHER_SCOPES, oauth_client
from tests.operator.helpers import make_operator
from tests.surfaces.partner.helpers import campaign_body, count_jobs, make_members, make_template
from tests.vouchers.helpers import make_product

FAULT = "X-Bestow-Fault"
APP_NAME = "fault-tests/1.0"


def admin(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add_rule(
    http: httpx.AsyncClient, token: str, client_id: str, **rule: Any
) -> dict[str, Any]:
    """A fault rule through the Admin API (``http`` on the application or a live server)."""
    response = await http.post(
        f"/admin/clients/{client_id}/faults", json=rule, headers=admin(token)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def post_rule(base_url: str, token: str, client_id: str, **rule: Any) -> httpx.Response:
    """``POST /admin/clients/{client_id}/faults`` on a live server."""
    return httpx.post(
        f"{base_url}/admin/clients/{client_id}/faults", json=rule, headers=admin(token)
    )


def add_rule_sync(base_url: str, token: str, client_id: str, **rule: Any) -> dict[str, Any]:
    response = post_rule(base_url, token, client_id, **rule)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def rules_sync(base_url: str, token: str, client_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/admin/clients/{client_id}/faults", headers=admin(token))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


@dataclass
class Traffic:
    """Every request an ``httpx`` client sent (method and path) and every answer it got."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    answers: list[tuple[str, str, int]] = field(default_factory=list)
    environments: set[str] = field(default_factory=set)

    def on_request(self, request: httpx.Request) -> None:
        self.sent.append((request.method, request.url.path))

    def on_response(self, response: httpx.Response) -> None:
        request = response.request
        self.answers.append((request.method, request.url.path, response.status_code))
        if environment := response.headers.get("x-bestow-environment"):
            self.environments.add(environment)

    def to(self, path_part: str) -> list[tuple[str, str]]:
        return [sent for sent in self.sent if path_part in sent[1] and sent[0] == "POST"]

    def statuses(self, path_part: str) -> list[int]:
        return [s for m, p, s in self.answers if path_part in p and m == "POST"]


def first_only(header: dict[str, str], path_part: str) -> Callable[[httpx.Request], None]:
    """A request hook adding ``header`` to the first POST whose path holds ``path_part``."""
    done: list[bool] = []

    def hook(request: httpx.Request) -> None:
        if not done and request.method == "POST" and path_part in request.url.path:
            done.append(True)
            request.headers.update(header)

    return hook


def sdk(
    base_url: str,
    traffic: Traffic,
    *,
    timeout: float = 30.0,
    hooks: tuple[Callable[[httpx.Request], None], ...] = (),
) -> Bestow:
    """A sync SDK client on ``base_url`` whose every request and answer ``traffic`` sees."""
    http = httpx.Client(
        base_url=base_url,
        timeout=timeout,
        event_hooks={
            "request": [*hooks, traffic.on_request],
            "response": [traffic.on_response],
        },
    )
    return Bestow(base_url=base_url, app_name=APP_NAME, timeout=timeout, http_client=http)


async def _count(runtime: Runtime, model: Any, client_id: str) -> int:
    async with runtime.db.session() as session:
        found = await session.scalar(
            select(func.count()).select_from(model).where(model.client_id == client_id)
        )
    return int(found or 0)


@dataclass
class Scenario:
    """One surface's effect through the SDK: ``act(bestow)`` does it once (retrying as the SDK
    does), ``effects()`` counts it in the database, ``route`` is the rule's route filter and
    ``path_part`` picks its requests out of the traffic."""

    surface: str
    client_id: str
    route: str
    path_part: str
    act: Callable[[Bestow], object]
    effects: Callable[[], Awaitable[int]]
    credentials: dict[str, str] = field(default_factory=dict)
    """The keyword arguments that open the surface on an SDK client."""
    product: str = ""
    """The Voucher API's product code (``voucher_scenario``)."""


async def partner_scenario(runtime: Runtime, base_url: str, environment: str = "demo") -> Scenario:
    """A partner client, its campaign (created before any rule) and one member: the effect is
    an issuance job."""
    client_id, token, merchant_id = await make_partner(
        runtime, tier="unlimited", environment=environment
    )
    template = await make_template(runtime, merchant_id)
    email = f"{unique('fault')}@example.com"
    await make_members(runtime, merchant_id, emails=[email])
    with Bestow(base_url=base_url, app_name=APP_NAME) as bestow:
        partner = bestow.partner(client_id=client_id, access_token=token)
        campaign = partner.create_campaign(**campaign_body(merchant_id, template.id)["campaign"])
    variant = next(v for v in campaign.raw["variants"] if v["name"] == "Treatment")

    def act(bestow: Bestow) -> object:
        partner = bestow.partner(client_id=client_id, access_token=token)
        return partner.issue(
            merchant_id=merchant_id,
            campaign_id=campaign.id,
            variant_id=variant["id"],
            identifiers=[email],
        )

    async def effects() -> int:
        return await count_jobs(runtime, client_id)

    return Scenario(
        "partner",
        client_id,
        "POST /partner/campaigns/issue",
        "/partner/campaigns/issue",
        act,
        effects,
    )


async def voucher_scenario(runtime: Runtime, environment: str = "demo") -> Scenario:
    """A Voucher API client and a product: the effect is a voucher order (one voucher)."""
    client_id, secret, _ = await oauth_client(
        runtime, VOUCHER_SCOPES, tier="unlimited", name="faults", environment=environment
    )
    product = await make_product(runtime)

    def act(bestow: Bestow) -> object:
        return bestow.vouchers(client_id=client_id, client_secret=secret).issue(product.code)

    async def effects() -> int:
        return await _count(runtime, Voucher, client_id)

    return Scenario(
        "vouchers",
        client_id,
        "POST /v3/products/{code}",
        "/v3/products/",
        act,
        effects,
        credentials={"client_id": client_id, "client_secret": secret},
        product=product.code,
    )


async def loyalty_scenario(runtime: Runtime, environment: str = "demo") -> Scenario:
    """A Loyalty API client granted a programme and one of its members: the effect is a points
    transaction."""
    client_id, secret, _ = await oauth_client(
        runtime, (SCOPE,), tier="unlimited", name="faults", environment=environment
    )
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session, name="Fault Merchant", handle=unique("fm"), time_zone="UTC", actor=ACTOR
        )
        await merchants.create_business_unit(
            session, merchant_id=merchant.id, name=UNIT, actor=ACTOR
        )
        await rewards.create_reward(
            session,
            merchant_id=merchant.id,
            reward_id=REWARD,
            name="Fault points",
            max_per_transaction=1000,
            enabled=True,
            actor=ACTOR,
        )
        await clients.grant_merchant(
            session, client_id=client_id, merchant_id=merchant.id, actor=ACTOR
        )
        await rewards.set_adhoc_feature(session, client_id=client_id, enabled=True, actor=ACTOR)
        await session.commit()
    member = await make_member(runtime, merchant.id)

    def act(bestow: Bestow) -> object:
        return bestow.loyalty(client_id=client_id, client_secret=secret).award(
            account_id=member.account_id, business_unit=UNIT, reward_id=REWARD, amount=10
        )

    async def effects() -> int:
        return await _count(runtime, PointsTransaction, client_id)

    return Scenario(
        "loyalty",
        client_id,
        "POST /client/users/{correlation_id}/adhoc-reward/",
        "/adhoc-reward",
        act,
        effects,
    )


async def operator_scenario(runtime: Runtime, base_url: str, environment: str = "demo") -> Scenario:
    """An operator, its campaign and Fixed reward (created before any rule): the effect is a
    player's enrollment."""
    operator = await make_operator(runtime, environment=environment)
    now = datetime.now(UTC)
    with Bestow(base_url=base_url, app_name=APP_NAME) as bestow:
        ops = bestow.operator(operator.operator_id, operator.primary)
        campaign = ops.create_campaign(
            name=unique("faults"), start_time=now - timedelta(minutes=5), created_by="tests"
        )
        reward = ops.create_reward(
            campaign.id,
            name="Two free bets",
            products=["Sportsbook"],
            start_time=now - timedelta(minutes=1),
            end_time=now + timedelta(days=7),
            created_by="tests",
            bet_value="1.50",
            bet_count=2,
            currency="EUR",
        )
    player = f"player-{uuid.uuid4().hex[:12]}"

    def act(bestow: Bestow) -> object:
        return bestow.operator(operator.operator_id, operator.primary).enrol(reward.id, player)

    async def effects() -> int:
        return await _count(runtime, OperatorEnrollment, operator.client_id)

    return Scenario(
        "operator",
        operator.client_id,
        "POST /v1/rewards/{reward_id}/enrollments",
        "/enrollments",
        act,
        effects,
    )


async def scenario(
    runtime: Runtime, base_url: str, surface: str, environment: str = "demo"
) -> Scenario:
    if surface == "partner":
        return await partner_scenario(runtime, base_url, environment)
    if surface == "vouchers":
        return await voucher_scenario(runtime, environment)
    if surface == "loyalty":
        return await loyalty_scenario(runtime, environment)
    return await operator_scenario(runtime, base_url, environment)


def logged_faults(
    base_url: str, token: str, client_id: str, *, wait_seconds: float = 5.0
) -> list[tuple[str, int, str | None]]:
    """``(route, status, fault)`` of the client's requests in the request log, oldest first,
    once one of them is marked with a fault and a later one answered without (the log is
    written off the request path)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        response = httpx.get(
            f"{base_url}/admin/requests", params={"client_id": client_id}, headers=admin(token)
        )
        assert response.status_code == 200, response.text
        rows = [
            (r["route"], r["status"], r.get("fault")) for r in reversed(response.json()["data"])
        ]
        if recovered(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def recovered(rows: list[tuple[str, int, str | None]]) -> bool:
    """A request marked with a fault, and a request of the same route answered below 400
    without one: the fault and the recovery, as the request log shows them. In either order:
    the log is in order of answers, and a slow answer comes after its retry's."""
    faulted = {route for route, _, fault in rows if fault}
    return any(route in faulted and status < 400 and not fault for route, status, fault in rows)
