"""Admin API: the request log of clients on the client surfaces (``bestow.lab.requestlog``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from bestow.deps import ReadSessionDep
from bestow.kit.timefmt import aware
from bestow.lab import requestlog
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit
from bestow.views.pages import ListOut
from bestow.views.requests import RequestOut

router = APIRouter(prefix="/admin", tags=["Admin API"])


@router.get("/requests", response_model=ListOut[RequestOut])
async def list_requests(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    route: Annotated[
        str | None,
        Query(
            max_length=210,
            description="A route template (`/partner/campaigns/issue`), or a method and one "
            "(`POST /partner/campaigns/issue`)",
        ),
    ] = None,
    status: Annotated[
        str | None, Query(max_length=3, description="A status (`429`) or a class (`5xx`)")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    idempotency_key: Annotated[str | None, Query(max_length=255)] = None,
) -> Any:
    """Clients' requests on the client surfaces, newest first."""
    filters = requestlog.Filters(
        client_id=client_id,
        route=route,
        status=status,
        since=aware(since, "since"),
        until=aware(until, "until"),
        request_id=request_id,
        idempotency_key=idempotency_key,
    )
    page = await requestlog.list_requests(session, filters, cursor=cursor, limit=limit)
    return {
        "data": [RequestOut.model_validate(item) for item in page.items],
        "next_cursor": page.next_cursor,
    }
