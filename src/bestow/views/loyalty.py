"""Loyalty programmes as the Admin API and the CLI show them: ad hoc reward definitions, a
client's ad hoc reward feature, a member's points."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bestow.loyalty.ledger import MemberPoints
from bestow.loyalty.rewards import ADHOC_REWARD_FEATURE
from bestow.models import LoyaltyReward


class LoyaltyRewardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    reward_id: str
    name: str
    max_per_transaction: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


def loyalty_reward(reward: LoyaltyReward) -> LoyaltyRewardOut:
    return LoyaltyRewardOut.model_validate(reward)


class FeatureOut(BaseModel):
    client_id: str
    feature: str
    enabled: bool


def adhoc_feature(client_id: str, *, enabled: bool) -> FeatureOut:
    return FeatureOut(client_id=client_id, feature=ADHOC_REWARD_FEATURE, enabled=enabled)


class PointsTransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str = Field(description="`adhoc` (Loyalty API) or a campaign's award")
    amount: int = Field(description="Points credited (> 0) or debited (< 0)")
    balance_after: int
    reward_id: str
    issuer_id: str
    business_unit: str | None
    channel: str | None
    client_id: str | None
    merchant_id: str
    external_reference_id: str | None
    created_at: datetime


class PointsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    member_id: str
    merchant_id: str
    balance: int
    transactions: list[PointsTransactionOut] = Field(description="The latest, newest first")


def member_points(points: MemberPoints) -> PointsOut:
    return PointsOut.model_validate(points)
