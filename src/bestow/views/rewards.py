"""Issued rewards as the Admin API and the CLI list them (``bestow.issuance.rewards``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

COLUMNS = ("id", "kind", "state", "member_id", "campaign_id", "job_id", "issued_at", "revoked_at")
"""The CLI's table; ``--json`` prints every field."""


class IssuedRewardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)
    id: str
    kind: str = Field(description="The template's kind: `discount`, `voucher`, `points`, ...")
    state: str = Field(
        description="`active`, or `revoked` once its job is revoked", examples=["active"]
    )
    member_id: str
    merchant_id: str
    client_id: str | None = Field(description="The client whose campaign issued it")
    campaign_id: str | None
    variant_id: str | None
    job_id: str | None = Field(description="The issuance job that issued it")
    template_id: str | None = Field(description="The reward template it was issued from")
    valid_from: datetime | None
    valid_to: datetime | None
    issued_at: datetime = Field(validation_alias="created_at")
    revoked_at: datetime | None
