"""Fault injection on requests, in process, on each test database: the ``X-Bestow-Fault``
header and the client's rules make a demo or UAT client's request answer 429 or 503 in its
surface's shape before anything is done, lose the answer of a request that was done (504 here:
the dropped connection needs a real server, ``test_faults_live``), or answer late; a production
client ignores both; counted rules fire exactly N times across processes; expired rules never."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bestow.app import build_runtime
from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.errors import Invalid
from bestow.lab import faults
from bestow.models import AuditEntry, FaultRule
from tests.conftest import ACTOR, ADMIN_TOKEN
from tests.lab.fault_helpers import FAULT, add_rule, admin
from tests.operator.helpers import call as operator_call
from tests.operator.helpers import make_operator
from tests.surfaces.partner.helpers import (
    Partner,
    count_jobs,
    create_campaign,
    issue_body,
    make_template,
    new_partner,
)

MERCHANTS = "/partner/merchants"
ISSUE = "/partner/campaigns/issue"


async def merchants(
    app_client: httpx.AsyncClient, partner: Partner, **headers: str
) -> httpx.Response:
    return await app_client.get(MERCHANTS, headers=partner.headers(**headers))


async def ready_to_issue(
    app_client: httpx.AsyncClient, runtime: Runtime, **kw: Any
) -> tuple[Partner, dict[str, Any]]:
    partner = await new_partner(runtime, **kw)
    template = await make_template(runtime, partner.merchant_id)
    campaign = await create_campaign(app_client, partner, template.id)
    identifiers = [{"type": "email", "value": f"{uuid.uuid4().hex[:8]}@example.com"}]
    return partner, issue_body(partner, campaign, identifiers, "Treatment")


# The header ---------------------------------------------------------------------------------


async def test_rate_limit_header_answers_429_with_retry_after_in_the_partner_shape(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, body = await ready_to_issue(app_client, runtime)
    response = await app_client.post(
        ISSUE,
        json=body,
        headers=partner.headers(**{FAULT: "rate_limit", "X-Idempotency-Key": "k1"}),
    )
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.headers["X-Bestow-Environment"] == "demo"
    assert set(response.json()) == {"code", "message"}
    assert "rate_limit" in response.json()["message"]
    assert await count_jobs(runtime, partner.client_id) == 0


async def test_server_error_header_answers_503_before_any_effect(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, body = await ready_to_issue(app_client, runtime)
    headers = partner.headers(**{FAULT: "server_error", "X-Idempotency-Key": "k2"})
    response = await app_client.post(ISSUE, json=body, headers=headers)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["Retry-After"] == "1"
    assert await count_jobs(runtime, partner.client_id) == 0
    # Nothing was stored under the key: the same request without the fault is done, once.
    del headers[FAULT]
    done = await app_client.post(ISSUE, json=body, headers=headers)
    assert done.status_code == 202, done.text
    assert "Idempotent-Replayed" not in done.headers
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_lost_answer_header_commits_then_answers_504_and_the_retry_replays(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, body = await ready_to_issue(app_client, runtime)
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    lost = await app_client.post(
        ISSUE,
        json=body,
        headers=partner.headers(**{FAULT: "lost_answer", "X-Bestow-Fault-Answer": "504", **key}),
    )
    assert lost.status_code == 504, lost.text
    assert lost.json()["code"] == "GENERIC_ERROR"
    assert "lost_answer" in lost.json()["message"]
    assert lost.headers["X-Request-ID"] and lost.headers["X-Bestow-Environment"] == "demo"
    assert await count_jobs(runtime, partner.client_id) == 1  # done before the answer was lost
    again = await app_client.post(ISSUE, json=body, headers=partner.headers(**key))
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_slow_header_still_answers(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Any
) -> None:
    found = await partner_merchants(
        app_client, partner, FAULT, "slow", "X-Bestow-Fault-Delay-Ms", "5"
    )
    assert found.status_code == 200, found.text
    assert found.json()["merchants"]


async def partner_merchants(
    app_client: httpx.AsyncClient, world: Any, *pairs: str
) -> httpx.Response:
    extra = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return await app_client.get(MERCHANTS, headers=world.headers(**extra))


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({FAULT: "rate-limit"}, FAULT),
        ({FAULT: "RATE_LIMIT"}, FAULT),
        ({FAULT: ""}, FAULT),
        ({FAULT: "partial_failure"}, FAULT),
        ({FAULT: "slow", "X-Bestow-Fault-Delay-Ms": "soon"}, "X-Bestow-Fault-Delay-Ms"),
        ({FAULT: "slow", "X-Bestow-Fault-Delay-Ms": "600000"}, "X-Bestow-Fault-Delay-Ms"),
        ({FAULT: "lost_answer", "X-Bestow-Fault-Answer": "503"}, "X-Bestow-Fault-Answer"),
    ],
)
async def test_a_bad_fault_header_is_a_400_naming_it(
    app_client: httpx.AsyncClient, partner: Any, headers: dict[str, str], named: str
) -> None:
    response = await app_client.get(MERCHANTS, headers=partner.headers(**headers))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_REQUEST"
    assert response.json()["message"].startswith(named)


async def test_a_bad_fault_header_is_a_400_in_the_operator_envelope(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    operator = await make_operator(runtime)
    response = await operator_call(app_client, operator, "GET", "/v1/campaigns")
    assert response.status_code == 200, response.text
    signed = await _operator_get(app_client, operator, {FAULT: "explode"})
    assert signed.status_code == 400, signed.text
    assert signed.json()["responseCode"] == "ValidationError"
    assert FAULT in signed.json()["message"]
    limited = await _operator_get(app_client, operator, {FAULT: "rate_limit"})
    assert limited.status_code == 429
    assert limited.json() == {
        "message": limited.json()["message"],
        "data": {},
        "responseCode": "RateLimited",
    }


async def _operator_get(
    app_client: httpx.AsyncClient, operator: Any, extra: dict[str, str]
) -> httpx.Response:
    from tests.operator.helpers import headers as signed

    return await app_client.get(
        "/v1/campaigns", headers={**signed(operator, "/v1/campaigns"), **extra}
    )


async def test_a_production_client_ignores_the_header_whatever_its_value(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    production = await new_partner(runtime, environment="production")
    for value in ("rate_limit", "server_error", "lost_answer", "slow", "nonsense"):
        response = await merchants(app_client, production, **{FAULT: value})
        assert response.status_code == 200, (value, response.text)
        assert response.headers["X-Bestow-Environment"] == "production"


# Rules --------------------------------------------------------------------------------------


async def test_a_share_rule_of_one_faults_every_matching_request_and_only_those(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, body = await ready_to_issue(app_client, runtime)
    await add_rule(
        app_client,
        ADMIN_TOKEN,
        partner.client_id,
        kind="server_error",
        share=1,
        route=f"POST {ISSUE}",
    )
    for _ in range(3):
        refused = await app_client.post(
            ISSUE, json=body, headers=partner.headers(**{"X-Idempotency-Key": "k3"})
        )
        assert refused.status_code == 503, refused.text
    assert (await merchants(app_client, partner)).status_code == 200  # another route
    assert await count_jobs(runtime, partner.client_id) == 0


async def test_a_rule_with_a_retry_after_answers_it(
    app_client: httpx.AsyncClient, partner: Any
) -> None:
    await add_rule(
        app_client,
        ADMIN_TOKEN,
        partner.client_id,
        kind="rate_limit",
        count=1,
        params={"retry_after": 7},
    )
    limited = await app_client.get(MERCHANTS, headers=partner.headers())
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert (await app_client.get(MERCHANTS, headers=partner.headers())).status_code == 200


async def test_a_counted_rule_fires_exactly_count_times_under_concurrency(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner = await new_partner(runtime)  # on the unlimited tier: only the rule answers 429
    await add_rule(app_client, ADMIN_TOKEN, partner.client_id, kind="rate_limit", count=3)
    answers = await asyncio.gather(
        *(app_client.get(MERCHANTS, headers=partner.headers()) for _ in range(12))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 9 + [429] * 3
    rules = (
        await app_client.get(
            f"/admin/clients/{partner.client_id}/faults", headers=admin(ADMIN_TOKEN)
        )
    ).json()
    assert [(r["remaining"], r["live"]) for r in rules["data"]] == [(0, False)]


async def test_a_counted_rule_fires_exactly_count_times_across_processes(
    settings: Settings, runtime: Runtime
) -> None:
    """Two runtimes stand for two server processes, each with its own rule cache."""
    client_id, _, _ = await _partner_ids(runtime)
    async with runtime.db.write_session() as session:
        await faults.create_rule(
            session, client_id=client_id, kind="lost_answer", count=5, actor=ACTOR
        )
        await session.commit()
    other = build_runtime(settings)
    try:
        caches = [faults.new_rules_cache(), faults.new_rules_cache()]

        async def one(n: int) -> faults.Drawn | None:
            db = (runtime, other)[n % 2].db
            return await faults.for_request(
                db, caches[n % 2], client_id=client_id, environment="uat", method="GET", route="/x"
            )

        drawn = await asyncio.gather(*(one(n) for n in range(16)))
    finally:
        await other.db.dispose()
    assert sum(d is not None for d in drawn) == 5
    assert {d.kind for d in drawn if d is not None} == {"lost_answer"}


async def _partner_ids(runtime: Runtime) -> tuple[str, str, str]:
    partner = await new_partner(runtime, environment="uat")
    return partner.client_id, partner.token, partner.merchant_id


async def test_an_expired_rule_does_not_fire(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Any
) -> None:
    rule = await add_rule(
        app_client, ADMIN_TOKEN, partner.client_id, kind="rate_limit", share=1, ttl_seconds=60
    )
    assert (await app_client.get(MERCHANTS, headers=partner.headers())).status_code == 429
    async with runtime.db.write_session() as session:
        await session.execute(
            update(FaultRule)
            .where(FaultRule.id == rule["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    app = app_client._transport.app  # type: ignore[attr-defined]
    faults.rules_cache(app.state).clear()  # as if a second had passed
    assert (await app_client.get(MERCHANTS, headers=partner.headers())).status_code == 200
    listed = (
        await app_client.get(
            f"/admin/clients/{partner.client_id}/faults", headers=admin(ADMIN_TOKEN)
        )
    ).json()
    assert listed["data"][0]["live"] is False


async def test_a_cached_rule_stops_firing_when_it_expires(runtime: Runtime) -> None:
    client_id, _, _ = await _partner_ids(runtime)
    cache = faults.new_rules_cache()
    past = datetime.now(UTC) - timedelta(seconds=1)
    cache.put(
        (client_id,),
        (faults.Snapshot("flt_x", "rate_limit", 1.0, None, None, {}, past),),
    )
    drawn = await faults.for_request(
        runtime.db, cache, client_id=client_id, environment="demo", method="GET", route="/x"
    )
    assert drawn is None


async def test_a_production_client_ignores_a_rule_it_somehow_has(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    production = await new_partner(runtime, environment="production")
    async with runtime.db.write_session() as session:
        session.add(
            FaultRule(client_id=production.client_id, kind="rate_limit", share=1.0, params={})
        )
        await session.commit()
    assert (await merchants(app_client, production)).status_code == 200


# The Admin API ------------------------------------------------------------------------------


async def test_admin_api_creates_lists_and_removes_rules_and_audits_them(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Any
) -> None:
    client_id = partner.client_id
    slow = await add_rule(
        app_client,
        ADMIN_TOKEN,
        client_id,
        kind="slow",
        share=0.25,
        route="GET /partner/merchants",
        params={"delay_ms": 1500},
        ttl_seconds=600,
    )
    assert slow["kind"] == "slow" and slow["share"] == 0.25 and slow["remaining"] is None
    assert slow["params"] == {"delay_ms": 1500} and slow["live"] is True
    assert slow["expires_at"] is not None
    lost = await add_rule(app_client, ADMIN_TOKEN, client_id, kind="lost_answer", count=2)
    assert lost["params"] == {"answer": "drop"} and lost["remaining"] == 2
    path = f"/admin/clients/{client_id}/faults"
    listed = await app_client.get(path, headers=admin(ADMIN_TOKEN))
    assert [r["id"] for r in listed.json()["data"]] == [slow["id"], lost["id"]]
    gone = await app_client.delete(f"{path}/{slow['id']}", headers=admin(ADMIN_TOKEN))
    assert gone.status_code == 204
    listed = await app_client.get(path, headers=admin(ADMIN_TOKEN))
    assert [r["id"] for r in listed.json()["data"]] == [lost["id"]]
    again = await app_client.delete(f"{path}/{slow['id']}", headers=admin(ADMIN_TOKEN))
    assert again.status_code == 404
    async with runtime.db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_id == client_id, AuditEntry.action.like("fault_rule.%"))
                .order_by(AuditEntry.created_at)
            )
        )
    assert actions == ["fault_rule.created", "fault_rule.created", "fault_rule.deleted"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "explode", "share": 1}, "kind"),
        ({"kind": "slow"}, "share"),
        ({"kind": "slow", "share": 0.5, "count": 2}, "share"),
        ({"kind": "slow", "share": 0}, "share"),
        ({"kind": "slow", "share": 1.5}, "share"),
        ({"kind": "slow", "count": 0}, "count"),
        ({"kind": "slow", "count": 1, "params": {"delay_ms": -1}}, "params.delay_ms"),
        ({"kind": "slow", "count": 1, "params": {"delay_ms": "3s"}}, "params.delay_ms"),
        ({"kind": "slow", "count": 1, "params": {"answer": "504"}}, "params.answer"),
        ({"kind": "lost_answer", "count": 1, "params": {"answer": "maybe"}}, "params.answer"),
        (
            {"kind": "rate_limit", "count": 1, "params": {"retry_after": 99999}},
            "params.retry_after",
        ),
        ({"kind": "slow", "count": 1, "ttl_seconds": 0}, "ttl_seconds"),
        (
            {"kind": "slow", "count": 1, "ttl_seconds": 60, "expires_at": "2099-01-01T00:00:00Z"},
            "ttl_seconds",
        ),
        ({"kind": "slow", "count": 1, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"kind": "slow", "count": 1, "colour": "red"}, "colour"),
    ],
)
async def test_admin_api_refuses_a_bad_rule_naming_the_field(
    app_client: httpx.AsyncClient, partner: Any, body: dict[str, Any], field: str
) -> None:
    response = await app_client.post(
        f"/admin/clients/{partner.client_id}/faults", json=body, headers=admin(ADMIN_TOKEN)
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem.get("field") == field or problem["detail"].startswith(field), problem


async def test_a_production_client_cannot_get_a_rule(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    production = await new_partner(runtime, environment="production")
    response = await app_client.post(
        f"/admin/clients/{production.client_id}/faults",
        json={"kind": "rate_limit", "count": 1},
        headers=admin(ADMIN_TOKEN),
    )
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "client_id"
    assert "production" in response.json()["detail"]


async def test_admin_api_answers_404_for_an_unknown_client(app_client: httpx.AsyncClient) -> None:
    for response in (
        await app_client.post(
            "/admin/clients/cli_nope/faults",
            json={"kind": "slow", "count": 1},
            headers=admin(ADMIN_TOKEN),
        ),
        await app_client.get("/admin/clients/cli_nope/faults", headers=admin(ADMIN_TOKEN)),
    ):
        assert response.status_code == 404, response.text


def test_from_header_refuses_what_it_does_not_know() -> None:
    with pytest.raises(Invalid) as refused:
        faults.from_header("webhook_chaos")
    assert refused.value.field == FAULT
    assert faults.from_header(" slow ").params == {"delay_ms": faults.DEFAULT_DELAY_MS}
