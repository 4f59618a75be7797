"""Partner issuance jobs and Operator bulk enrollments as the Admin API and the CLI list them:
their counts, state and times, never the identifiers or player ids they were given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.freebets import listing as bulks
from bestow.issuance import listing as jobs
from bestow.issuance.service import progress_percent
from bestow.models import IssuanceJob, OperatorEnrollmentBatch
from bestow.views.pages import listing

JOB_COLUMNS = (
    "id",
    "client_id",
    "campaign_id",
    "state",
    "total_count",
    "success_count",
    "failure_count",
    "created_at",
)
BULK_COLUMNS = (
    "id",
    "client_id",
    "reward_id",
    "status",
    "total_count",
    "enrolled_count",
    "existing_count",
    "failed_count",
    "created_at",
)


class AdminIssuanceJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str = Field(examples=["job_01m98g6p0q8r7s6t5v4w3x2y1z"])
    client_id: str
    merchant_id: str
    campaign_id: str = Field(examples=["cmp_01m98g6p0q8r7s6t5v4w3x2y1z"])
    variant_id: str = Field(examples=["var_01m98g6p0q8r7s6t5v4w3x2y1z"])
    state: str = Field(
        description="`pending`, `processing`, `completed`, `failed`, `revoking` or `revoked`",
        examples=["completed"],
    )
    total_count: int
    processed_count: int
    success_count: int
    failure_count: int
    revoked_count: int
    progress_percent: int
    error: str | None = Field(
        description="Why the job failed as a whole, if it did", examples=[None]
    )
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    revoke_requested_at: datetime | None
    revoked_at: datetime | None


class AdminBulkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str = Field(examples=["oeb_01m98g6p0q8r7s6t5v4w3x2y1z"])
    client_id: str
    reward_id: str = Field(examples=["orw_01m98g6p0q8r7s6t5v4w3x2y1z"])
    status: str = Field(
        description="`pending`, `processing`, `completed` or `failed`", examples=["completed"]
    )
    bet_value_minor: int = Field(description="Hundredths of the currency unit")
    bet_count: int
    total_count: int
    processed_count: int
    enrolled_count: int
    existing_count: int = Field(description="Players already enrolled in the reward")
    failed_count: int
    error: str | None = Field(description="Why the bulk failed as a whole, if it did")
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


def job_out(job: IssuanceJob) -> dict[str, Any]:
    fields = AdminIssuanceJobOut.model_fields.keys() - {"progress_percent"}
    return {
        **{name: getattr(job, name) for name in fields},
        "progress_percent": progress_percent(job),
    }


def bulk_out(batch: OperatorEnrollmentBatch) -> dict[str, Any]:
    view = {name: getattr(batch, name) for name in AdminBulkOut.model_fields}
    return {**view, "status": batch.status.lower()}


async def job_list(
    session: AsyncSession, filters: jobs.Filters, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of issuance jobs, newest first: ``data`` and the ``next_cursor``."""
    found = await jobs.page(session, filters, cursor=cursor, limit=limit)
    return listing(found, job_out)


async def bulk_list(
    session: AsyncSession, filters: bulks.Filters, *, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of bulk enrollments, newest first: ``data`` and the ``next_cursor``."""
    found = await bulks.page(session, filters, cursor=cursor, limit=limit)
    return listing(found, bulk_out)
