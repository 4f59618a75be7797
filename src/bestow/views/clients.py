"""Clients and their credentials (secrets only in the answer that issues them)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from bestow.clients.service import IssuedSecret


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    status: str
    scopes: list[str]
    rate_limit_tier: str
    operator_id: int | None
    environment: str
    organization: str | None
    created_at: datetime


class CredentialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    client_id: str
    kind: str
    label: str
    hint: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedCredentialOut(CredentialOut):
    secret: str = Field(description="Shown once; store it now")


def issued_credential(issued: IssuedSecret) -> IssuedCredentialOut:
    return IssuedCredentialOut.model_validate(
        {**CredentialOut.model_validate(issued.credential).model_dump(), "secret": issued.secret}
    )
