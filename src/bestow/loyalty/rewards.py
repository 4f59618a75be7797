"""Ad hoc reward definitions of a loyalty programme (a merchant), and a client's ad hoc feature.

A definition's ``reward_id`` is what the Loyalty API's ``rewardId`` names, unique within the
programme; ``max_per_transaction`` bounds one award or deduction; a disabled definition is, for
the API, an invalid reward identifier. Business units are the programme's
(``bestow.merchants.service.create_business_unit``), matched literally.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.clients import repository as clients
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.ids import new_id
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.merchants.service import get_merchant
from bestow.models import LoyaltyReward

MAX_POINTS = 1_000_000_000
ADHOC_REWARD_FEATURE = "adhoc_reward"
"""The client feature ``set_adhoc_feature`` turns on or off, by the name the Admin API gives it."""
_REWARD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


def _check_max(value: Any) -> int:
    if type(value) is not int or not 1 <= value <= MAX_POINTS:
        raise Invalid(
            f"max_per_transaction is an integer from 1 to {MAX_POINTS:,}",
            field="max_per_transaction",
        )
    return value


async def create_reward(
    session: WriteSession,
    *,
    merchant_id: str,
    reward_id: str,
    name: str,
    max_per_transaction: int,
    actor: Actor,
    enabled: bool = True,
) -> LoyaltyReward:
    await get_merchant(session, merchant_id)
    if not _REWARD_ID.match(reward_id):
        raise Invalid(
            "reward_id is 1 to 100 letters, digits, '_', '.', ':' or '-'", field="reward_id"
        )
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    taken = await session.scalar(
        select(LoyaltyReward.id).where(
            LoyaltyReward.merchant_id == merchant_id, LoyaltyReward.reward_id == reward_id
        )
    )
    if taken:
        raise Conflict(f"reward {reward_id} exists in this programme")
    now = utcnow()
    reward = LoyaltyReward(
        id=new_id("lrw"),
        merchant_id=merchant_id,
        reward_id=reward_id,
        name=name.strip(),
        max_per_transaction=_check_max(max_per_transaction),
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(reward)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="loyalty_reward.created",
        target_type="loyalty_reward",
        target_id=reward.id,
        changes={"merchant_id": merchant_id, "reward_id": reward_id, "max": max_per_transaction},
    )
    return reward


async def get_reward(session: AsyncSession, id: str) -> LoyaltyReward:
    reward = await session.get(LoyaltyReward, id)
    if reward is None:
        raise NotFound(f"loyalty reward {id} not found")
    return reward


async def update_reward(
    session: WriteSession, *, id: str, actor: Actor, **changes: Any
) -> LoyaltyReward:
    """Change the name, the per-transaction maximum or whether the reward is enabled."""
    reward = await get_reward(session, id)
    unknown = set(changes) - {"name", "max_per_transaction", "enabled"}
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    if "name" in changes:
        if not isinstance(changes["name"], str) or not changes["name"].strip():
            raise Invalid("name must not be blank", field="name")
        changes["name"] = changes["name"].strip()
    if "max_per_transaction" in changes:
        _check_max(changes["max_per_transaction"])
    if "enabled" in changes and type(changes["enabled"]) is not bool:
        raise Invalid("enabled is true or false", field="enabled")
    for name, value in changes.items():
        setattr(reward, name, value)
    reward.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="loyalty_reward.updated",
        target_type="loyalty_reward",
        target_id=reward.id,
        changes=changes,
    )
    return reward


def query(*, merchant_id: str | None = None) -> Select[LoyaltyReward]:
    stmt = select(LoyaltyReward)
    if merchant_id:
        stmt = stmt.where(LoyaltyReward.merchant_id == merchant_id)
    return stmt


async def list_rewards(
    session: AsyncSession, *, merchant_id: str, cursor: str | None, limit: int
) -> CursorPage[LoyaltyReward]:
    """A merchant's ad hoc reward definitions, enabled and disabled."""
    await get_merchant(session, merchant_id)
    stmt = query(merchant_id=merchant_id)
    return await cursor_paginate(session, stmt, LoyaltyReward.id, cursor=cursor, limit=limit)


async def set_adhoc_feature(
    session: WriteSession, *, client_id: str, enabled: bool, actor: Actor
) -> None:
    """Turn the Loyalty API's ad hoc reward feature on or off for a client."""
    client = await clients.get(session, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    client.adhoc_reward_enabled = enabled
    client.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="client.adhoc_reward_feature",
        target_type="client",
        target_id=client_id,
        changes={"enabled": enabled},
    )
