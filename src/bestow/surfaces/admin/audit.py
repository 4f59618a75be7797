"""Admin API: the audit trail of admin actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bestow.audit import service as audit
from bestow.deps import ReadSessionDep
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit
from bestow.views.audit import AuditOut
from bestow.views.pages import ListOut, listing

router = APIRouter(prefix="/admin", tags=["Admin API"])


@router.get("/audit", response_model=ListOut[AuditOut])
async def list_audit(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """The audit trail, oldest first."""
    return listing(
        await audit.list_entries(
            session, target_type=target_type, target_id=target_id, cursor=cursor, limit=limit
        )
    )
