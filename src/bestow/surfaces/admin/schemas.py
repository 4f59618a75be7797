"""Admin API request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from bestow.kit.fields import CleanStrings, Identifier, Text

T = TypeVar("T")


class Strict(CleanStrings):
    model_config = ConfigDict(extra="forbid")


class ListOut(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class ClientIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    rate_limit_tier: str = "default"
    operator_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class ClientPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    scopes: list[str] | None = Field(default=None, max_length=50)
    rate_limit_tier: str | None = None
    status: str | None = Field(default=None, pattern="^(active|suspended)$")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    status: str
    scopes: list[str]
    rate_limit_tier: str
    operator_id: int | None
    created_at: datetime


class CredentialIn(Strict):
    kind: str = Field(pattern="^(partner_token|oauth_secret|operator_key)$")
    label: str = Field(default="", max_length=40)


class RotateIn(Strict):
    grace_seconds: int = Field(default=0, ge=0, le=30 * 24 * 3600)


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


class GrantIn(Strict):
    merchant_id: str = Field(min_length=1, max_length=64)


class MerchantIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    handle: str = Field(min_length=2, max_length=100)
    time_zone: str = "UTC"
    enrol_unknown_members: bool = False


class MerchantPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = None
    enrol_unknown_members: bool | None = None


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    handle: str
    time_zone: str
    enrol_unknown_members: bool
    created_at: datetime


class LocationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    street: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    state: str = Field(default="", max_length=100)
    zip: str = Field(default="", max_length=20)
    phone: str = Field(default="", max_length=20)


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    name: str
    street: str
    city: str
    state: str
    zip: str
    phone: str


class BusinessUnitIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class BusinessUnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    name: str


class MemberIn(Strict):
    email: Text | None = Field(default=None, max_length=320)
    phone: Text | None = Field(default=None, max_length=32)
    loyalty_id: Identifier | None = Field(default=None, max_length=64)
    account_id: Identifier | None = Field(default=None, max_length=36)
    first_name: Text = Field(default="", max_length=100)
    last_name: Text = Field(default="", max_length=100)
    status: str = Field(default="active", pattern="^(active|inactive)$")
    external_ids: dict[
        Annotated[Identifier, Field(min_length=1, max_length=64)],
        Annotated[Identifier, Field(min_length=1, max_length=200)],
    ] = Field(default_factory=dict, max_length=20)


class MemberStatusIn(Strict):
    status: str = Field(pattern="^(active|inactive)$")


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    account_id: str
    email: str | None
    phone: str | None
    loyalty_id: str | None
    first_name: str
    last_name: str
    status: str
    created_at: datetime


class ImportErrorOut(BaseModel):
    line: int = Field(description="Line of the file, the header being line 1")
    reason: str


class MemberImportOut(BaseModel):
    rows: int = Field(description="Data rows read, blank lines aside")
    imported: int
    failed: int
    errors: list[ImportErrorOut] = Field(description="Every refused row, by line")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    actor: str
    action: str
    target_type: str
    target_id: str
    changes: dict[str, object]
    request_id: str | None
    created_at: datetime
