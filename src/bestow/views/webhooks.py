"""Webhook endpoints, their deliveries (one per event) and attempts (one per request)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from bestow.models import WebhookDelivery

# bestow.webhooks.endpoints imports aiohttp, which the CLI's listing commands have no use for.
if TYPE_CHECKING:
    from bestow.webhooks.deliveries import Listed
    from bestow.webhooks.endpoints import WithSecret


class EventTypeOut(BaseModel):
    name: str
    description: str
    surface: str | None
    extension: bool


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    client_id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    max_attempts: int
    headers: dict[str, str]
    failing_since: datetime | None
    last_success_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="The signing secret: shown in this response only")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    state: str
    origin: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class LastAttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    attempt: int
    origin: str
    success: bool
    status_code: int | None
    error: str | None
    latency_ms: int
    created_at: datetime


class DeliveryItemOut(DeliveryOut):
    """A delivery in the list of every endpoint's: whose it is, and what its attempts tell."""

    client_id: str
    failed_attempts: int = Field(description="Recorded attempts that did not succeed")
    last_attempt: LastAttemptOut | None = Field(
        description="The latest recorded attempt; null before the first one is recorded"
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    delivery_id: str
    event_id: str
    attempt: int
    origin: str
    success: bool
    status_code: int | None
    error: str | None
    latency_ms: int
    response_excerpt: str
    created_at: datetime


class ReplayOut(BaseModel):
    replayed: int


def with_secret(made: WithSecret) -> EndpointWithSecretOut:
    data = EndpointOut.model_validate(made.endpoint).model_dump()
    return EndpointWithSecretOut(**data, secret=made.secret)


def delivery_view(delivery: WebhookDelivery) -> DeliveryOut:
    """A delivery; only a pending one has a next attempt."""
    view = DeliveryOut.model_validate(delivery)
    if delivery.state != "pending":
        view.next_attempt_at = None
    return view


def delivery_item(listed: Listed) -> DeliveryItemOut:
    """A delivery of the list across endpoints: the per-endpoint list's fields and more."""
    last = listed.last_attempt
    return DeliveryItemOut(
        **delivery_view(listed.delivery).model_dump(),
        client_id=listed.delivery.client_id,
        failed_attempts=listed.failed_attempts,
        last_attempt=None if last is None else LastAttemptOut.model_validate(last),
    )
