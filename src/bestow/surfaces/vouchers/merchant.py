"""The merchant side of the Voucher API: look a voucher up by its code, redeem it, void it.

Any client holding ``redeem_vouchers`` may act on any voucher of its own environment: the code is
the bearer secret (80 random bits), so a till needs no link to the client that issued the voucher
(``docs/vouchers.md``, "Redemption"). A voucher of another environment (a production voucher's code
typed at a demo till) is an unknown code (``docs/environments.md``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.kit.fields import CleanStrings
from bestow.kit.timefmt import rfc3339
from bestow.models import Voucher, VoucherRedemption
from bestow.surfaces.common import note
from bestow.surfaces.vouchers.auth import RedeemVouchers
from bestow.surfaces.vouchers.vouchers import ErrorOut
from bestow.vouchers import lookup, redemption
from bestow.vouchers.events import redemption_view
from bestow.vouchers.status import merchant_status

router = APIRouter(prefix="/v3/merchant", tags=["Voucher API: merchant"])

REPLAY_HEADER = "Idempotency-Record"


def required(body: RedeemIn | None) -> RedeemIn:
    """The redeem body: a JSON object, `{}` to take all that is left. None (no body, `null`) is
    refused, so that nothing but an explicit object redeems a whole balance."""
    if body is None:
        raise Invalid("the body must be a JSON object; {} takes all that is left")
    return body


class RedeemIn(CleanStrings):
    # Unknown fields are refused: a misspelt "amount" must not redeem the whole balance.
    model_config = ConfigDict(extra="forbid")
    amount: StrictInt | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="Cents (value based) or items (product based); absent: all that is left",
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The till's transaction id: a repeat returns the first redemption",
    )
    location: str | None = Field(default=None, max_length=100, description="Store or till")


class VoidIn(CleanStrings):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


class RedemptionOut(BaseModel):
    id: str
    kind: str = Field(description="redeem or void")
    amount: int = Field(description="Cents or items taken (0 for a void)")
    remaining_after: int
    reference: str | None
    location: str | None
    note: str = Field(description="The reason of a void")
    created_at: str


class MerchantVoucherOut(BaseModel):
    voucher_code: str
    voucher_id: str
    name: str
    product_code: str
    product_name: str
    status: str = Field(description="The true status: active, inactive, expired, voided, used")
    currency: str = Field(description="ISO 4217; empty for product-based vouchers")
    face_value: int = Field(description="Cents (value based) or items (product based)")
    remaining_amount: int
    expiration: str
    is_multiple_use: bool
    is_value_based: bool
    redemptions: list[RedemptionOut]


class RedeemedOut(BaseModel):
    voucher: MerchantVoucherOut
    redemption: RedemptionOut


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad body or amount (single use: redeem it whole)"},
    401: {"model": ErrorOut, "description": "Missing, expired or invalid access token"},
    403: {"model": ErrorOut, "description": "The token lacks the redeem_vouchers scope"},
    404: {"model": ErrorOut, "description": "Unknown voucher code"},
    409: {"model": ErrorOut, "description": "Not active, or the balance is too small"},
}


def redemption_json(row: VoucherRedemption) -> dict[str, Any]:
    return redemption_view(row) | {
        "note": row.note,
        "created_at": rfc3339(row.created_at),
    }


async def merchant_json(session: AsyncSession, voucher: Voucher) -> dict[str, Any]:
    """The voucher as the merchant sees it: its true state and every use of it."""
    return {
        "voucher_code": voucher.code,
        "voucher_id": voucher.id,
        "name": voucher.name,
        "product_code": voucher.product_code,
        "product_name": voucher.product_name,
        "status": merchant_status(voucher, utcnow()),
        "currency": voucher.currency,
        "face_value": voucher.face_value,
        "remaining_amount": voucher.remaining_amount,
        "expiration": rfc3339(voucher.expires_at),
        "is_multiple_use": voucher.is_multiple_use,
        "is_value_based": voucher.is_value_based,
        "redemptions": [redemption_json(r) for r in await lookup.redemptions(session, voucher.id)],
    }


async def redeemed_json(session: AsyncSession, done: redemption.Redeemed) -> dict[str, Any]:
    return {
        "voucher": await merchant_json(session, done.voucher),
        "redemption": redemption_json(done.redemption),
    }


@router.get("/vouchers/{voucher_code}", response_model=MerchantVoucherOut, responses=RESPONSES)
async def look_up(
    voucher_code: str, client: RedeemVouchers, session: ReadSessionDep
) -> dict[str, Any]:
    """A voucher by its code (any case; hyphens and spaces are ignored), with its redemptions."""
    voucher = await lookup.by_code(session, voucher_code, environment=client.environment)
    return await merchant_json(session, voucher)


@router.post("/vouchers/{voucher_code}/redeem", response_model=RedeemedOut, responses=RESPONSES)
async def redeem(
    voucher_code: str,
    client: RedeemVouchers,
    session: WriteSessionDep,
    request: Request,
    response: Response,
    body: RedeemIn | None = None,
) -> dict[str, Any]:
    """Take `amount` from the voucher, or all that is left without one (`{}`; the body itself
    is required). A `reference` this client used before on the voucher returns the first
    redemption with the `Idempotency-Record` header (its time)."""
    body = required(body)
    if body.reference:
        note(request, idempotency_key=body.reference)
    done = await redemption.redeem(
        session,
        code=voucher_code,
        amount=body.amount,
        actor=f"client:{client.id}",
        client_id=client.id,
        environment=client.environment,
        reference=body.reference,
        location=body.location,
    )
    view = await redeemed_json(session, done)
    if done.replayed:
        response.headers[REPLAY_HEADER] = rfc3339(done.redemption.created_at)
        note(request, replayed=True)
    return view


@router.post("/vouchers/{voucher_code}/void", response_model=RedeemedOut, responses=RESPONSES)
async def void(
    voucher_code: str,
    client: RedeemVouchers,
    session: WriteSessionDep,
    body: VoidIn | None = None,
) -> dict[str, Any]:
    """Take the voucher out of circulation (`voided`); what is left can no longer be used."""
    done = await redemption.void(
        session,
        code=voucher_code,
        actor=f"client:{client.id}",
        client_id=client.id,
        environment=client.environment,
        reason=(body or VoidIn()).reason,
    )
    return await redeemed_json(session, done)
