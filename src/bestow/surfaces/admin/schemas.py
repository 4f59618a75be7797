"""Admin API request bodies and query parameters. What it answers is in ``bestow.views``, shared
with the CLI; the member import's report alone is the Admin API's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from bestow.kit.fields import CleanStrings, Identifier, Text

# Re-exported: every admin list answers in this shape.
from bestow.views.pages import ListOut as ListOut

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


class Strict(CleanStrings):
    model_config = ConfigDict(extra="forbid")


class ClientIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    rate_limit_tier: str = "default"
    operator_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    environment: str | None = Field(
        default=None,
        pattern="^(demo|uat|production)$",
        description="Unset: the deployment's pinned environment, else demo. Never changes.",
    )
    organization: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The partner organisation: its demo, UAT and production clients share it.",
    )


class ClientPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    scopes: list[str] | None = Field(default=None, max_length=50)
    rate_limit_tier: str | None = None
    status: str | None = Field(default=None, pattern="^(active|suspended)$")
    organization: str | None = Field(default=None, min_length=1, max_length=100)


class CredentialIn(Strict):
    kind: str = Field(pattern="^(partner_token|oauth_secret|operator_key)$")
    label: str = Field(default="", max_length=40)
    override_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Why a production client's first credential is issued without a passing "
        "certification of its organisation's UAT client (the go-live gate); audited",
    )


class RotateIn(Strict):
    grace_seconds: int = Field(default=0, ge=0, le=30 * 24 * 3600)


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


class LocationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    street: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    state: str = Field(default="", max_length=100)
    zip: str = Field(default="", max_length=20)
    phone: str = Field(default="", max_length=20)


class BusinessUnitIn(Strict):
    name: str = Field(min_length=1, max_length=200)


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


class ImportErrorOut(BaseModel):
    line: int = Field(description="Line of the file, the header being line 1")
    reason: str


class MemberImportOut(BaseModel):
    rows: int = Field(description="Data rows read, blank lines aside")
    imported: int
    failed: int
    errors: list[ImportErrorOut] = Field(description="Every refused row, by line")
