"""Reference namespaces, generated from the route table (issue 16): every value a client chooses to
name or key a write (an idempotency key, an external reference, a correlation id, a bet id, a
player id, an operator reference) is the client's own. Client B using the value client A used
gets an outcome of its own, never A's answer, and takes nothing from A.

A client-facing write route whose header or body field looks like such a value
(``REFERENCE``) and that has no entry in ``NAMESPACES`` fails
``test_every_reference_is_covered``: add how A and then B use the same value."""

from __future__ import annotations

import re
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bestow.clients import service as clients
from bestow.loyalty import rewards as loyalty_rewards
from bestow.models import Member
from tests.conftest import ACTOR
from tests.loyalty.helpers import SCOPE, login, make_member, open_session, reward_body
from tests.operator.helpers import campaign as operator_campaign
from tests.operator.helpers import create as operator_reward
from tests.security.world import Route, World, is_public, route_table
from tests.surfaces.partner.helpers import create_campaign, make_template, variant_id
from tests.vouchers.helpers import create as create_product
from tests.vouchers.helpers import fixed

CLIENT_SURFACES = ("partner", "vouchers", "loyalty", "operator")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
REFERENCE = re.compile(r"idempotency|reference|correlation|betid|playerid", re.IGNORECASE)
"""The names of client-chosen values that key or name something."""


def _fields(route: Route) -> list[str]:
    """The route's header names and JSON body fields (a declared model, or the documented body
    of a route that reads its body itself)."""
    dependant = route.route.dependant
    names = [str(h.alias) for h in dependant.header_params]
    for body in dependant.body_params:
        annotation = body.field_info.annotation
        for model in (annotation, *typing.get_args(annotation)):
            names.extend(getattr(model, "model_fields", {}))
    extra = getattr(getattr(route.route, "original_route", None), "openapi_extra", None) or {}
    content = extra.get("requestBody", {}).get("content", {})
    names.extend(content.get("application/json", {}).get("schema", {}).get("properties", {}))
    return names


def references() -> list[tuple[str, str]]:
    """(``METHOD path``, field) of every client-facing write that takes a reference; a path and
    its trailing-slash twin are one."""
    found: dict[tuple[str, str], None] = {}
    for route in route_table():
        if route.surface not in CLIENT_SURFACES or route.method not in WRITES:
            continue
        if is_public(route):
            continue
        for name in _fields(route):
            if REFERENCE.search(name):
                found[(f"{route.method} {route.path.rstrip('/')}", name)] = None
    return list(found)


# --- The scenarios ---------------------------------------------------------------------------


@dataclass
class Scene:
    world: World
    programme_partner: dict[str, str]
    """Headers of a second client of client A's loyalty programme (same merchant)."""


Scenario = Callable[[Scene, str], Awaitable[None]]


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _not_replayed(response: httpx.Response) -> None:
    replay = {"idempotent-replayed", "idempotency-record"}
    assert not replay & {h.lower() for h in response.headers}, dict(response.headers)


async def _partner_issue_key(scene: Scene, value: str) -> None:
    world = scene.world
    jobs = []
    for partner in (world.partner_a, world.partner_b):
        template = await make_template(world.runtime, partner.merchant_id)
        campaign = await create_campaign(world.http, partner, template.id)
        response = await world.http.post(
            "/partner/campaigns/issue",
            headers={**partner.headers(), "X-Idempotency-Key": value},
            json={
                "campaign_id": campaign["id"],
                "merchant_id": partner.merchant_id,
                "variant_id": variant_id(campaign, "Treatment"),
                "identifiers": [{"type": "email", "value": "ref.check@example.com"}],
            },
        )
        _not_replayed(response)
        jobs.append(_ok(response, 202)["issuance_job"])
    assert jobs[0]["id"] != jobs[1]["id"]
    assert jobs[1]["campaign_id"] != jobs[0]["campaign_id"]


async def _voucher_order_key(scene: Scene, value: str) -> None:
    world = scene.world
    code = world.objects["vouchers.product_code"]
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, value))

    async def order(who: str) -> httpx.Response:
        return await world.as_b(
            "vouchers",
            "POST",
            f"/v3/products/{code}",
            body={"quantity": 1},
            headers={"Idempotency-Key": key},
            who=who,
        )

    first = _ok(await order("a"))
    second = await order("b")
    _not_replayed(second)
    ids = {v["voucher_id"] for v in _ok(second)["vouchers"]}
    assert ids and not ids & {v["voucher_id"] for v in first["vouchers"]}


async def _redemption_reference(scene: Scene, value: str) -> None:
    world = scene.world
    product = await create_product(world.runtime, **fixed(is_multiple_use=True))
    issued = await world.as_b(
        "vouchers",
        "POST",
        f"/v3/products/{product.code}",
        body={"quantity": 1},
        headers={"Idempotency-Key": str(uuid.uuid4())},
        who="a",
    )
    [voucher] = _ok(issued)["vouchers"]
    url = f"/v3/merchant/vouchers/{voucher['voucher_code']}/redeem"
    body = {"amount": 100, "reference": value[:100]}
    first = _ok(await world.as_b("vouchers", "POST", url, body=body, who="a"))
    second = await world.as_b("vouchers", "POST", url, body=body, who="b")
    _not_replayed(second)
    redemption = _ok(second)["redemption"]
    assert redemption["id"] != first["redemption"]["id"]
    assert redemption["remaining_after"] == first["redemption"]["remaining_after"] - 100


async def _loyalty_member(scene: Scene) -> tuple[Member, str, str]:
    """A member of A's programme with a session of A and one of the programme's other client."""
    world = scene.world
    member = await make_member(world.runtime, world.loyalty_a.merchant_id)
    ours = await open_session(world.http, world.loyalty_a.headers, member)
    theirs = await open_session(world.http, scene.programme_partner, member)
    return member, ours, theirs


async def _award(
    scene: Scene, headers: dict[str, str], correlation_id: str, body: Any, key: str | None = None
) -> httpx.Response:
    sent = {**headers, **({"Idempotency-Key": key} if key else {})}
    return await scene.world.http.post(
        f"/client/users/{correlation_id}/adhoc-reward/", json=body, headers=sent
    )


async def _history_points(scene: Scene, headers: dict[str, str], correlation_id: str) -> int:
    response = await scene.world.http.get(
        f"/client/users/{correlation_id}/transactions/history/v2", headers=headers
    )
    return sum(t["points"] for t in _ok(response)["transactions"])


async def _loyalty_reference(scene: Scene, value: str) -> None:
    _, ours, theirs = await _loyalty_member(scene)
    a = scene.world.loyalty_a.headers
    first = _ok(await _award(scene, a, ours, reward_body(100, externalReferenceId=value[:200])))
    second = await _award(
        scene, scene.programme_partner, theirs, reward_body(250, externalReferenceId=value[:200])
    )
    assert _ok(second)["transactionId"] != first["transactionId"]
    assert await _history_points(scene, a, ours) == 350


async def _loyalty_idempotency_key(scene: Scene, value: str) -> None:
    _, ours, theirs = await _loyalty_member(scene)
    a = scene.world.loyalty_a.headers
    first = _ok(await _award(scene, a, ours, reward_body(100), key=value))
    second = await _award(scene, scene.programme_partner, theirs, reward_body(250), key=value)
    _not_replayed(second)
    assert _ok(second)["transactionId"] != first["transactionId"]
    assert await _history_points(scene, a, ours) == 350


async def _loyalty_correlation(scene: Scene, value: str) -> None:
    world = scene.world
    member = await make_member(world.runtime, world.loyalty_a.merchant_id)
    correlation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, value))
    body = {"correlationId": correlation_id, "channel": "APP"}
    for headers in (world.loyalty_a.headers, scene.programme_partner):
        response = await world.http.post(
            f"/client/users/{member.account_id}/sessions", json=body, headers=headers
        )
        assert _ok(response)["correlationId"] == correlation_id
    _ok(await _award(scene, world.loyalty_a.headers, correlation_id, reward_body(100)))
    _ok(await _award(scene, scene.programme_partner, correlation_id, reward_body(250)))
    assert await _history_points(scene, world.loyalty_a.headers, correlation_id) == 350


async def _operator_reward_pair(scene: Scene) -> tuple[str, str]:
    world = scene.world
    ours = await operator_reward(
        world.http, world.operator_a, await operator_campaign(world.http, world.operator_a)
    )
    theirs = await operator_reward(
        world.http, world.operator_b, await operator_campaign(world.http, world.operator_b)
    )
    return ours["id"], theirs["id"]


async def _operator_reference(scene: Scene, value: str) -> None:
    world = scene.world
    made = [
        await operator_campaign(world.http, operator, operatorReference=value[:100])
        for operator in (world.operator_a, world.operator_b)
    ]
    assert made[0] != made[1]
    theirs = await world.as_b("operator", "GET", f"/v1/campaigns/{made[1]}")
    assert _ok(theirs)["data"]["operatorReference"] == value[:100]


async def _operator_reward_reference(scene: Scene, value: str) -> None:
    world = scene.world
    made = []
    for operator in (world.operator_a, world.operator_b):
        campaign_id = await operator_campaign(world.http, operator)
        made.append(
            await operator_reward(world.http, operator, campaign_id, operatorReference=value)
        )
    assert made[0]["id"] != made[1]["id"]
    assert made[1]["operatorReference"] == value


async def _operator_player(scene: Scene, value: str) -> None:
    world = scene.world
    ours, theirs = await _operator_reward_pair(scene)
    player = value[:200]
    url = "/v1/rewards/{}/enrollments"
    first = _ok(
        await world.as_b(
            "operator", "POST", url.format(ours), body={"operatorPlayerId": player}, who="a"
        )
    )["data"]
    second = _ok(
        await world.as_b("operator", "POST", url.format(theirs), body={"operatorPlayerId": player})
    )["data"]
    assert second["id"] != first["id"]
    assert (second["rewardId"], second["status"]) == (theirs, "New")


async def _operator_bulk_players(scene: Scene, value: str) -> None:
    world = scene.world
    ours, theirs = await _operator_reward_pair(scene)
    player = value[:200]
    url = "/v1/rewards/{}/enrollments"
    _ok(
        await world.as_b(
            "operator", "POST", url.format(ours), body={"operatorPlayerId": player}, who="a"
        )
    )
    bulk = _ok(
        await world.as_b(
            "operator", "POST", url.format(theirs) + "/bulk", body={"operatorPlayerIds": [player]}
        ),
        202,
    )["data"]
    assert bulk["rewardId"] == theirs
    listed = _ok(await world.as_b("operator", "GET", url.format(ours), who="a"))["data"]
    assert [e["operatorPlayerId"] for e in listed] == [player]


async def _operator_bet(scene: Scene, value: str) -> None:
    world = scene.world
    ours, theirs = await _operator_reward_pair(scene)
    enrolled = []
    for who, reward_id in (("a", ours), ("b", theirs)):
        response = await world.as_b(
            "operator",
            "POST",
            f"/v1/rewards/{reward_id}/enrollments",
            body={"operatorPlayerId": "bettor"},
            who=who,
        )
        enrolled.append(_ok(response)["data"])
    placed = []
    for who, enrollment in zip(("a", "b"), enrolled, strict=True):
        response = await world.as_b(
            "operator",
            "POST",
            f"/v1/enrollments/{enrollment['id']}/bets",
            body={"betId": value[:200], "product": "starburst"},
            who=who,
        )
        placed.append(_ok(response)["data"])
    assert placed[0]["id"] != placed[1]["id"]
    assert placed[1]["enrollmentId"] == enrolled[1]["id"]
    assert placed[1]["remainingBetCount"] == enrolled[1]["totalBetCount"] - 1


NAMESPACES: dict[tuple[str, str], Scenario] = {
    ("POST /partner/campaigns/issue", "X-Idempotency-Key"): _partner_issue_key,
    ("POST /v3/products/{code}", "Idempotency-Key"): _voucher_order_key,
    ("POST /v3/merchant/vouchers/{voucher_code}/redeem", "reference"): _redemption_reference,
    ("POST /client/users/{identifier}/sessions", "correlationId"): _loyalty_correlation,
    ("POST /client/users/{correlation_id}/adhoc-reward", "Idempotency-Key"): (
        _loyalty_idempotency_key
    ),
    ("POST /client/users/{correlation_id}/adhoc-reward", "externalReferenceId"): (
        _loyalty_reference
    ),
    ("POST /v1/campaigns", "operatorReference"): _operator_reference,
    ("POST /v1/campaigns/{campaign_id}/rewards", "operatorReference"): _operator_reward_reference,
    ("POST /v1/rewards/{reward_id}/enrollments", "operatorPlayerId"): _operator_player,
    ("POST /v1/rewards/{reward_id}/enrollments/bulk", "operatorPlayerIds"): (
        _operator_bulk_players
    ),
    ("POST /v1/enrollments/{enrollment_id}/bets", "betId"): _operator_bet,
}
"""(``METHOD path``, field) -> how client A and then client B use the same value, and what B
must get: an outcome of its own."""


def test_every_reference_is_covered() -> None:
    missing = [ref for ref in references() if ref not in NAMESPACES]
    assert not missing, (
        "Write routes take client-chosen references this check does not know; add to "
        f"tests/security/test_references.py NAMESPACES how A and B collide on them: {missing}"
    )
    assert len(references()) >= 10


@pytest.fixture
async def programme_partner(world: World) -> dict[str, str]:
    """A second client of client A's loyalty programme, with the ad hoc feature."""
    client_id, headers = await login(world.http, world.runtime, (SCOPE,))
    async with world.runtime.db.write_session() as session:
        await clients.grant_merchant(
            session, client_id=client_id, merchant_id=world.loyalty_a.merchant_id, actor=ACTOR
        )
        await loyalty_rewards.set_adhoc_feature(
            session, client_id=client_id, enabled=True, actor=ACTOR
        )
        await session.commit()
    return headers


@pytest.mark.parametrize("reference", references(), ids=lambda r: f"{r[0]} {r[1]}")
async def test_client_b_reusing_client_a_reference_gets_its_own_outcome(
    world: World, programme_partner: dict[str, str], reference: tuple[str, str]
) -> None:
    scenario = NAMESPACES[reference]
    value = f"order-{uuid.uuid4().hex[:12]}"
    await scenario(Scene(world, programme_partner), value)
