"""Shared helpers of the tests that run campaigns of a reward kind (``voucher``, ``points``)
through the batch issuance engine: a published template of the kind, a campaign issued to email
addresses and processed, its revocation, and the job's failures."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.issuance import tasks
from bestow.models import RewardTemplate
from bestow.rewards import templates
from tests.conftest import ACTOR
from tests.surfaces.partner.helpers import (
    ISSUE,
    Partner,
    create_campaign,
    in_state,
    issue_body,
    wait_for_job,
)

FINISHED = in_state("completed", "failed")


async def kind_template(
    runtime: Runtime, merchant_id: str, *, kind: str, name: str, config: dict[str, Any]
) -> RewardTemplate:
    """A published reward template of ``kind`` with ``config``."""
    async with runtime.db.write_session() as session:
        template = await templates.create_template(
            session,
            merchant_id=merchant_id,
            kind=kind,
            name=name,
            actor=ACTOR,
            config=config,
            publish=True,
        )
        await session.commit()
        return template


async def issue_campaign(
    client: httpx.AsyncClient, partner: Partner, template_id: str, addresses: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A campaign of ``template_id`` issued to ``addresses`` (its Treatment variant) and waited
    for until the job is ``completed`` or ``failed``: (campaign, job)."""
    campaign = await create_campaign(client, partner, template_id)
    identifiers = [{"type": "email", "value": a} for a in addresses]
    accepted = await client.post(
        ISSUE,
        headers={**partner.headers(), "X-Idempotency-Key": str(uuid.uuid4())},
        json=issue_body(partner, campaign, identifiers, "Treatment"),
    )
    assert accepted.status_code == 202, accepted.text
    job = await wait_for_job(client, partner, accepted.json()["issuance_job"]["id"], FINISHED)
    return campaign, job


async def revoke_job(client: httpx.AsyncClient, partner: Partner, job_id: str) -> dict[str, Any]:
    """Revoke an issuance job and wait until it is ``revoked``: the job."""
    revoked = await client.post(
        f"/partner/issuance_jobs/{job_id}/revoke",
        headers=partner.headers(),
        json={"merchant_id": partner.merchant_id},
    )
    assert revoked.status_code == 202, revoked.text
    return await wait_for_job(client, partner, job_id, in_state("revoked"))


def failures(job: dict[str, Any]) -> list[tuple[int, str]]:
    return [(f["identifier_index"], f["error"]) for f in job["summary"].get("failures", [])]


def small_chunks(settings: Settings, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    changed = settings.model_copy(update={"issuance_chunk_size": size})
    monkeypatch.setattr(tasks, "get_settings", lambda: changed)
