"""Admin API: clients (integrating partners), their credentials and merchant grants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from bestow.clients import service as clients
from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.models import Client
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import (
    ClientIn,
    ClientPatch,
    CredentialIn,
    Cursor,
    GrantIn,
    Limit,
    RotateIn,
)
from bestow.views.clients import ClientOut, CredentialOut, IssuedCredentialOut, issued_credential
from bestow.views.pages import ListOut, listing

router = APIRouter(prefix="/admin", tags=["Admin API"])


@router.post("/clients", status_code=201, response_model=ClientOut)
async def create_client(
    body: ClientIn, actor: AdminActor, runtime: RuntimeDep, session: WriteSessionDep
) -> Client:
    """Create a client (an integrating partner)."""
    return await clients.create_client(
        session,
        name=body.name,
        scopes=body.scopes,
        rate_limit_tier=body.rate_limit_tier,
        known_tiers=runtime.rate_limiter.tier_names(),
        operator_id=body.operator_id,
        environment=body.environment,
        organization=body.organization,
        pinned=runtime.settings.environment,
        actor=actor,
    )


@router.get("/clients", response_model=ListOut[ClientOut])
async def list_clients(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(active|suspended)$")] = None,
    environment: Annotated[str | None, Query(pattern="^(demo|uat|production)$")] = None,
    organization: Annotated[str | None, Query(max_length=100)] = None,
) -> Any:
    """List clients."""
    page = await clients.list_clients(
        session,
        status=status,
        environment=environment,
        organization=organization,
        cursor=cursor,
        limit=limit,
    )
    return listing(page)


@router.get("/clients/{client_id}", response_model=ClientOut)
async def get_client(client_id: str, _: AdminActor, session: ReadSessionDep) -> Client:
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
    """Rename a client, set its scopes, rate-limit tier, status or organisation."""
    return await clients.update_client(
        session,
        client_id=client_id,
        actor=actor,
        known_tiers=runtime.rate_limiter.tier_names(),
        **body.model_dump(exclude_unset=True),
    )


@router.get("/clients/{client_id}/credentials", response_model=list[CredentialOut])
async def list_credentials(client_id: str, _: AdminActor, session: ReadSessionDep) -> Any:
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
    """Issue a credential; its secret is in this response only.

    A production client's first credential for a surface needs a passing certification of a
    UAT or demo client of its organisation, or an `override_reason` (409 otherwise)."""
    issued = await clients.issue_credential(
        session,
        runtime.sealer,
        client_id=client_id,
        kind=body.kind,
        label=body.label,
        override_reason=body.override_reason,
        pinned=runtime.settings.environment,
        actor=actor,
    )
    return issued_credential(issued)


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
    return issued_credential(issued)


@router.post(
    "/clients/{client_id}/credentials/{credential_id}/revoke", response_model=CredentialOut
)
async def revoke_credential(
    client_id: str, credential_id: str, actor: AdminActor, session: WriteSessionDep
) -> Any:
    """Revoke a credential now."""
    return await clients.revoke_credential(
        session, client_id=client_id, credential_id=credential_id, actor=actor
    )


@router.get("/clients/{client_id}/merchants", response_model=list[str])
async def list_grants(client_id: str, _: AdminActor, session: ReadSessionDep) -> list[str]:
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
    return Response(status_code=204)


@router.delete("/clients/{client_id}/merchants/{merchant_id}", status_code=204)
async def revoke_merchant(
    client_id: str, merchant_id: str, actor: AdminActor, session: WriteSessionDep
) -> Response:
    """Withdraw a merchant grant."""
    await clients.revoke_merchant(
        session, client_id=client_id, merchant_id=merchant_id, actor=actor
    )
    return Response(status_code=204)
