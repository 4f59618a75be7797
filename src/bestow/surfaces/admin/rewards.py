"""Admin API: issued rewards of every surface, and a member's whole history (rewards, vouchers,
points), both newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bestow.deps import ReadSessionDep
from bestow.issuance import rewards
from bestow.members import history
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Cursor, Limit
from bestow.views.history import MemberHistoryOut, history_list
from bestow.views.pages import ListOut, listing
from bestow.views.rewards import IssuedRewardOut

router = APIRouter(prefix="/admin", tags=["Admin API"])

STATE = "^(" + "|".join(rewards.STATES) + ")$"
Id = Annotated[str | None, Query(max_length=40)]


@router.get("/rewards", response_model=ListOut[IssuedRewardOut])
async def list_rewards(
    _: AdminActor,
    session: ReadSessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    member_id: Id = None,
    campaign_id: Id = None,
    job_id: Id = None,
    state: Annotated[str | None, Query(pattern=STATE, description="`active` or `revoked`")] = None,
    client_id: Id = None,
    merchant_id: Id = None,
) -> Any:
    """Issued rewards, newest first, by member, campaign, issuance job, state, client and
    merchant."""
    filters = rewards.RewardFilters(
        member_id=member_id,
        campaign_id=campaign_id,
        job_id=job_id,
        state=state,
        client_id=client_id,
        merchant_id=merchant_id,
    )
    return listing(await rewards.list_rewards(session, filters, cursor=cursor, limit=limit))


@router.get("/members/{member_id}/history", response_model=MemberHistoryOut)
async def member_history(
    member_id: str, _: AdminActor, session: ReadSessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    """A member's issued rewards, vouchers and points transactions in one list, newest first;
    each entry has its `type` (`reward`, `voucher` or `points`), `id`, `time` and fields of its
    own. An unknown member is a 404."""
    page = await history.member_history(session, member_id, cursor=cursor, limit=limit)
    return history_list(page)
