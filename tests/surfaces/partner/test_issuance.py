"""Partner API issuance: Issue Rewards, idempotency, job processing, events, revocation, scope."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.issuance import processor, tasks
from bestow.issuance import service as issuance_service
from bestow.kit.db import utcnow
from bestow.kit.timefmt import iso
from bestow.members import service as members
from bestow.models import (
    Campaign,
    Holdout,
    IssuanceJob,
    IssuedReward,
    Member,
    OutboxEvent,
)
from tests.conftest import ACTOR
from tests.surfaces.partner.helpers import (
    ISSUE,
    Partner,
    count_jobs,
    create_campaign,
    email,
    get_job,
    grant,
    in_state,
    issue_body,
    make_members,
    make_template,
    new_partner,
    set_campaign_window,
    variant_id,
    wait_for_job,
    worker_client,
)

pytestmark = pytest.mark.asyncio

JOB_FIELDS = {
    "id",
    "campaign_id",
    "variant_id",
    "state",
    "total_count",
    "processed_count",
    "success_count",
    "failure_count",
    "progress_percent",
    "created_at",
    "started_at",
    "completed_at",
}
INVALID_EMAIL = "Invalid email"
INVALID_PHONE = "Invalid phone number; E.164 format required"
NOT_FOUND = "User not found"
DUPLICATE = "Duplicate identifier"
INACTIVE = "User inactive"
FINISHED = in_state("completed", "failed")


async def setup_campaign(
    client: httpx.AsyncClient, runtime: Runtime, **partner_options: Any
) -> tuple[Partner, dict[str, Any], str]:
    """A partner (unlimited tier), a published template, and an active campaign using it."""
    partner = await new_partner(runtime, **partner_options)
    template = await make_template(runtime, partner.merchant_id)
    campaign = await create_campaign(client, partner, template.id)
    return partner, campaign, template.id


def ids(*values: tuple[str, str]) -> list[dict[str, str]]:
    return [{"type": kind, "value": value} for kind, value in values]


async def issue(
    client: httpx.AsyncClient,
    partner: Partner,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    headers = partner.headers(**({"X-Idempotency-Key": key} if key else {}))
    return await client.post(ISSUE, headers=headers, json=body)


async def events_of(runtime: Runtime, job_id: str, event_type: str) -> list[OutboxEvent]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.type == event_type))
        # Other tests record events of these types too, with payloads of their own.
    return [e for e in rows if e.payload.get("data", {}).get("issuance_job_id") == job_id]


async def rows_of(runtime: Runtime, model: Any, job_id: str) -> list[Any]:
    async with runtime.db.session() as session:
        return list(await session.scalars(select(model).where(model.job_id == job_id)))


# --- Issue Rewards: the request ------------------------------------------------------------


async def test_issue_answers_202_with_a_pending_job(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    body = issue_body(
        partner, campaign, ids(("email", "a@example.com"), ("phone", "+14155550100")), "Treatment"
    )
    response = await issue(app_client, partner, body)

    assert response.status_code == 202, response.text
    job = response.json()["issuance_job"]
    assert set(job) == JOB_FIELDS
    assert job["id"]
    assert {k: v for k, v in job.items() if k not in ("id", "created_at")} == {
        "campaign_id": campaign["id"],
        "variant_id": variant_id(campaign, "Treatment"),
        "state": "pending",
        "total_count": 2,
        "processed_count": 0,
        "success_count": 0,
        "failure_count": 0,
        "progress_percent": 0,
        "started_at": None,
        "completed_at": None,
    }
    assert job["created_at"].endswith("Z")
    assert await get_job(app_client, partner, job["id"]) == job
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_a_request_that_cannot_be_served_is_rejected_whole(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, template_id = await setup_campaign(app_client, runtime)
    other_campaign = await create_campaign(app_client, partner, template_id, name="Other")
    stranger, stranger_campaign, _ = await setup_campaign(app_client, runtime)
    # A second merchant of the same client, and a campaign of it.
    second = await new_partner(runtime)
    await grant(runtime, partner, second.merchant_id)
    now = utcnow()
    scheduled = await create_campaign(app_client, partner, template_id, name="Later")
    await set_campaign_window(
        runtime, scheduled["id"], start_at=now + timedelta(days=1), end_at=now + timedelta(days=2)
    )
    ended = await create_campaign(app_client, partner, template_id, name="Over")
    await set_campaign_window(
        runtime, ended["id"], start_at=now - timedelta(days=2), end_at=now - timedelta(seconds=1)
    )
    cancelled = await create_campaign(app_client, partner, template_id, name="Called off")
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == cancelled["id"]).values(cancelled_at=now)
        )
        await session.commit()

    def body(**changes: Any) -> dict[str, Any]:
        base = issue_body(
            partner,
            campaign,
            ids(("email", "a@example.com"), ("phone", "+14155550100")),
            "Treatment",
        )
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    cases: list[tuple[str, dict[str, Any], int, str, str]] = [
        ("no campaign_id", body(campaign_id=None), 400, "BAD_REQUEST", "campaign_id: is required"),
        ("no merchant_id", body(merchant_id=None), 400, "BAD_REQUEST", "merchant_id: is required"),
        ("no variant_id", body(variant_id=None), 400, "BAD_REQUEST", "variant_id: is required"),
        ("no identifiers", body(identifiers=None), 400, "BAD_REQUEST", "identifiers: is required"),
        (
            "empty identifiers",
            body(identifiers=[]),
            400,
            "BAD_REQUEST",
            "identifiers: List should have at least 1 item after validation, not 0",
        ),
        (
            "10,001 identifiers",
            body(identifiers=[{"type": "email", "value": f"u{n}@x.io"} for n in range(10_001)]),
            400,
            "BAD_REQUEST",
            "identifiers: List should have at most 10000 items after validation, not 10001",
        ),
        (
            "unknown identifier type",
            body(identifiers=ids(("email", "a@example.com"), ("sms", "+14155550100"))),
            400,
            "BAD_REQUEST",
            "identifiers.1.type: Input should be 'email' or 'phone'",
        ),
        (
            "identifier without value",
            body(identifiers=[{"type": "email"}]),
            400,
            "BAD_REQUEST",
            "identifiers.0.value: is required",
        ),
        ("unknown field", body(note="hi"), 400, "BAD_REQUEST", "note: is not a known field"),
        (
            "variant of another campaign",
            body(variant_id=variant_id(other_campaign, "Treatment")),
            400,
            "BAD_REQUEST",
            f"variant {variant_id(other_campaign, 'Treatment')} does not belong to campaign "
            f"{campaign['id']}",
        ),
        (
            "unknown variant",
            body(variant_id="var_nope"),
            400,
            "BAD_REQUEST",
            f"variant var_nope does not belong to campaign {campaign['id']}",
        ),
        (
            "unknown campaign",
            body(campaign_id="cmp_nope"),
            404,
            "RESOURCE_NOT_FOUND",
            "campaign cmp_nope not found",
        ),
        (
            "another client's campaign",
            body(
                campaign_id=stranger_campaign["id"],
                variant_id=variant_id(stranger_campaign, "Treatment"),
            ),
            404,
            "RESOURCE_NOT_FOUND",
            f"campaign {stranger_campaign['id']} not found",
        ),
        (
            "merchant not granted",
            body(merchant_id=stranger.merchant_id),
            404,
            "RESOURCE_NOT_FOUND",
            f"merchant {stranger.merchant_id} not found",
        ),
        (
            "campaign of another of the client's merchants",
            body(merchant_id=second.merchant_id),
            404,
            "RESOURCE_NOT_FOUND",
            f"campaign {campaign['id']} not found",
        ),
    ]
    for name, state, campaign_ in (
        ("scheduled", "scheduled", scheduled),
        ("ended", "ended", ended),
        ("cancelled", "cancelled", cancelled),
    ):
        cases.append(
            (
                f"{name} campaign",
                body(campaign_id=campaign_["id"], variant_id=variant_id(campaign_, "Treatment")),
                422,
                "INVALID_STATE",
                f"campaign {campaign_['id']} is not active ({state})",
            )
        )
    wrong = []
    for name, request, status, code, message in cases:
        response = await issue(app_client, partner, request)
        if (response.status_code, response.json()) != (status, {"code": code, "message": message}):
            wrong.append(f"{name}: {response.status_code} {response.text[:300]}")
    assert wrong == []
    assert await count_jobs(runtime, partner.client_id) == 0
    # The base body differs from each case in one thing only, and is itself accepted.
    accepted = await issue(app_client, partner, body())
    assert accepted.status_code == 202, accepted.text


# --- Idempotency ---------------------------------------------------------------------------


async def test_a_repeat_gets_the_original_response_byte_for_byte(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    body = issue_body(partner, campaign, ids(("email", "a@example.com")), "Treatment")
    first = await issue(app_client, partner, body, key="key-1")
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers

    # The same request, its keys in another order and spaced differently.
    reordered = orjson.dumps(dict(reversed(list(body.items()))), option=orjson.OPT_INDENT_2)
    headers = partner.headers(**{"X-Idempotency-Key": "key-1", "Content-Type": "application/json"})
    for repeat in (
        await issue(app_client, partner, body, key="key-1"),
        await app_client.post(ISSUE, headers=headers, content=reordered),
    ):
        assert repeat.status_code == 202
        assert repeat.content == first.content
        assert repeat.headers["content-type"] == first.headers["content-type"]
        assert repeat.headers["idempotent-replayed"] == "true"
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_the_same_key_with_another_body_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    body = issue_body(partner, campaign, ids(("email", "a@example.com")), "Treatment")
    assert (await issue(app_client, partner, body, key="key-2")).status_code == 202
    body["identifiers"] = ids(("email", "b@example.com"))
    response = await issue(app_client, partner, body, key="key-2")
    assert response.status_code == 422
    assert response.json() == {
        "code": "IDEMPOTENCY_KEY_REUSED",
        "message": "This idempotency key was already used with a different request",
    }
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_a_repeat_while_the_original_is_in_progress_is_a_conflict(
    app_client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    body = issue_body(partner, campaign, ids(("email", "a@example.com")), "Treatment")
    entered, release = asyncio.Event(), asyncio.Event()
    create_job = issuance_service.create_job

    async def held(session: Any, **kwargs: Any) -> IssuanceJob:
        entered.set()
        await release.wait()
        return await create_job(session, **kwargs)

    monkeypatch.setattr(issuance_service, "create_job", held)
    original = asyncio.create_task(issue(app_client, partner, body, key="key-3"))
    try:
        await asyncio.wait_for(entered.wait(), timeout=10)
        repeat = await issue(app_client, partner, body, key="key-3")
        assert repeat.status_code == 409
        assert repeat.json() == {
            "code": "IDEMPOTENCY_REQUEST_IN_PROGRESS",
            "message": "A request with this idempotency key is still being processed; retry later",
        }
    finally:
        release.set()
        first = await asyncio.wait_for(original, timeout=10)
    assert first.status_code == 202, first.text
    later = await issue(app_client, partner, body, key="key-3")
    assert (later.status_code, later.content) == (202, first.content)
    assert await count_jobs(runtime, partner.client_id) == 1


async def test_keys_belong_to_one_client(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    jobs = []
    for _ in range(2):
        partner, campaign, _ = await setup_campaign(app_client, runtime)
        body = issue_body(partner, campaign, ids(("email", "a@example.com")), "Treatment")
        response = await issue(app_client, partner, body, key="shared-key")
        assert response.status_code == 202, response.text
        assert "idempotent-replayed" not in response.headers
        assert await count_jobs(runtime, partner.client_id) == 1
        jobs.append(response.json()["issuance_job"]["id"])
    assert jobs[0] != jobs[1]


async def test_twenty_concurrent_identical_requests_make_one_job(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    body = issue_body(
        partner, campaign, ids(("email", "a@example.com"), ("email", "b@example.com")), "Treatment"
    )
    responses = await asyncio.gather(
        *(issue(app_client, partner, body, key="burst") for _ in range(20))
    )

    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    accepted = [r for r in responses if r.status_code == 202]
    assert accepted
    assert {r.content for r in accepted} == {accepted[0].content}
    assert await count_jobs(runtime, partner.client_id) == 1
    later = await issue(app_client, partner, body, key="burst")
    assert (later.status_code, later.content) == (202, accepted[0].content)


# --- Processing ----------------------------------------------------------------------------


async def test_a_job_issues_rewards_reports_failures_and_is_revoked(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client:
        partner, campaign, template_id = await setup_campaign(client, runtime)
        e0, e1, e3, gone = email("e0"), email("e1"), email("e3"), email("gone")
        [m0, m1] = await make_members(runtime, partner.merchant_id, emails=[e0, e1])
        [m2] = await make_members(runtime, partner.merchant_id, phones=["+14155550102"])
        await make_members(runtime, partner.merchant_id, emails=[gone], status="inactive")
        async with runtime.db.write_session() as session:
            both = await members.create_member(
                session,
                merchant_id=partner.merchant_id,
                actor=ACTOR,
                email=e3,
                phone="+14155550103",
            )
            await session.commit()
        unknown = email("unknown")
        identifiers = ids(
            ("email", e0),  # 0
            ("phone", "+14155550102"),  # 1
            ("email", "not-an-email"),  # 2
            ("phone", "4155550102"),  # 3: no +
            ("email", unknown),  # 4
            ("email", e0.upper()),  # 5: the same address as 0
            ("email", e1),  # 6
            ("email", gone),  # 7
            ("email", e3),  # 8
            ("phone", "+14155550103"),  # 9: the member of 8 again
            ("phone", "+1415"),  # 10
        )
        body = issue_body(partner, campaign, identifiers, "Treatment")
        accepted = await issue(client, partner, body, key="flow")
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]

        job = await wait_for_job(client, partner, job_id, FINISHED)

        expected_failures = [
            (2, "email", "not-an-email", INVALID_EMAIL),
            (3, "phone", "4155550102", INVALID_PHONE),
            (4, "email", unknown, NOT_FOUND),
            (5, "email", e0.upper(), DUPLICATE),
            (7, "email", gone, INACTIVE),
            (9, "phone", "+14155550103", DUPLICATE),
            (10, "phone", "+1415", INVALID_PHONE),
        ]
        assert job["state"] == "completed", job
        assert (job["total_count"], job["processed_count"], job["progress_percent"]) == (
            11,
            11,
            100,
        )
        assert (job["success_count"], job["failure_count"]) == (4, 7)
        assert job["summary"] == {
            "success_count": 4,
            "failure_count": 7,
            "failures": [
                {"identifier_index": i, "identifier_type": t, "error": e}
                for i, t, _, e in expected_failures
            ],
        }
        assert job["created_at"] <= job["started_at"] <= job["completed_at"]

        # Rewards: one per successful identifier, carrying the campaign's redemption window.
        rewards = await rows_of(runtime, IssuedReward, job_id)
        assert sorted((r.identifier_index, r.member_id) for r in rewards) == [
            (0, m0),
            (1, m2),
            (6, m1),
            (8, both.id),
        ]
        for reward in rewards:
            assert (reward.state, reward.template_id) == ("active", template_id)
            assert (iso(reward.valid_from), iso(reward.valid_to)) == (
                campaign["redeemable_from"],
                campaign["redeemable_to"],
            )
            assert reward.variant_id == variant_id(campaign, "Treatment")
        assert await rows_of(runtime, Holdout, job_id) == []

        # One reward.issued per reward: the identifier's type and index, never its value.
        issued = await events_of(runtime, job_id, "reward.issued")
        by_reward = {r.id: r for r in rewards}
        assert sorted(e.subject_id for e in issued) == sorted(by_reward)
        types = {i: identifiers[i]["type"] for i in (0, 1, 6, 8)}
        treatment = next(v for v in campaign["variants"] if v["name"] == "Treatment")
        campaign_payload = {k: v for k, v in campaign.items() if k not in ("variants",)}
        for event in issued:
            reward = by_reward[event.subject_id]
            assert event.client_id == partner.client_id
            payload = event.payload
            assert set(payload) == {"event", "timestamp", "data"}
            assert payload["event"] == "reward.issued"
            assert payload["data"] == {
                "issuance_job_id": job_id,
                "merchant_id": partner.merchant_id,
                "reward_id": reward.id,
                "identifier": {
                    "type": types[reward.identifier_index],
                    "index": reward.identifier_index,
                },
                "user_id": reward.member_id,
                "state": "active",
                "expires_at": campaign["redeemable_to"],
                "campaign": {**campaign_payload, "variant": treatment},
            }
            raw = orjson.dumps(payload).decode().lower()
            assert not any(i["value"].lower() in raw for i in identifiers), raw

        # One reward_batch.completed, with the raw values of the failures.
        [batch] = await events_of(runtime, job_id, "reward_batch.completed")
        assert batch.payload["event"] == "reward_batch.completed"
        assert batch.payload["data"] == {
            "issuance_job_id": job_id,
            "merchant_id": partner.merchant_id,
            "state": "completed",
            "total_count": 11,
            "issued_count": 4,
            "failed_count": 7,
            "failures": [{"user_identifier": v, "reason": e} for _, _, v, e in expected_failures],
        }

        # The key still answers with the original 202, whatever the job became since.
        replay = await issue(client, partner, body, key="flow")
        assert replay.content == accepted.content

        # Revocation: 202 with "revoking", then "revoked" and every reward revoked.
        revoke = await client.post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            headers=partner.headers(),
            json={"merchant_id": partner.merchant_id},
        )
        assert revoke.status_code == 202, revoke.text
        revoking = revoke.json()["issuance_job"]
        assert revoking["state"] == "revoking"
        assert {k: v for k, v in revoking.items() if k != "state"} == {
            k: v for k, v in job.items() if k != "state"
        }
        revoked = await wait_for_job(client, partner, job_id, in_state("revoked"))
        assert revoked["success_count"] == 4
        rewards = await rows_of(runtime, IssuedReward, job_id)
        assert [r.state for r in rewards] == ["revoked"] * 4
        assert all(r.revoked_at is not None for r in rewards)
        again = await client.post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            headers=partner.headers(),
            json={"merchant_id": partner.merchant_id},
        )
        assert again.status_code == 422
        assert again.json()["code"] == "INVALID_STATE"


async def test_a_job_goes_from_pending_through_processing_to_completed(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two identifiers; the second chunk waits until the test has seen the job."""
    monkeypatch.setattr(
        tasks, "get_settings", lambda: settings.model_copy(update={"issuance_chunk_size": 2})
    )
    reached, release = asyncio.Event(), asyncio.Event()
    process_chunk = processor._process_chunk
    async with worker_client(settings) as client:
        partner, campaign, _ = await setup_campaign(client, runtime)

        async def gated(session: Any, ctx: Any, start: int, *args: Any) -> Any:
            if ctx.campaign.client_id == partner.client_id and start == 2:
                reached.set()
                await asyncio.wait_for(release.wait(), timeout=30)
            return await process_chunk(session, ctx, start, *args)

        monkeypatch.setattr(processor, "_process_chunk", gated)
        addresses = [email(f"m{n}") for n in range(4)]
        await make_members(runtime, partner.merchant_id, emails=addresses)
        identifiers = ids(*[("email", a) for a in addresses])
        accepted = await issue(
            client, partner, issue_body(partner, campaign, identifiers, "Control")
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        assert accepted.json()["issuance_job"]["state"] == "pending"
        try:
            await asyncio.wait_for(reached.wait(), timeout=30)
            during = await get_job(client, partner, job_id)
        finally:
            release.set()
        done = await wait_for_job(client, partner, job_id, FINISHED)

    assert during["state"] == "processing"
    assert (during["processed_count"], during["success_count"], during["failure_count"]) == (
        2,
        2,
        0,
    )
    assert during["progress_percent"] == 50
    assert during["started_at"] is not None and during["completed_at"] is None
    assert "summary" not in during
    assert done["state"] == "completed"
    assert (done["processed_count"], done["success_count"], done["failure_count"]) == (4, 4, 0)
    assert done["started_at"] == during["started_at"]
    # Nothing failed: the summary has no failures (not an empty or null list).
    assert done["summary"] == {"success_count": 4, "failure_count": 0}


async def test_a_repeat_is_a_duplicate_whichever_chunk_it_falls_in(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two identifiers: each repeat below is in another chunk than its original."""
    monkeypatch.setattr(
        tasks, "get_settings", lambda: settings.model_copy(update={"issuance_chunk_size": 2})
    )
    async with worker_client(settings) as client:
        partner, campaign, _ = await setup_campaign(client, runtime)
        known, gone, nobody = email("known"), email("gone"), email("nobody")
        [known_id] = await make_members(runtime, partner.merchant_id, emails=[known])
        await make_members(runtime, partner.merchant_id, emails=[gone], status="inactive")
        identifiers = ids(
            ("email", nobody),  # 0, chunk 1
            ("email", gone),  # 1, chunk 1
            ("email", known),  # 2, chunk 2
            ("email", nobody.upper()),  # 3, chunk 2
            ("email", gone),  # 4, chunk 3
            ("email", known.upper()),  # 5, chunk 3
        )
        accepted = await issue(
            client, partner, issue_body(partner, campaign, identifiers, "Treatment")
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        job = await wait_for_job(client, partner, job_id, FINISHED)

    assert [(f["identifier_index"], f["error"]) for f in job["summary"]["failures"]] == [
        (0, NOT_FOUND),
        (1, INACTIVE),
        (3, DUPLICATE),
        (4, DUPLICATE),
        (5, DUPLICATE),
    ]
    rewards = await rows_of(runtime, IssuedReward, job_id)
    assert [(r.identifier_index, r.member_id) for r in rewards] == [(2, known_id)]


async def test_a_control_variant_records_holdouts_and_issues_nothing(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client:
        partner, campaign, _ = await setup_campaign(client, runtime)
        addresses = [email(f"h{n}") for n in range(3)]
        member_ids = await make_members(runtime, partner.merchant_id, emails=addresses)
        identifiers = ids(*[("email", a) for a in addresses], ("email", email("nobody")))
        accepted = await issue(
            client, partner, issue_body(partner, campaign, identifiers, "Control")
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        job = await wait_for_job(client, partner, job_id, FINISHED)

    assert job["state"] == "completed"
    assert (job["success_count"], job["failure_count"]) == (3, 1)
    assert job["summary"]["failures"] == [
        {"identifier_index": 3, "identifier_type": "email", "error": NOT_FOUND}
    ]
    holdouts = await rows_of(runtime, Holdout, job_id)
    control = variant_id(campaign, "Control")
    assert sorted((h.identifier_index, h.member_id) for h in holdouts) == list(
        enumerate(member_ids)
    )
    assert {(h.campaign_id, h.variant_id) for h in holdouts} == {(campaign["id"], control)}
    assert await rows_of(runtime, IssuedReward, job_id) == []
    assert await events_of(runtime, job_id, "reward.issued") == []
    [batch] = await events_of(runtime, job_id, "reward_batch.completed")
    assert batch.payload["data"]["failed_count"] == 1
    assert batch.payload["data"]["issued_count"] == job["success_count"]


async def test_a_job_where_no_identifier_succeeds_fails_and_can_be_revoked(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client:
        partner, campaign, _ = await setup_campaign(client, runtime)
        identifiers = ids(("email", "nope"), ("phone", "+1"), ("email", "nobody@example.com"))
        accepted = await issue(
            client, partner, issue_body(partner, campaign, identifiers, "Treatment")
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        job = await wait_for_job(client, partner, job_id, FINISHED)
        assert job["state"] == "failed", job
        assert (job["processed_count"], job["success_count"], job["failure_count"]) == (3, 0, 3)
        assert job["completed_at"] is not None
        assert [f["error"] for f in job["summary"]["failures"]] == [
            INVALID_EMAIL,
            INVALID_PHONE,
            NOT_FOUND,
        ]
        [batch] = await events_of(runtime, job_id, "reward_batch.completed")
        assert (batch.payload["data"]["state"], batch.payload["data"]["issued_count"]) == (
            "failed",
            0,
        )
        assert await events_of(runtime, job_id, "reward.issued") == []

        revoke = await client.post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            headers=partner.headers(),
            json={"merchant_id": partner.merchant_id},
        )
        assert (revoke.status_code, revoke.json()["issuance_job"]["state"]) == (202, "revoking")
        await wait_for_job(client, partner, job_id, in_state("revoked"))


async def test_unknown_members_are_enrolled_when_the_merchant_allows_it(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client:
        partner, campaign, _ = await setup_campaign(client, runtime, enrol_unknown_members=True)
        known = email("known")
        [known_id] = await make_members(runtime, partner.merchant_id, emails=[known])
        fresh = email("fresh")
        identifiers = ids(
            ("email", known),
            ("email", fresh.upper()),
            ("phone", "+14155550177"),
            ("email", "broken@"),
            ("email", fresh),
        )
        accepted = await issue(
            client, partner, issue_body(partner, campaign, identifiers, "Treatment")
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        job = await wait_for_job(client, partner, job_id, FINISHED)

    assert job["state"] == "completed"
    assert (job["success_count"], job["failure_count"]) == (3, 2)
    assert [(f["identifier_index"], f["error"]) for f in job["summary"]["failures"]] == [
        (3, INVALID_EMAIL),
        (4, DUPLICATE),
    ]
    async with runtime.db.session() as session:
        enrolled = {
            (m.email, m.phone): m
            for m in await session.scalars(
                select(Member).where(Member.merchant_id == partner.merchant_id)
            )
        }
    assert set(enrolled) == {(known, None), (fresh, None), (None, "+14155550177")}
    assert all(m.status == "active" for m in enrolled.values())
    rewards = await rows_of(runtime, IssuedReward, job_id)
    assert sorted((r.identifier_index, r.member_id) for r in rewards) == [
        (0, known_id),
        (1, enrolled[(fresh, None)].id),
        (2, enrolled[(None, "+14155550177")].id),
    ]


async def test_without_enrolment_unknown_members_are_not_created(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client:
        partner, campaign, _ = await setup_campaign(client, runtime)
        identifiers = ids(("email", email("stranger")), ("phone", "+14155550178"))
        accepted = await issue(
            client, partner, issue_body(partner, campaign, identifiers, "Treatment")
        )
        job = await wait_for_job(client, partner, accepted.json()["issuance_job"]["id"], FINISHED)
    assert [f["error"] for f in job["summary"]["failures"]] == [NOT_FOUND, NOT_FOUND]
    async with runtime.db.session() as session:
        member = await session.scalar(
            select(Member.id).where(Member.merchant_id == partner.merchant_id).limit(1)
        )
    assert member is None


# --- Revocation rules and access -----------------------------------------------------------


async def _set_job_state(runtime: Runtime, job_id: str, state: str) -> None:
    async with runtime.db.write_session() as session:
        await session.execute(
            update(IssuanceJob).where(IssuanceJob.id == job_id).values(state=state)
        )
        await session.commit()


async def test_only_completed_or_failed_jobs_can_be_revoked(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    body = issue_body(partner, campaign, ids(("email", "a@example.com")), "Treatment")
    job_ids = []
    for _ in range(3):
        response = await issue(app_client, partner, body)
        job_ids.append(response.json()["issuance_job"]["id"])
    job_id, completed_id, failed_id = job_ids

    async def revoke(job: str) -> httpx.Response:
        return await app_client.post(
            f"/partner/issuance_jobs/{job}/revoke",
            headers=partner.headers(),
            json={"merchant_id": partner.merchant_id},
        )

    for state in ("pending", "processing", "revoking", "revoked"):
        await _set_job_state(runtime, job_id, state)
        response = await revoke(job_id)
        assert response.status_code == 422, (state, response.text)
        assert response.json() == {
            "code": "INVALID_STATE",
            "message": f"issuance job {job_id} is {state}; only completed or failed jobs can be "
            "revoked",
        }
        assert (await get_job(app_client, partner, job_id))["state"] == state

    for allowed, state in ((completed_id, "completed"), (failed_id, "failed")):
        await _set_job_state(runtime, allowed, state)
        response = await revoke(allowed)
        assert response.status_code == 202, (state, response.text)
        assert response.json()["issuance_job"]["state"] == "revoking"
        assert (await get_job(app_client, partner, allowed))["state"] == "revoking"
        assert (await revoke(allowed)).status_code == 422


async def test_a_job_is_only_visible_to_its_client_and_merchant(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    response = await issue(
        app_client, partner, issue_body(partner, campaign, ids(("email", "a@x.io")), "Treatment")
    )
    job_id = response.json()["issuance_job"]["id"]
    await _set_job_state(runtime, job_id, "completed")
    other = await new_partner(runtime)
    await grant(runtime, other, partner.merchant_id)
    second = await new_partner(runtime)
    await grant(runtime, partner, second.merchant_id)

    attempts = [
        (other, other.merchant_id),
        (other, partner.merchant_id),
        (partner, second.merchant_id),
        (partner, "mer_unknown"),
    ]
    for who, merchant_id in attempts:
        got = await app_client.get(
            f"/partner/issuance_jobs/{job_id}",
            params={"merchant_id": merchant_id},
            headers=who.headers(),
        )
        revoked = await app_client.post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            headers=who.headers(),
            json={"merchant_id": merchant_id},
        )
        for answer in (got, revoked):
            assert answer.status_code == 404, (who, merchant_id, answer.text)
            assert answer.json()["code"] == "RESOURCE_NOT_FOUND"
    assert (await get_job(app_client, partner, job_id))["state"] == "completed"
    missing = await app_client.get(
        "/partner/issuance_jobs/job_nope",
        params={"merchant_id": partner.merchant_id},
        headers=partner.headers(),
    )
    assert missing.status_code == 404
    no_merchant = await app_client.get(
        f"/partner/issuance_jobs/{job_id}", headers=partner.headers()
    )
    assert no_merchant.status_code == 400
    assert no_merchant.json()["message"] == "merchant_id: is required"


async def test_every_campaign_route_needs_the_rewards_issue_scope(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner, campaign, template_id = await setup_campaign(app_client, runtime)
    accepted = await issue(
        app_client, partner, issue_body(partner, campaign, ids(("email", "a@x.io")), "Treatment")
    )
    job_id = accepted.json()["issuance_job"]["id"]
    # The same merchant, granted to a client without the scope.
    bare = await new_partner(runtime, scopes=())
    await grant(runtime, bare, partner.merchant_id)
    merchant = {"merchant_id": partner.merchant_id}
    body = issue_body(partner, campaign, ids(("email", "a@x.io")), "Treatment")
    requests: list[tuple[str, str, dict[str, Any] | None, dict[str, str] | None]] = [
        ("GET", "/partner/reward_templates", None, merchant),
        ("GET", f"/partner/reward_templates/{template_id}", None, merchant),
        ("POST", "/partner/campaigns", {"campaign": {"merchant_id": partner.merchant_id}}, None),
        ("GET", "/partner/campaigns", None, merchant),
        ("GET", f"/partner/campaigns/{campaign['id']}", None, None),
        ("POST", ISSUE, body, None),
        ("GET", f"/partner/issuance_jobs/{job_id}", None, merchant),
        ("POST", f"/partner/issuance_jobs/{job_id}/revoke", merchant, None),
    ]
    for method, path, json, params in requests:
        for who, status in ((bare, 403), (partner, None)):
            response = await app_client.request(
                method, path, json=json, params=params, headers=who.headers()
            )
            if status is None:
                assert response.status_code != 403, (method, path, response.text)
                continue
            assert response.status_code == 403, (method, path, response.text)
            assert response.json() == {
                "code": "FORBIDDEN",
                "message": "This credential lacks the rewards.issue scope",
            }
    merchants = await app_client.get("/partner/merchants", headers=bare.headers())
    assert merchants.status_code == 200
    assert await count_jobs(runtime, bare.client_id) == 0
    assert (await get_job(app_client, partner, job_id))["state"] == "pending"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "merchant_id: is required"),
        (b"{}", "merchant_id: is required"),
        (b"[]", "The request body must be a JSON object"),
        (b'{"merchantId": "m"}', "merchant_id: is required"),
    ],
    ids=["empty", "empty-object", "array", "wrong-field"],
)
async def test_a_revocation_without_its_body_names_the_missing_field(
    app_client: httpx.AsyncClient, runtime: Runtime, content: bytes, message: str
) -> None:
    """Revoke's body is ``{"merchant_id": ...}``; a refusal says which field is missing."""
    partner = await new_partner(runtime)
    response = await app_client.post(
        "/partner/issuance_jobs/ijb_unknown/revoke",
        headers=partner.headers(**{"Content-Type": "application/json"}),
        content=content,
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"code": "BAD_REQUEST", "message": message}


async def test_an_identifier_with_a_control_character_is_refused_whole_naming_it(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """SQLite would store a NUL that PostgreSQL refuses: both answer 400, and no job is made."""
    partner, campaign, _ = await setup_campaign(app_client, runtime)
    identifiers = ids(("email", "a@example.com"), ("email", "b\x00@example.com"))
    body = issue_body(partner, campaign, identifiers, "Treatment")
    response = await issue(app_client, partner, body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "code": "BAD_REQUEST",
        "message": "identifiers.1.value: must not contain NUL or other control characters",
    }
    assert await count_jobs(runtime, partner.client_id) == 0
