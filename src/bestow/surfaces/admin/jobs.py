"""Admin API: Partner issuance jobs and Operator bulk enrollments of every client
(``bestow.issuance.listing``, ``bestow.freebets.listing``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from bestow.deps import ReadSessionDep
from bestow.freebets import listing as bulks
from bestow.issuance import listing as jobs
from bestow.kit.timefmt import aware
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit
from bestow.views.jobs import AdminBulkOut, AdminIssuanceJobOut, bulk_list, job_list
from bestow.views.pages import ListOut

router = APIRouter(prefix="/admin", tags=["Admin API"])

Since = Annotated[
    datetime | None, Query(description="Created at or after this time (UTC if no offset)")
]
Until = Annotated[datetime | None, Query(description="Created before this time")]
WithFailures = Annotated[
    bool | None, Query(description="true: those with a failure; false: those without")
]
Id = Annotated[str | None, Query(max_length=64)]


@router.get("/issuance_jobs", response_model=ListOut[AdminIssuanceJobOut])
async def list_issuance_jobs(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(jobs.STATES) + ")$")] = None,
    since: Since = None,
    until: Until = None,
    with_failures: WithFailures = None,
    client_id: Id = None,
    merchant_id: Id = None,
    campaign_id: Id = None,
) -> Any:
    """Partner issuance jobs of every client, newest first, without their identifiers."""
    filters = jobs.Filters(
        state=state,
        since=aware(since, "since"),
        until=aware(until, "until"),
        with_failures=with_failures,
        client_id=client_id,
        merchant_id=merchant_id,
        campaign_id=campaign_id,
    )
    return await job_list(session, filters, cursor=cursor, limit=limit)


@router.get("/enrollment_bulks", response_model=ListOut[AdminBulkOut])
async def list_enrollment_bulks(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(bulks.STATUSES) + ")$")] = None,
    since: Since = None,
    until: Until = None,
    with_failures: WithFailures = None,
    client_id: Id = None,
    reward_id: Id = None,
) -> Any:
    """Operator bulk enrollments of every operator, newest first, without their player ids."""
    filters = bulks.Filters(
        status=status,
        since=aware(since, "since"),
        until=aware(until, "until"),
        with_failures=with_failures,
        client_id=client_id,
        reward_id=reward_id,
    )
    return await bulk_list(session, filters, cursor=cursor, limit=limit)
