"""Admin API: a loyalty programme's ad hoc reward definitions, a client's ad hoc reward feature,
and a member's points (balance and latest transactions), for the operator. The rules are the
loyalty domain's (``bestow.loyalty``), the output shapes ``bestow.views.loyalty``'s, shared with
the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from bestow.clients import service as clients
from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.loyalty import ledger, rewards
from bestow.models import LoyaltyReward
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import ListOut, Strict
from bestow.views.loyalty import (
    FeatureOut,
    LoyaltyRewardOut,
    PointsOut,
    adhoc_feature,
    member_points,
)
from bestow.views.pages import listing

router = APIRouter(prefix="/admin", tags=["Admin API"])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]
Points = Annotated[int, Field(strict=True, ge=1, le=rewards.MAX_POINTS)]
ADHOC_REWARD = rewards.ADHOC_REWARD_FEATURE
LATEST_TRANSACTIONS = 20
MAX_TRANSACTIONS = 200


class LoyaltyRewardIn(Strict):
    reward_id: str = Field(
        min_length=1, max_length=100, description="What the Loyalty API's `rewardId` names"
    )
    name: str = Field(min_length=1, max_length=200)
    max_per_transaction: Points = Field(description="Most points one award or deduction moves")
    enabled: bool = Field(default=True, strict=True)


class LoyaltyRewardPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    max_per_transaction: Points | None = None
    enabled: bool | None = Field(
        default=None, strict=True, description="A disabled reward is an invalid `rewardId`"
    )


class FeatureIn(Strict):
    enabled: bool = Field(strict=True)


# Reward definitions -------------------------------------------------------------------------


@router.post(
    "/merchants/{merchant_id}/loyalty_rewards", status_code=201, response_model=LoyaltyRewardOut
)
async def create_loyalty_reward(
    merchant_id: str, body: LoyaltyRewardIn, actor: AdminActor, session: WriteSessionDep
) -> LoyaltyReward:
    """Define an ad hoc reward in a merchant's loyalty programme (`reward_id` unique in it)."""
    reward = await rewards.create_reward(
        session, merchant_id=merchant_id, actor=actor, **body.model_dump()
    )
    return reward


@router.get("/merchants/{merchant_id}/loyalty_rewards", response_model=ListOut[LoyaltyRewardOut])
async def list_loyalty_rewards(
    merchant_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """A merchant's ad hoc reward definitions, enabled and disabled."""
    page = await rewards.list_rewards(session, merchant_id=merchant_id, cursor=cursor, limit=limit)
    return listing(page)


@router.get("/loyalty_rewards/{reward_id}", response_model=LoyaltyRewardOut)
async def get_loyalty_reward(
    reward_id: str, _: AdminActor, session: ReadSessionDep
) -> LoyaltyReward:
    """One reward definition, by its Bestow id (`lrw_...`)."""
    return await rewards.get_reward(session, reward_id)


@router.patch("/loyalty_rewards/{reward_id}", response_model=LoyaltyRewardOut)
async def update_loyalty_reward(
    reward_id: str, body: LoyaltyRewardPatch, actor: AdminActor, session: WriteSessionDep
) -> LoyaltyReward:
    """Rename a reward, change its per-transaction maximum, enable or disable it."""
    reward = await rewards.update_reward(
        session, id=reward_id, actor=actor, **body.model_dump(exclude_unset=True)
    )
    return reward


# A client's ad hoc reward feature -----------------------------------------------------------


@router.get(f"/clients/{{client_id}}/features/{ADHOC_REWARD}", response_model=FeatureOut)
async def get_adhoc_feature(client_id: str, _: AdminActor, session: ReadSessionDep) -> FeatureOut:
    """Whether the client may issue ad hoc rewards through the Loyalty API."""
    client = await clients.get_client(session, client_id)
    return adhoc_feature(client.id, enabled=client.adhoc_reward_enabled)


@router.put(f"/clients/{{client_id}}/features/{ADHOC_REWARD}", response_model=FeatureOut)
async def set_adhoc_feature(
    client_id: str, body: FeatureIn, actor: AdminActor, session: WriteSessionDep
) -> FeatureOut:
    """Turn the Loyalty API's ad hoc reward feature on or off for a client (off, the API answers
    `Adhoc Reward feature is not enabled`)."""
    await rewards.set_adhoc_feature(session, client_id=client_id, enabled=body.enabled, actor=actor)
    return adhoc_feature(client_id, enabled=body.enabled)


# A member's points --------------------------------------------------------------------------


@router.get("/members/{member_id}/points", response_model=PointsOut)
async def get_member_points(
    member_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_TRANSACTIONS)] = LATEST_TRANSACTIONS,
) -> Any:
    """A member's points balance and latest transactions (`limit`, newest first)."""
    return member_points(await ledger.member_points(session, member_id, limit=limit))
