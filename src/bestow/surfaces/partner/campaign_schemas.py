"""Partner API bodies for reward templates, campaigns and issuance jobs (vendor field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bestow.kit.fields import (
    CONTROL_CHARACTERS,
    CleanStrings,
    Identifier,
    IsoDateTime,
    LongText,
    Text,
    is_clean,
)
from bestow.surfaces.partner.schemas import Pagination


class Strict(CleanStrings):
    model_config = ConfigDict(extra="forbid")


class RewardTemplateOut(BaseModel):
    id: str
    name: str
    type: str
    subtype: str | None
    description: str
    fine_print: str
    discount: dict[str, Any] | None
    redemption_venue: str | None
    images: dict[str, str]


class RewardTemplatesOut(BaseModel):
    reward_templates: list[RewardTemplateOut]
    pagination: Pagination


class RewardTemplateEnvelope(BaseModel):
    reward_template: RewardTemplateOut


class VariantIn(Strict):
    name: Text = Field(min_length=1, max_length=200)
    reward_template_id: Identifier | None = Field(default=None, max_length=64)


class CampaignIn(Strict):
    merchant_id: Identifier = Field(min_length=1, max_length=64)
    name: Text = Field(min_length=1, max_length=200)
    objective: LongText = Field(default="", max_length=2000)
    fine_print: LongText = Field(default="", max_length=10_000)
    start_at: IsoDateTime
    end_at: IsoDateTime
    redeemable_from: IsoDateTime
    redeemable_to: IsoDateTime
    variants: list[VariantIn] = Field(min_length=1, max_length=4)


class CreateCampaignIn(Strict):
    campaign: CampaignIn


class VariantOut(BaseModel):
    id: str
    name: str
    reward_template_id: str | None


class CampaignOut(BaseModel):
    id: str
    name: str
    objective: str
    start_at: str
    end_at: str | None
    redeemable_from: str | None
    redeemable_to: str | None
    time_zone: str
    fine_print: str
    variants: list[VariantOut]


class CampaignEnvelope(BaseModel):
    campaign: CampaignOut


class CampaignsOut(BaseModel):
    campaigns: list[CampaignOut]
    pagination: Pagination


class IdentifierIn(BaseModel):
    # Not Strict's per-field text check: a job has up to 10,000 of these, which IssueIn checks
    # in one pass.
    model_config = ConfigDict(extra="forbid")
    type: Literal["email", "phone"]
    value: str = Field(max_length=400)


class IssueIn(Strict):
    campaign_id: Identifier = Field(min_length=1, max_length=64)
    merchant_id: Identifier = Field(min_length=1, max_length=64)
    variant_id: Identifier = Field(min_length=1, max_length=64)
    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _clean_identifiers(self) -> IssueIn:
        if not is_clean("".join([i.value for i in self.identifiers])):
            index = next(n for n, i in enumerate(self.identifiers) if not is_clean(i.value))
            raise PydanticCustomError(
                "field_rule", f"identifiers.{index}.value: {CONTROL_CHARACTERS}"
            )
        return self


class RevokeIn(Strict):
    """The body of a revocation: the merchant the job was issued for."""

    merchant_id: Identifier = Field(
        min_length=1, max_length=64, description="The job's merchant; required"
    )


class FailureOut(BaseModel):
    identifier_index: int
    identifier_type: str
    error: str


class SummaryOut(BaseModel):
    success_count: int
    failure_count: int
    failures: list[FailureOut] | None = None


class IssuanceJobOut(BaseModel):
    id: str
    campaign_id: str
    variant_id: str
    state: str
    total_count: int
    processed_count: int
    success_count: int
    failure_count: int
    progress_percent: int
    created_at: str
    started_at: str | None
    completed_at: str | None
    summary: SummaryOut | None = None


class IssuanceJobEnvelope(BaseModel):
    issuance_job: IssuanceJobOut
