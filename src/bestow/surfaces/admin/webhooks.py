"""Admin API: webhook endpoints of a client, their deliveries and attempts, replays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.kit.fields import IsoDateTime
from bestow.kit.outbox import event_types
from bestow.models import WebhookEndpoint
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit, Strict
from bestow.views.pages import ListOut, listing
from bestow.views.webhooks import (
    AttemptOut,
    DeliveryItemOut,
    DeliveryOut,
    EndpointOut,
    EndpointWithSecretOut,
    EventTypeOut,
    ReplayOut,
    delivery_item,
    delivery_view,
    with_secret,
)
from bestow.webhooks import deliveries, endpoints
from bestow.webhooks.endpoints import MAX_ATTEMPTS

router = APIRouter(prefix="/admin", tags=["Admin API"])

STATE = "^(" + "|".join(deliveries.STATES) + ")$"

EventTypes = Annotated[list[str], Field(max_length=50)]
Headers = Annotated[dict[str, str], Field(max_length=20)]


class EndpointIn(Strict):
    url: str = Field(min_length=1, max_length=2000)
    description: str = Field(default="", max_length=500)
    event_types: EventTypes = Field(
        default_factory=list, description="Event types to receive; empty means all"
    )
    max_attempts: int = Field(default=MAX_ATTEMPTS, ge=1, le=MAX_ATTEMPTS)
    headers: Headers = Field(
        default_factory=dict, description="Static headers sent with every request"
    )
    enabled: bool = True


class EndpointPatch(Strict):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: EventTypes | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=MAX_ATTEMPTS)
    headers: Headers | None = None
    enabled: bool | None = None


class RotateSecretIn(Strict):
    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the current secret keeps signing; the deployment's default if null",
    )


class ReplayIn(Strict):
    event_id: str | None = Field(default=None, max_length=40, description="Send this event again")
    since: IsoDateTime | None = Field(
        default=None, description="Send again every failed delivery created since this time"
    )


@router.get("/webhook_event_types", response_model=list[EventTypeOut])
async def list_event_types(_: AdminActor) -> list[EventTypeOut]:
    """Every event type an endpoint can subscribe to."""
    return [
        EventTypeOut(
            name=e.name, description=e.description, surface=e.surface, extension=e.extension
        )
        for e in event_types()
    ]


@router.post(
    "/clients/{client_id}/webhook_endpoints",
    status_code=201,
    response_model=EndpointWithSecretOut,
)
async def create_endpoint(
    client_id: str,
    body: EndpointIn,
    actor: AdminActor,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> EndpointWithSecretOut:
    """Register an endpoint; its signing secret is in this response only."""
    made = await endpoints.create_endpoint(
        session,
        runtime.sealer,
        client_id=client_id,
        actor=actor,
        **body.model_dump(),
    )
    return with_secret(made)


@router.get("/clients/{client_id}/webhook_endpoints", response_model=ListOut[EndpointOut])
async def list_endpoints(
    client_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """A client's endpoints."""
    return listing(
        await endpoints.list_endpoints(session, client_id=client_id, cursor=cursor, limit=limit)
    )


@router.get("/webhook_endpoints/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(endpoint_id: str, _: AdminActor, session: ReadSessionDep) -> WebhookEndpoint:
    """One endpoint."""
    return await endpoints.get_endpoint(session, endpoint_id)


@router.patch("/webhook_endpoints/{endpoint_id}", response_model=EndpointOut)
async def update_endpoint(
    endpoint_id: str,
    body: EndpointPatch,
    actor: AdminActor,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> WebhookEndpoint:
    """Change an endpoint; enabling it again clears its failure streak."""
    return await endpoints.update_endpoint(
        session,
        endpoint_id=endpoint_id,
        actor=actor,
        **body.model_dump(exclude_unset=True),
    )


@router.delete("/webhook_endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(
    endpoint_id: str, actor: AdminActor, session: WriteSessionDep
) -> Response:
    """Remove an endpoint with its deliveries and attempts."""
    await endpoints.delete_endpoint(session, endpoint_id=endpoint_id, actor=actor)
    return Response(status_code=204)


@router.post(
    "/webhook_endpoints/{endpoint_id}/rotate_secret",
    status_code=201,
    response_model=EndpointWithSecretOut,
)
async def rotate_secret(
    endpoint_id: str,
    actor: AdminActor,
    runtime: RuntimeDep,
    session: WriteSessionDep,
    body: RotateSecretIn | None = None,
) -> EndpointWithSecretOut:
    """A new signing secret (in this response only); the current one keeps signing during the
    overlap, so receivers can switch without missing a delivery."""
    overlap = body.overlap_seconds if body and body.overlap_seconds is not None else None
    made = await endpoints.rotate_secret(
        session,
        runtime.sealer,
        endpoint_id=endpoint_id,
        actor=actor,
        overlap=timedelta(
            seconds=runtime.settings.webhook_secret_overlap_seconds if overlap is None else overlap
        ),
    )
    return with_secret(made)


@router.get("/webhook_endpoints/{endpoint_id}/deliveries", response_model=ListOut[DeliveryOut])
async def list_deliveries(
    endpoint_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: Annotated[str | None, Query(pattern=STATE)] = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    """The endpoint's deliveries, one per event, oldest first."""
    page = await endpoints.list_deliveries(
        session, endpoint_id, state=state, event_id=event_id, cursor=cursor, limit=limit
    )
    return listing(page, delivery_view)


@router.get("/webhook_deliveries", response_model=ListOut[DeliveryItemOut])
async def list_webhook_deliveries(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    client_id: Annotated[str | None, Query(max_length=40)] = None,
    endpoint_id: Annotated[str | None, Query(max_length=40)] = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
    event_type: Annotated[
        str | None, Query(max_length=100, description="One of `GET /admin/webhook_event_types`")
    ] = None,
    state: Annotated[str | None, Query(pattern=STATE)] = None,
    origin: Annotated[
        str | None,
        Query(
            pattern=deliveries.ORIGIN_PATTERN,
            description="`schedule`, `replay`, `chaos:delay`...; a trailing `*` matches a "
            "prefix: `chaos:*` is every delivery webhook chaos picked",
        ),
    ] = None,
    with_failures: Annotated[
        bool | None,
        Query(description="true: with at least one failed attempt; false: with none"),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Created from this time, inclusive")
    ] = None,
    until: Annotated[datetime | None, Query(description="Created before this time")] = None,
) -> Any:
    """Deliveries of every endpoint, newest first, each with its failed attempts and the last
    attempt's outcome."""
    filters = deliveries.Filters(
        endpoint_id=endpoint_id,
        client_id=client_id,
        event_id=event_id,
        event_type=event_type,
        state=state,
        origin=origin,
        with_failures=with_failures,
        since=since,
        until=until,
    )
    page = await deliveries.list_deliveries(session, filters, cursor=cursor, limit=limit)
    return listing(page, delivery_item)


@router.get("/webhook_endpoints/{endpoint_id}/attempts", response_model=ListOut[AttemptOut])
async def list_attempts(
    endpoint_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    """Every request made to the endpoint: outcome, latency, the first bytes of the answer."""
    return listing(
        await endpoints.list_attempts(
            session, endpoint_id, event_id=event_id, cursor=cursor, limit=limit
        )
    )


@router.post("/webhook_endpoints/{endpoint_id}/replay", response_model=ReplayOut)
async def replay(
    endpoint_id: str, body: ReplayIn, actor: AdminActor, session: WriteSessionDep
) -> ReplayOut:
    """Send one event again, or every failed delivery created since a time. The event keeps its
    id (`webhook-id`), so receivers can deduplicate."""
    count = await endpoints.replay(
        session, endpoint_id=endpoint_id, actor=actor, event_id=body.event_id, since=body.since
    )
    return ReplayOut(replayed=count)
