"""Partial batch failures (issue 18, point 5): a demo or UAT client's ``partial_failure`` rule
makes a share, or the next ``count``, of a Partner issuance job's or an Operator bulk's
identifiers fail with the chosen reason, recorded like a real failure and never rewarded; a
production client and an expired rule are left alone. Through the real in-process worker."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.lab import faults, worker_faults
from tests.campaigns import failures, issue_campaign, small_chunks
from tests.conftest import make_partner
from tests.lab.helpers import ADMIN
from tests.lab.worker_fault_helpers import (
    enrolled_players,
    expire_rule,
    injected_entries,
    make_rule,
    remaining,
    rewarded_indexes,
    write_rule,
)
from tests.operator.helpers import bulk_reward, make_operator, post_bulk, wait_bulk
from tests.surfaces.partner.helpers import (
    Partner,
    email,
    make_members,
    make_template,
    new_partner,
    worker_client,
)

NOT_FOUND = "User not found"
INACTIVE = "User inactive"


async def members_and_template(
    runtime: Runtime, partner: Partner, count: int
) -> tuple[list[str], str]:
    addresses = [email("pf") for _ in range(count)]
    await make_members(runtime, partner.merchant_id, emails=addresses)
    template = await make_template(runtime, partner.merchant_id)
    return addresses, template.id


async def test_a_share_of_one_fails_every_identifier_with_the_chosen_reason(
    settings: Settings, runtime: Runtime
) -> None:
    partner = await new_partner(runtime, environment="uat")
    addresses, template_id = await members_and_template(runtime, partner, 4)
    await make_rule(
        runtime, partner.client_id, faults.PARTIAL_FAILURE, share=1.0, params={"error": "inactive"}
    )
    async with worker_client(settings) as client:
        # A malformed identifier keeps its own, real reason.
        _, job = await issue_campaign(client, partner, template_id, [*addresses, "not-an-email"])

    assert job["state"] == "failed", job
    assert failures(job) == [
        (0, INACTIVE),
        (1, INACTIVE),
        (2, INACTIVE),
        (3, INACTIVE),
        (4, "Invalid email"),
    ]
    assert await rewarded_indexes(runtime, job["id"]) == set()
    [entry] = await injected_entries(runtime, job["id"])
    assert entry["indexes"] == [0, 1, 2, 3] and entry["reasons"] == [INACTIVE]


async def test_a_count_fails_exactly_the_next_n_identifiers_across_chunks(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five of the next identifiers over chunks of two: indexes 0 to 4, with the default reason;
    the rule is then spent, and the next job is untouched."""
    small_chunks(settings, monkeypatch, 2)
    partner = await new_partner(runtime)
    addresses, template_id = await members_and_template(runtime, partner, 8)
    rule_id = await make_rule(runtime, partner.client_id, faults.PARTIAL_FAILURE, count=5)
    async with worker_client(settings) as client:
        _, job = await issue_campaign(client, partner, template_id, addresses)
        _, after = await issue_campaign(client, partner, template_id, addresses[:3])

    assert job["state"] == "completed", job
    assert failures(job) == [(i, NOT_FOUND) for i in range(5)]
    assert await rewarded_indexes(runtime, job["id"]) == {5, 6, 7}
    assert await remaining(runtime, rule_id) == 0
    assert [e["indexes"] for e in await injected_entries(runtime, job["id"])] == [
        [0, 1],
        [2, 3],
        [4],
    ]
    assert failures(after) == []
    assert await rewarded_indexes(runtime, after["id"]) == {0, 1, 2}


async def test_a_production_client_and_an_expired_rule_change_nothing(
    settings: Settings, runtime: Runtime
) -> None:
    production = await new_partner(runtime, environment="production")
    demo = await new_partner(runtime, environment="demo")
    # The service refuses a production client's rule: written as a row, it is still ignored.
    await write_rule(runtime, production.client_id, faults.PARTIAL_FAILURE, share=1.0, params={})
    expired = await make_rule(runtime, demo.client_id, faults.PARTIAL_FAILURE, share=1.0)
    await expire_rule(runtime, expired, utcnow() - timedelta(seconds=1))
    async with worker_client(settings) as client:
        for partner in (production, demo):
            addresses, template_id = await members_and_template(runtime, partner, 3)
            _, job = await issue_campaign(client, partner, template_id, addresses)
            assert failures(job) == [], job
            assert await rewarded_indexes(runtime, job["id"]) == {0, 1, 2}
            assert await injected_entries(runtime, job["id"]) == []


async def test_a_rule_on_another_route_does_not_fire(settings: Settings, runtime: Runtime) -> None:
    partner = await new_partner(runtime)
    addresses, template_id = await members_and_template(runtime, partner, 2)
    rule_id = await make_rule(
        runtime,
        partner.client_id,
        faults.PARTIAL_FAILURE,
        count=1,
        route="POST /v1/rewards/{reward_id}/enrollments/bulk",
    )
    async with worker_client(settings) as client:
        _, job = await issue_campaign(client, partner, template_id, addresses)
    assert failures(job) == []
    assert await remaining(runtime, rule_id) == 1


async def test_an_operator_bulk_fails_the_next_players_and_enrols_the_rest(
    settings: Settings, runtime: Runtime
) -> None:
    operator = await make_operator(runtime, environment="uat")
    await make_rule(
        runtime, operator.client_id, faults.PARTIAL_FAILURE, count=3, params={"error": "refused"}
    )
    players = [f"pf-{n}" for n in range(7)]
    async with worker_client(settings) as http:
        reward = await bulk_reward(http, operator)
        accepted = await post_bulk(http, operator, reward["id"], {"operatorPlayerIds": players})
        assert accepted.status_code == 202, accepted.text
        bulk = await wait_bulk(http, operator, reward["id"], accepted.json()["data"]["id"])

    assert bulk["status"] == "Completed", bulk
    assert (bulk["enrolledCount"], bulk["existingCount"], bulk["failedCount"]) == (4, 0, 3)
    assert bulk["error"] == f"operatorPlayerIds[0]: {worker_faults.OPERATOR_ERRORS['refused']}"
    assert await enrolled_players(runtime, reward["id"]) == set(players[3:])
    [entry] = await injected_entries(runtime, bulk["id"])
    assert entry["indexes"] == [0, 1, 2]


def test_an_unknown_error_or_mode_is_refused_when_the_rule_is_made() -> None:
    with pytest.raises(Invalid) as refused:
        worker_faults.check_params(faults.PARTIAL_FAILURE, {"error": "exploded"})
    assert refused.value.field == "params.error"
    with pytest.raises(Invalid) as refused:
        worker_faults.check_params(faults.WEBHOOK_CHAOS, {"mode": ["duplicate", "scramble"]})
    assert refused.value.field == "params.mode"
    with pytest.raises(Invalid) as refused:
        worker_faults.check_params(faults.WEBHOOK_CHAOS, {"delay_seconds": -1})
    assert refused.value.field == "params.delay_seconds"
    assert worker_faults.check_params(faults.PARTIAL_FAILURE, {"error": "User inactive"}) == {
        "error": "User inactive"
    }


def test_a_reason_follows_the_surface() -> None:
    """The verbatim reason or its short name; another surface's reason, or none, is the
    surface's default."""
    assert worker_faults.reason_for("partner", {"error": "User inactive"}) == INACTIVE
    assert worker_faults.reason_for("partner", {"error": "refused"}) == NOT_FOUND
    assert worker_faults.reason_for("operator", {}) == worker_faults.OPERATOR_ERRORS["refused"]


async def test_a_share_picks_by_chance_among_the_eligible(runtime: Runtime) -> None:
    """And ``None`` (stop asking for this batch) for a production client or a client without a
    live rule."""
    partner = await new_partner(runtime)
    ruleless = await new_partner(runtime)
    await make_rule(runtime, partner.client_id, faults.PARTIAL_FAILURE, share=0.5)
    async with runtime.db.write_session() as session:
        injected = await worker_faults.batch_failures(
            session,
            client_id=partner.client_id,
            environment="demo",
            surface=worker_faults.PARTNER,
            eligible=range(1000),
            chance=random.Random(18),
        )
        none = await worker_faults.batch_failures(
            session,
            client_id=partner.client_id,
            environment="production",
            surface=worker_faults.PARTNER,
            eligible=range(1000),
        )
        unruled = await worker_faults.batch_failures(
            session,
            client_id=ruleless.client_id,
            environment="demo",
            surface=worker_faults.PARTNER,
            eligible=range(1000),
        )
    assert injected is not None and none is None and unruled is None
    assert 400 < len(injected.reasons) < 600
    assert set(injected.reasons.values()) == {NOT_FOUND}


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("partial_failure", {"error": "no_such_reason"}, "params.error"),
        ("webhook_chaos", {"mode": "scramble"}, "params.mode"),
        ("webhook_chaos", {"mode": "delay", "delay_seconds": -1}, "params.delay_seconds"),
    ],
)
async def test_the_admin_api_refuses_bad_worker_rule_params(
    app_client: httpx.AsyncClient,
    runtime: Runtime,
    kind: str,
    params: dict[str, Any],
    field: str,
) -> None:
    """A rule is checked when it is made, not skipped later by the worker."""
    client_id, _, _ = await make_partner(runtime)
    response = await app_client.post(
        f"/admin/clients/{client_id}/faults",
        json={"kind": kind, "share": 1.0, "params": params},
        headers=ADMIN,
    )
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
