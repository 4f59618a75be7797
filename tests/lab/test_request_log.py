"""The request log (issue 18, point 4): every request of a client on the four client surfaces
and the token endpoint is recorded with what it asked and how it was answered, never a
credential or a personal value; ``GET /admin/requests`` filters it and pages through it newest
first."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from bestow.config import RateLimitTier
from bestow.kit.db import utcnow
from tests.fixtures.logscan import PATTERNS
from tests.lab.helpers import ADMIN, campaigns, flushed, requests_of
from tests.loyalty.helpers import award, reward_body
from tests.operator.helpers import bet, call, enrol
from tests.operator.helpers import reward as operator_reward
from tests.security.world import World, open_world
from tests.surfaces.partner.helpers import new_partner, variant_id
from tests.vouchers.helpers import post as issue_vouchers

TIERS = {
    "default": RateLimitTier(),
    "unlimited": RateLimitTier(per_second=None, per_15_minutes=None),
    "two": RateLimitTier(per_second=None, per_15_minutes=2),
}
"""``two``: a client of this tier is refused its third request, however fast or slow."""


@pytest.fixture(scope="module")
async def world(database_url: str, var_dir: Path) -> AsyncIterator[World]:
    async with open_world(database_url, var_dir, rate_limit_tiers=TIERS) as opened:
        yield opened


def issue(world: World, **over: Any) -> dict[str, Any]:
    return {
        "campaign_id": world.objects["partner.campaign_id"],
        "merchant_id": world.partner_a.merchant_id,
        "variant_id": world.objects["partner.variant_id"],
        "identifiers": [
            {"type": "email", "value": f"{uuid.uuid4().hex[:8]}@example.com"},
            {"type": "email", "value": f"{uuid.uuid4().hex[:8]}@example.com"},
            {"type": "phone", "value": "+447700900123"},
        ],
        **over,
    }


@pytest.fixture(scope="module")
async def variant(world: World) -> str:
    a = world.partner_a
    found = await world.http.get(
        f"/partner/campaigns/{world.objects['partner.campaign_id']}", headers=a.headers()
    )
    assert found.status_code == 200, found.text
    world.objects["partner.variant_id"] = variant_id(found.json()["campaign"], "Treatment")
    return world.objects["partner.variant_id"]


async def test_a_partner_issuance_is_recorded_with_every_field(world: World, variant: str) -> None:
    a, key = world.partner_a, f"issue-{uuid.uuid4()}"
    response = await world.http.post(
        "/partner/campaigns/issue",
        json=issue(world),
        headers=a.headers(**{"X-Idempotency-Key": key, "User-Agent": "lab-test/1.0"}),
    )
    assert response.status_code == 202, response.text

    [entry] = await requests_of(world.http, client_id=a.client_id, idempotency_key=key)
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["surface"] == "partner"
    assert entry["method"] == "POST"
    assert entry["route"] == "/partner/campaigns/issue"
    assert entry["status"] == 202
    assert entry["latency_ms"] > 0
    assert entry["idempotency_key"] == key
    assert entry["headers_present"] == [
        "Authorization",
        "X-ClientId",
        "Accept-Version",
        "Content-Type",
        "X-Idempotency-Key",
    ]
    assert entry["header_values"] == {
        "Accept-Version": "v4.0",
        "Content-Type": "application/json",
        "User-Agent": "lab-test/1.0",
    }
    assert entry["error_code"] is None
    assert entry["replayed"] is False
    assert entry["rate_limited"] is False
    assert entry["fault"] is None
    assert entry["client_id"] == a.client_id
    assert entry["environment"] == "demo"
    sent = response.request.content
    assert entry["body"] == {
        "sha256": hashlib.sha256(sent).hexdigest(),
        "bytes": len(sent),
        "counts": {"identifiers.email": 2, "identifiers.phone": 1},
    }
    assert utcnow() - timedelta(hours=1) < datetime.fromisoformat(entry["time"]) <= utcnow()


async def test_a_repeated_issuance_is_marked_replayed(world: World, variant: str) -> None:
    a, key = world.partner_a, f"replay-{uuid.uuid4()}"
    body = issue(world)
    for _ in range(2):
        sent = await world.http.post(
            "/partner/campaigns/issue",
            json=body,
            headers=a.headers(**{"X-Idempotency-Key": key}),
        )
        assert sent.status_code == 202, sent.text

    second, first = await requests_of(world.http, client_id=a.client_id, idempotency_key=key)
    assert (first["replayed"], second["replayed"]) == (False, True)
    assert second["request_id"] == sent.headers["x-request-id"]


async def test_an_error_is_recorded_with_the_surfaces_own_code(world: World) -> None:
    a = world.partner_a
    missing = await world.http.get("/partner/campaigns/cmp_nothere", headers=a.headers())
    assert missing.status_code == 404, missing.text
    loyalty = await award(
        world.http,
        world.loyalty_a.headers,
        world.objects["loyalty.correlation_id"],
        reward_body(rewardAmount="lots"),
    )
    assert loyalty.status_code == 400, loyalty.text

    [partner] = await requests_of(
        world.http, request_id=missing.headers["x-request-id"], client_id=a.client_id
    )
    assert (partner["status"], partner["error_code"]) == (404, missing.json()["code"])
    assert partner["route"] == "/partner/campaigns/{campaign_id}"
    [points] = await requests_of(world.http, request_id=loyalty.headers["x-request-id"])
    assert (points["status"], points["error_code"]) == (400, loyalty.json()["errorCode"])
    assert points["surface"] == "loyalty"


async def test_a_rate_limited_request_is_marked_rate_limited(world: World) -> None:
    limited = await new_partner(world.runtime, tier="two")
    answers = [
        await world.http.get(campaigns(limited), headers=limited.headers()) for _ in range(3)
    ]
    assert [r.status_code for r in answers] == [200, 200, 429]

    entries = await requests_of(world.http, client_id=limited.client_id)
    assert [(e["status"], e["rate_limited"]) for e in entries] == [
        (429, True),
        (200, False),
        (200, False),
    ]
    assert entries[0]["error_code"] == answers[2].json()["code"] == "RATE_LIMIT_EXCEEDED"


async def test_voucher_issues_are_recorded_with_quantity_key_and_replay(world: World) -> None:
    client_id, _, headers = world.voucher_a
    code, key = world.objects["vouchers.product_code"], str(uuid.uuid4())
    for _ in range(2):
        issued = await issue_vouchers(world.http, headers, code, {"quantity": 2}, key=key)
        assert issued.status_code == 200, issued.text

    second, first = await requests_of(world.http, client_id=client_id, idempotency_key=key)
    for entry in (first, second):
        assert entry["surface"] == "vouchers"
        assert entry["route"] == "/v3/products/{code}"
        assert entry["headers_present"] == ["Authorization", "Content-Type", "Idempotency-Key"]
        assert entry["body"]["counts"] == {"quantity": 2}
    assert (first["replayed"], second["replayed"]) == (False, True)


async def test_the_token_endpoint_is_recorded_without_the_body_hash(world: World) -> None:
    client_id = world.voucher_a[0]
    [token] = await requests_of(world.http, client_id=client_id, route="/oauth2/token")
    assert token["surface"] == "oauth"
    assert token["status"] == 200
    assert "sha256" not in token["body"] and token["body"]["bytes"] > 0


async def test_operator_bets_and_bulks_are_recorded(world: World) -> None:
    op = world.operator_a
    reward = await operator_reward(world.http, op)
    enrollment = await enrol(world.http, op, reward["id"], f"p-{uuid.uuid4().hex[:8]}")
    bet_id = f"bet-{uuid.uuid4()}"
    placed = await bet(world.http, op, enrollment["id"], bet_id)
    assert placed.status_code == 200, placed.text
    repeated = await bet(world.http, op, enrollment["id"], bet_id)
    assert repeated.status_code == 200, repeated.text
    bulk = await call(
        world.http,
        op,
        "POST",
        f"/v1/rewards/{reward['id']}/enrollments/bulk",
        {"operatorPlayerIds": ["q-1", "q-2", "q-3"]},
    )
    assert bulk.status_code == 202, bulk.text

    entries = await requests_of(world.http, client_id=op.client_id)
    placed_entry, repeated_entry = (
        next(e for e in entries if e["request_id"] == r.headers["x-request-id"])
        for r in (placed, repeated)
    )
    assert placed_entry["idempotency_key"] == repeated_entry["idempotency_key"] == bet_id
    assert (placed_entry["replayed"], repeated_entry["replayed"]) == (False, True)
    assert placed_entry["route"] == "/v1/enrollments/{enrollment_id}/bets"
    assert placed_entry["headers_present"] == [
        "X-AUTH-OPERATOR-ID",
        "X-AUTH-REQUEST-HASH",
        "Content-Type",
    ]
    [bulk_entry] = [e for e in entries if e["request_id"] == bulk.headers["x-request-id"]]
    assert bulk_entry["body"]["counts"] == {"operatorPlayerIds": 3}
    assert bulk_entry["surface"] == "operator" and bulk_entry["status"] == 202


async def test_a_loyalty_award_is_recorded_with_its_external_reference(world: World) -> None:
    programme = world.loyalty_a
    body = reward_body()
    for _ in range(2):
        awarded = await award(
            world.http, programme.headers, world.objects["loyalty.correlation_id"], body
        )
        assert awarded.status_code == 200, awarded.text

    second, first = await requests_of(
        world.http, client_id=programme.client_id, idempotency_key=body["externalReferenceId"]
    )
    for entry in (first, second):
        assert entry["route"] == "/client/users/{correlation_id}/adhoc-reward/"
        assert entry["headers_present"] == ["Authorization", "Content-Type"]
    assert (first["replayed"], second["replayed"]) == (False, True)


async def test_every_surface_of_the_scripted_session_is_recorded(world: World) -> None:
    """The world's set-up made requests on every surface, for each of its clients."""
    expected = {
        world.partner_a.client_id: {"partner"},
        world.voucher_a[0]: {"oauth", "vouchers"},
        world.operator_a.client_id: {"operator"},
        world.loyalty_a.client_id: {"oauth", "loyalty"},
    }
    for client_id, surfaces in expected.items():
        entries = await requests_of(world.http, client_id=client_id)
        assert {e["surface"] for e in entries} >= surfaces, client_id


async def test_admin_and_unidentified_requests_are_not_recorded(world: World) -> None:
    admin = await world.http.get("/admin/clients", headers=ADMIN)
    anonymous = await world.http.get("/partner/campaigns")
    for response in (admin, anonymous):
        assert await requests_of(world.http, request_id=response.headers["x-request-id"]) == []


async def test_no_credential_nor_personal_value_is_stored(world: World, variant: str) -> None:
    await test_a_partner_issuance_is_recorded_with_every_field(world, variant)
    await flushed(world.http)
    clients = [
        world.partner_a.client_id,
        world.partner_b.client_id,
        world.voucher_a[0],
        world.voucher_b[0],
        world.operator_a.client_id,
        world.operator_b.client_id,
        world.loyalty_a.client_id,
        world.loyalty_b.client_id,
    ]
    everything = [e for c in clients for e in await requests_of(world.http, client_id=c)]
    assert {e["surface"] for e in everything} == {
        "partner",
        "vouchers",
        "loyalty",
        "operator",
        "oauth",
    }
    text = orjson.dumps(everything).decode()
    for kind, pattern in PATTERNS.items():
        assert not pattern.search(text), kind
    secrets = [
        world.partner_a.token,
        world.partner_b.token,
        world.voucher_a[1],
        world.voucher_a[2]["Authorization"].split()[-1],
        world.operator_a.primary,
        world.operator_a.secondary,
        world.loyalty_a.headers["Authorization"].split()[-1],
        *world.secrets.values(),
    ]
    for secret in secrets:
        assert secret not in text
    assert "example.com" not in text and "+44" not in text


async def test_the_filters_narrow_the_log(world: World) -> None:
    a = world.partner_a
    latest = (await requests_of(world.http, client_id=a.client_id))[0]
    before = datetime.fromisoformat(latest["time"]) + timedelta(microseconds=1)
    for status_path in (campaigns(a), "/partner/campaigns/cmp_nothere"):
        answered = await world.http.get(status_path, headers=a.headers())
        assert answered.status_code in (200, 404)
    mine = await requests_of(world.http, client_id=a.client_id, since=before.isoformat())
    assert {e["route"] for e in mine} >= {"/partner/campaigns", "/partner/campaigns/{campaign_id}"}

    listed = await requests_of(
        world.http, client_id=a.client_id, route="GET /partner/campaigns", since=before.isoformat()
    )
    assert listed and all(e["route"] == "/partner/campaigns" for e in listed)
    assert all(e["method"] == "GET" for e in listed)
    missing = await requests_of(world.http, client_id=a.client_id, status="404")
    assert missing and all(e["status"] == 404 for e in missing)
    errors = await requests_of(world.http, client_id=a.client_id, status="4xx")
    assert {e["status"] for e in errors} >= {404}
    assert all(400 <= e["status"] < 500 for e in errors)
    earlier = await requests_of(world.http, client_id=a.client_id, until=before.isoformat())
    assert earlier, "the world's set-up issued as this client before"
    assert all(datetime.fromisoformat(e["time"]) < before for e in earlier)
    assert all(datetime.fromisoformat(e["time"]) >= before for e in mine)
    assert await requests_of(world.http, client_id="cli_nobody") == []


async def test_the_cursor_pages_newest_first_without_overlap(world: World) -> None:
    a = world.partner_a
    for _ in range(3):
        assert (await world.http.get(campaigns(a), headers=a.headers())).status_code == 200
    everything = await requests_of(world.http, client_id=a.client_id)
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"client_id": a.client_id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await world.http.get("/admin/requests", params=params, headers=ADMIN)).json()
        assert len(page["data"]) <= 2
        paged.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in paged] == [e["seq"] for e in everything]
    assert [e["seq"] for e in paged] == sorted((e["seq"] for e in paged), reverse=True)
    assert len({e["seq"] for e in paged}) == len(paged)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"status": "abc"}, "status"),
        ({"status": "999"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_bad_filters_are_refused_naming_the_field(
    world: World, params: dict[str, str], field: str
) -> None:
    response = await world.http.get("/admin/requests", params=params, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert field in response.text


async def test_the_log_needs_an_admin(world: World) -> None:
    response = await world.http.get("/admin/requests", headers=world.partner_a.headers())
    assert response.status_code == 401, response.text
