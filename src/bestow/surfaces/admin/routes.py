"""Admin API: the operator of a deployment sets up clients, merchants and members here."""

from __future__ import annotations

import io
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response

from bestow.audit import service as audit
from bestow.clients import service as clients
from bestow.deps import RuntimeDep, SessionDep, WriteSessionDep
from bestow.kit.idempotency import StoredResponse
from bestow.kit.pagination import cursor_paginate
from bestow.members import importer
from bestow.members import service as members
from bestow.merchants import service as merchants
from bestow.models import AuditEntry, BusinessUnit, Client, Location, Member, Merchant
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import (
    AuditOut,
    BusinessUnitIn,
    BusinessUnitOut,
    ClientIn,
    ClientOut,
    ClientPatch,
    CredentialIn,
    CredentialOut,
    GrantIn,
    ImportErrorOut,
    IssuedCredentialOut,
    ListOut,
    LocationIn,
    LocationOut,
    MemberImportOut,
    MemberIn,
    MemberOut,
    MemberStatusIn,
    MerchantIn,
    MerchantOut,
    MerchantPatch,
    RotateIn,
)
from bestow.surfaces.common import idempotent

router = APIRouter(prefix="/admin", tags=["Admin API"])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _issued(issued: clients.IssuedSecret) -> IssuedCredentialOut:
    return IssuedCredentialOut.model_validate(
        {**CredentialOut.model_validate(issued.credential).model_dump(), "secret": issued.secret}
    )


# Clients ------------------------------------------------------------------------------------


@router.post("/clients", status_code=201, response_model=ClientOut)
async def create_client(
    body: ClientIn, actor: AdminActor, runtime: RuntimeDep, session: WriteSessionDep
) -> Client:
    """Create a client (an integrating partner)."""
    client = await clients.create_client(
        session,
        name=body.name,
        scopes=body.scopes,
        rate_limit_tier=body.rate_limit_tier,
        known_tiers=runtime.rate_limiter.tier_names(),
        operator_id=body.operator_id,
        actor=actor,
    )
    await session.commit()
    return client


@router.get("/clients", response_model=ListOut[ClientOut])
async def list_clients(
    _: AdminActor,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(active|suspended)$")] = None,
) -> Any:
    """List clients."""
    page = await cursor_paginate(
        session, clients.list_query(status=status), Client.id, cursor=cursor, limit=limit
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/clients/{client_id}", response_model=ClientOut)
async def get_client(client_id: str, _: AdminActor, session: SessionDep) -> Client:
    """One client."""
    return await clients.get_client(session, client_id)


@router.patch("/clients/{client_id}", response_model=ClientOut)
async def update_client(
    client_id: str,
    body: ClientPatch,
    actor: AdminActor,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> Client:
    """Rename a client, set its scopes, rate-limit tier or status."""
    client = await clients.update_client(
        session,
        client_id=client_id,
        actor=actor,
        known_tiers=runtime.rate_limiter.tier_names(),
        **body.model_dump(exclude_unset=True),
    )
    await session.commit()
    return client


@router.get("/clients/{client_id}/credentials", response_model=list[CredentialOut])
async def list_credentials(client_id: str, _: AdminActor, session: SessionDep) -> Any:
    """A client's credentials (never their secrets)."""
    return await clients.credentials(session, client_id)


@router.post(
    "/clients/{client_id}/credentials", status_code=201, response_model=IssuedCredentialOut
)
async def issue_credential(
    client_id: str,
    body: CredentialIn,
    actor: AdminActor,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> IssuedCredentialOut:
    """Issue a credential; its secret is in this response only."""
    issued = await clients.issue_credential(
        session, runtime.sealer, client_id=client_id, kind=body.kind, label=body.label, actor=actor
    )
    await session.commit()
    return _issued(issued)


@router.post(
    "/clients/{client_id}/credentials/{credential_id}/rotate",
    status_code=201,
    response_model=IssuedCredentialOut,
)
async def rotate_credential(
    client_id: str,
    credential_id: str,
    actor: AdminActor,
    runtime: RuntimeDep,
    session: WriteSessionDep,
    body: RotateIn | None = None,
) -> IssuedCredentialOut:
    """Replace a credential; the old one keeps working for ``grace_seconds``."""
    issued = await clients.rotate_credential(
        session,
        runtime.sealer,
        client_id=client_id,
        credential_id=credential_id,
        actor=actor,
        grace_seconds=body.grace_seconds if body else 0,
    )
    await session.commit()
    return _issued(issued)


@router.post(
    "/clients/{client_id}/credentials/{credential_id}/revoke", response_model=CredentialOut
)
async def revoke_credential(
    client_id: str, credential_id: str, actor: AdminActor, session: WriteSessionDep
) -> Any:
    """Revoke a credential now."""
    credential = await clients.revoke_credential(
        session, client_id=client_id, credential_id=credential_id, actor=actor
    )
    await session.commit()
    return credential


@router.get("/clients/{client_id}/merchants", response_model=list[str])
async def list_grants(client_id: str, _: AdminActor, session: SessionDep) -> list[str]:
    """Ids of the merchants the client may act for."""
    await clients.get_client(session, client_id)
    return await clients.granted_merchant_ids(session, client_id)


@router.post("/clients/{client_id}/merchants", status_code=204)
async def grant_merchant(
    client_id: str, body: GrantIn, actor: AdminActor, session: WriteSessionDep
) -> Response:
    """Let the client act for a merchant."""
    await clients.grant_merchant(
        session, client_id=client_id, merchant_id=body.merchant_id, actor=actor
    )
    await session.commit()
    return Response(status_code=204)


@router.delete("/clients/{client_id}/merchants/{merchant_id}", status_code=204)
async def revoke_merchant(
    client_id: str, merchant_id: str, actor: AdminActor, session: WriteSessionDep
) -> Response:
    """Withdraw a merchant grant."""
    await clients.revoke_merchant(
        session, client_id=client_id, merchant_id=merchant_id, actor=actor
    )
    await session.commit()
    return Response(status_code=204)


# Merchants, locations, business units -------------------------------------------------------


@router.post("/merchants", status_code=201, response_model=MerchantOut)
async def create_merchant(
    body: MerchantIn, actor: AdminActor, session: WriteSessionDep
) -> Merchant:
    """Create a merchant."""
    merchant = await merchants.create_merchant(session, actor=actor, **body.model_dump())
    await session.commit()
    return merchant


@router.get("/merchants", response_model=ListOut[MerchantOut])
async def list_merchants(
    _: AdminActor, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    """List merchants."""
    page = await cursor_paginate(
        session, merchants.list_query(), Merchant.id, cursor=cursor, limit=limit
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
async def get_merchant(merchant_id: str, _: AdminActor, session: SessionDep) -> Merchant:
    """One merchant."""
    return await merchants.get_merchant(session, merchant_id)


@router.patch("/merchants/{merchant_id}", response_model=MerchantOut)
async def update_merchant(
    merchant_id: str, body: MerchantPatch, actor: AdminActor, session: WriteSessionDep
) -> Merchant:
    """Change a merchant's name, time zone or enrolment option."""
    merchant = await merchants.update_merchant(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump(exclude_unset=True)
    )
    await session.commit()
    return merchant


@router.post("/merchants/{merchant_id}/locations", status_code=201, response_model=LocationOut)
async def create_location(
    merchant_id: str, body: LocationIn, actor: AdminActor, session: WriteSessionDep
) -> Location:
    """Add a location to a merchant."""
    location = await merchants.create_location(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump()
    )
    await session.commit()
    return location


@router.get("/merchants/{merchant_id}/locations", response_model=ListOut[LocationOut])
async def list_locations(
    merchant_id: str, _: AdminActor, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    """A merchant's locations."""
    await merchants.get_merchant(session, merchant_id)
    page = await cursor_paginate(
        session,
        merchants.locations_query(merchant_ids=[merchant_id]),
        Location.id,
        cursor=cursor,
        limit=limit,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/merchants/{merchant_id}/business_units", status_code=201, response_model=BusinessUnitOut
)
async def create_business_unit(
    merchant_id: str, body: BusinessUnitIn, actor: AdminActor, session: WriteSessionDep
) -> BusinessUnit:
    """Add a business unit to a merchant."""
    unit = await merchants.create_business_unit(
        session, merchant_id=merchant_id, name=body.name, actor=actor
    )
    await session.commit()
    return unit


@router.get("/merchants/{merchant_id}/business_units", response_model=ListOut[BusinessUnitOut])
async def list_business_units(
    merchant_id: str, _: AdminActor, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    """A merchant's business units."""
    await merchants.get_merchant(session, merchant_id)
    page = await cursor_paginate(
        session,
        merchants.business_units_query(merchant_id=merchant_id),
        BusinessUnit.id,
        cursor=cursor,
        limit=limit,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


# Members ------------------------------------------------------------------------------------


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

    async def work(session: Any) -> StoredResponse:
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
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(active|inactive)$")] = None,
) -> Any:
    """A merchant's members."""
    await merchants.get_merchant(session, merchant_id)
    page = await cursor_paginate(
        session,
        members.list_query(merchant_id=merchant_id, status=status),
        Member.id,
        cursor=cursor,
        limit=limit,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/members/{member_id}", response_model=MemberOut)
async def get_member(member_id: str, _: AdminActor, session: SessionDep) -> Member:
    """One member."""
    return await members.get_member(session, member_id)


@router.post("/members/{member_id}/status", response_model=MemberOut)
async def set_member_status(
    member_id: str, body: MemberStatusIn, actor: AdminActor, session: WriteSessionDep
) -> Member:
    """Activate or deactivate a member."""
    member = await members.set_status(session, member_id=member_id, status=body.status, actor=actor)
    await session.commit()
    return member


# Audit --------------------------------------------------------------------------------------


@router.get("/audit", response_model=ListOut[AuditOut])
async def list_audit(
    _: AdminActor,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """The audit trail, oldest first."""
    page = await cursor_paginate(
        session,
        audit.query(target_type=target_type, target_id=target_id),
        AuditEntry.id,
        cursor=cursor,
        limit=limit,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}
