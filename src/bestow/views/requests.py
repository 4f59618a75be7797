"""Entries of the request log (``bestow.lab.requestlog``), as the Admin API and the CLI print
them: the issue's contract keys, then the client, its environment, the non-secret header values
and the body's fingerprint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)
    request_id: str
    time: datetime = Field(validation_alias="created_at")
    surface: str
    method: str
    route: str = Field(description="The route template, e.g. `/partner/campaigns/issue`")
    status: int
    latency_ms: float
    idempotency_key: str | None = Field(
        description="The idempotency header, or the Operator `betId` / Loyalty "
        "`externalReferenceId`"
    )
    headers_present: list[str] = Field(
        description="Which of the surface's headers the request carried"
    )
    error_code: str | None = Field(description="The surface's own error code, as answered")
    replayed: bool
    rate_limited: bool
    fault: str | None = Field(description="The fault injected into this request, if any")
    seq: int = Field(description="The entry's order: `bestow requests tail` follows it")
    client_id: str
    environment: str
    header_values: dict[str, str] = Field(
        description="Values of `Accept-Version`, `Content-Type` and `User-Agent`"
    )
    body: dict[str, Any] = Field(
        description="The body's fingerprint: `sha256`, `bytes` and `counts`; never its values"
    )
    fingerprint: str | None = Field(
        description="A hash of the method, path, query and body: the same for a request sent "
        "again unchanged"
    )
    object_id: str | None = Field(
        description="The Bestow object the request is about or created (an issuance job, a "
        "campaign), where the route names one"
    )
    retry_after: float | None = Field(
        description="The seconds the answer's `Retry-After` asked for (a 429, a 503)"
    )


COLUMNS = ("time", "client_id", "method", "route", "status", "latency_ms", "error_code", "fault")
