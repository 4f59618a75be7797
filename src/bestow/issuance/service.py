"""Batch issuance: accept a job at once, process it in the worker, revoke it on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns.service import Status, status
from bestow.issuance import campaigns
from bestow.kit import jobs
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid, InvalidState, NotFound
from bestow.merchants import service as merchants
from bestow.models import IssuanceFailure, IssuanceJob

MAX_IDENTIFIERS = 10_000
IDENTIFIER_TYPES = ("email", "phone")
PROCESS_TASK = "issuance.process"
REVOKE_TASK = "issuance.revoke"
REVOCABLE = ("completed", "failed")
FINISHED = ("completed", "failed", "revoking", "revoked")


@dataclass(frozen=True)
class Identifier:
    type: str
    value: str


async def create_job(
    session: WriteSession,
    *,
    client_id: str,
    merchant_id: str,
    campaign_id: str,
    variant_id: str,
    identifiers: list[Identifier],
) -> IssuanceJob:
    """Validate the request as a whole and queue it; single identifiers are judged later."""
    await merchants.granted_merchant(session, client_id=client_id, merchant_id=merchant_id)
    campaign = await campaigns.client_campaign(
        session, client_id=client_id, campaign_id=campaign_id
    )
    if campaign.merchant_id != merchant_id:
        raise NotFound(f"campaign {campaign_id} not found")
    await campaigns.variant_of(session, campaign_id=campaign_id, variant_id=variant_id)
    state = status(campaign)
    if state is not Status.ACTIVE:
        raise InvalidState(f"campaign {campaign_id} is not active ({state.value.lower()})")
    if not 1 <= len(identifiers) <= MAX_IDENTIFIERS:
        raise Invalid(f"identifiers must have 1 to {MAX_IDENTIFIERS:,} items", field="identifiers")
    job = IssuanceJob(
        client_id=client_id,
        merchant_id=merchant_id,
        campaign_id=campaign_id,
        variant_id=variant_id,
        state="pending",
        identifiers=[[i.type, i.value] for i in identifiers],
        total_count=len(identifiers),
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    await jobs.enqueue(session, PROCESS_TASK, {"job_id": job.id}, unique_key=f"issue:{job.id}")
    return job


async def client_job(
    session: AsyncSession, *, client_id: str, merchant_id: str, job_id: str
) -> IssuanceJob:
    job = await session.get(IssuanceJob, job_id)
    if job is None or job.client_id != client_id or job.merchant_id != merchant_id:
        raise NotFound(f"issuance job {job_id} not found")
    return job


async def failures(session: AsyncSession, job_id: str) -> list[IssuanceFailure]:
    rows = await session.scalars(
        select(IssuanceFailure)
        .where(IssuanceFailure.job_id == job_id)
        .order_by(IssuanceFailure.identifier_index)
    )
    return list(rows)


async def request_revocation(
    session: WriteSession, *, client_id: str, merchant_id: str, job_id: str
) -> IssuanceJob:
    job = await client_job(session, client_id=client_id, merchant_id=merchant_id, job_id=job_id)
    await session.refresh(job, with_for_update=True)
    if job.state not in REVOCABLE:
        raise InvalidState(
            f"issuance job {job_id} is {job.state}; only completed or failed jobs can be revoked"
        )
    job.state = "revoking"
    job.revoke_requested_at = utcnow()
    await jobs.enqueue(session, REVOKE_TASK, {"job_id": job.id}, unique_key=f"revoke:{job.id}")
    return job


def progress_percent(job: IssuanceJob) -> int:
    if job.total_count == 0:
        return 100
    return job.processed_count * 100 // job.total_count


def summary(job: IssuanceJob, failed: list[IssuanceFailure]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success_count": job.success_count,
        "failure_count": job.failure_count,
    }
    if failed:
        body["failures"] = [
            {
                "identifier_index": f.identifier_index,
                "identifier_type": f.identifier_type,
                "error": f.error,
            }
            for f in failed
        ]
    return body
