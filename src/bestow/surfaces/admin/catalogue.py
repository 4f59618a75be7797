"""Admin API: a client's own catalogue (``docs/catalogue.md``): the voucher products, reward
templates and loyalty rewards it sees and issues."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.lab import catalogue
from bestow.surfaces.admin.auth import AdminActor
from bestow.views.catalogue import CatalogueItemOut, CatalogueOut

router = APIRouter(prefix="/admin", tags=["Admin API"])

Kind = Annotated[str, Query(pattern="^(product|template|loyalty_reward)$")]


@router.get("/clients/{client_id}/catalogue", response_model=CatalogueOut)
async def list_catalogue(
    client_id: str, _: AdminActor, session: ReadSessionDep, kind: Kind | None = None
) -> Any:
    """The items assigned to a client, of every kind or of `kind`."""
    return {"data": await catalogue.items(session, client_id=client_id, kind=kind)}


@router.put(
    "/clients/{client_id}/catalogue/{kind}/{item_id}",
    response_model=CatalogueItemOut,
    responses={201: {"model": CatalogueItemOut, "description": "Assigned"}},
)
async def assign(
    client_id: str,
    kind: str,
    item_id: str,
    actor: AdminActor,
    session: WriteSessionDep,
    response: Response,
) -> Any:
    """Put an item in the client's catalogue (201; 200 if it was there already). From then on
    the client sees only the assigned items of that kind."""
    item, created = await catalogue.assign(
        session, client_id=client_id, kind=kind, item_id=item_id, actor=actor
    )
    response.status_code = 201 if created else 200
    return item


@router.delete("/clients/{client_id}/catalogue/{kind}/{item_id}", status_code=204)
async def unassign(
    client_id: str, kind: str, item_id: str, actor: AdminActor, session: WriteSessionDep
) -> Response:
    """Take an item out of the client's catalogue; with none of a kind left, the client sees
    the whole catalogue of that kind again."""
    await catalogue.unassign(session, client_id=client_id, kind=kind, item_id=item_id, actor=actor)
    return Response(status_code=204)
