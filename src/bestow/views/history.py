"""A member's history (``bestow.members.history``) as the Admin API and the CLI show it: one
entry per issued reward, voucher and points transaction, each with its ``type``, ``id``, ``time``
and a few fields of its own. A voucher shows its code as the Admin API's voucher views do, and
never its PIN."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from bestow.members.history import Entry, HistoryPage
from bestow.models import IssuedReward, PointsTransaction, Voucher
from bestow.vouchers.status import merchant_status

COLUMNS = ("time", "type", "id", "summary")
"""The CLI's table: ``summary`` is the entry's own fields in a few words (``summary``)."""


class RewardEntryOut(BaseModel):
    type: Literal["reward"]
    id: str
    time: datetime = Field(description="When it was issued")
    kind: str
    state: str = Field(description="`active` or `revoked`", examples=["active"])
    campaign_id: str | None
    variant_id: str | None
    job_id: str | None
    template_id: str | None
    revoked_at: datetime | None


class VoucherEntryOut(BaseModel):
    type: Literal["voucher"]
    id: str
    time: datetime = Field(description="When it was issued")
    code: str
    product_code: str
    status: str = Field(description="The true status, derived from the time where due")
    currency: str
    face_value: int
    remaining_amount: int
    expires_at: datetime
    reward_id: str | None = Field(description="The issued reward it was issued for, if any")


class PointsEntryOut(BaseModel):
    type: Literal["points"]
    id: str
    time: datetime = Field(description="When the points moved")
    kind: str = Field(description="`adhoc` (Loyalty API) or a campaign's award or reversal")
    amount: int = Field(description="Points credited (> 0) or debited (< 0)")
    balance_after: int
    reward_id: str = Field(description="The ledger's: the Loyalty API's or the template's")
    client_id: str | None
    job_id: str | None = Field(description="The issuance job of a campaign's points")


HistoryEntryOut = Annotated[
    RewardEntryOut | VoucherEntryOut | PointsEntryOut, Field(discriminator="type")
]


def _reward(reward: IssuedReward) -> dict[str, Any]:
    return {
        "kind": reward.kind,
        "state": reward.state,
        "campaign_id": reward.campaign_id,
        "variant_id": reward.variant_id,
        "job_id": reward.job_id,
        "template_id": reward.template_id,
        "revoked_at": reward.revoked_at,
    }


def _voucher(voucher: Voucher) -> dict[str, Any]:
    return {
        "code": voucher.code,
        "product_code": voucher.product_code,
        "status": merchant_status(voucher),
        "currency": voucher.currency,
        "face_value": voucher.face_value,
        "remaining_amount": voucher.remaining_amount,
        "expires_at": voucher.expires_at,
        "reward_id": voucher.reward_id,
    }


def _points(transaction: PointsTransaction) -> dict[str, Any]:
    return {
        "kind": transaction.kind,
        "amount": transaction.amount,
        "balance_after": transaction.balance_after,
        "reward_id": transaction.reward_id,
        "client_id": transaction.client_id,
        "job_id": transaction.job_id,
    }


_FIELDS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "reward": _reward,
    "voucher": _voucher,
    "points": _points,
}


def entry_out(entry: Entry) -> dict[str, Any]:
    return {
        "type": entry.type,
        "id": entry.id,
        "time": entry.time,
        **_FIELDS[entry.type](entry.item),
    }


class MemberHistoryOut(BaseModel):
    """A page of a member's history: ``ListOut``'s shape, named for the OpenAPI document."""

    data: list[HistoryEntryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


def history_list(page: HistoryPage) -> dict[str, Any]:
    """A page of the history: ``data`` and the ``next_cursor``."""
    return {"data": [entry_out(entry) for entry in page.items], "next_cursor": page.next_cursor}


def history_json(page: HistoryPage) -> dict[str, Any]:
    """``history_list`` as the Admin API prints it (times in ISO 8601), for the CLI."""
    return MemberHistoryOut.model_validate(history_list(page)).model_dump(mode="json")


def summary(row: dict[str, Any]) -> str:
    """An entry (as printed in JSON) in a few words, for the CLI's table."""
    match row["type"]:
        case "reward":
            return f"{row['kind']} {row['state']} campaign={row['campaign_id'] or '-'}"
        case "voucher":
            return (
                f"{row['code']} {row['product_code']} {row['status']} "
                f"{row['remaining_amount']}/{row['face_value']} {row['currency']}".rstrip()
            )
        case _:
            return f"{row['amount']:+d} points ({row['kind']}), balance {row['balance_after']}"
