"""Admin API: members of a merchant's programme, one at a time or imported from CSV."""

from __future__ import annotations

import io
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.kit.idempotency import StoredResponse
from bestow.members import importer
from bestow.members import service as members
from bestow.models import Member
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import (
    Cursor,
    ImportErrorOut,
    Limit,
    MemberImportOut,
    MemberIn,
    MemberStatusIn,
)
from bestow.surfaces.common import idempotent
from bestow.views.members import MemberOut
from bestow.views.pages import ListOut, listing

router = APIRouter(prefix="/admin", tags=["Admin API"])


@router.post("/merchants/{merchant_id}/members", status_code=201, response_model=MemberOut)
async def create_member(
    merchant_id: str,
    body: MemberIn,
    actor: AdminActor,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response:
    """Create a member. With ``Idempotency-Key``, a repeat returns the first response."""

    async def work(session: AsyncSession) -> StoredResponse:
        member = await members.create_member(
            session, merchant_id=merchant_id, actor=actor, **body.model_dump()
        )
        payload = MemberOut.model_validate(member).model_dump(mode="json")
        return StoredResponse(201, {"content-type": "application/json"}, orjson.dumps(payload))

    response, _ = await idempotent(
        request,
        runtime,
        client_id="admin",
        key=idempotency_key,
        route="POST /admin/merchants/{merchant_id}/members",
        work=work,
    )
    return response


@router.post(
    "/merchants/{merchant_id}/members/import",
    response_model=MemberImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_members(
    merchant_id: str, actor: AdminActor, runtime: RuntimeDep, request: Request
) -> MemberImportOut:
    """Import members from a ``text/csv`` body; good rows are imported, bad ones returned."""
    text = importer.decode_csv(await request.body())
    # The importer commits chunk by chunk in sessions of its own (bestow.members.importer).
    report = await importer.import_members(
        runtime.db, merchant_id=merchant_id, source=io.StringIO(text, newline=""), actor=actor
    )
    return MemberImportOut(
        rows=report.rows,
        imported=report.imported,
        failed=report.failed,
        errors=[ImportErrorOut(line=e.line, reason=e.reason) for e in report.errors],
    )


@router.get("/merchants/{merchant_id}/members", response_model=ListOut[MemberOut])
async def list_members(
    merchant_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(active|inactive)$")] = None,
) -> Any:
    """A merchant's members."""
    page = await members.list_members(
        session, merchant_id=merchant_id, status=status, cursor=cursor, limit=limit
    )
    return listing(page)


@router.get("/members/{member_id}", response_model=MemberOut)
async def get_member(member_id: str, _: AdminActor, session: ReadSessionDep) -> Member:
    """One member."""
    return await members.get_member(session, member_id)


@router.post("/members/{member_id}/status", response_model=MemberOut)
async def set_member_status(
    member_id: str, body: MemberStatusIn, actor: AdminActor, session: WriteSessionDep
) -> Member:
    """Activate or deactivate a member."""
    return await members.set_status(session, member_id=member_id, status=body.status, actor=actor)
