"""Operator API rewards: ``FreeBets`` rewards of a campaign (Gamnify-compatible;
``docs/operator-api.md``, "Rewards").

Bodies are read by hand, as campaigns' are, so each rule refuses with its own message. Bet values
are read as decimals (at most two places) and kept as integer hundredths: never a float.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from bestow.campaigns import operator_rewards as rewards
from bestow.clients.service import AuthenticatedClient
from bestow.deps import RuntimeDep
from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.fields import FieldError, OutOfRange
from bestow.kit.responses import JSONResponse
from bestow.kit.timefmt import iso
from bestow.models import OperatorReward
from bestow.surfaces.common import documented_body, json_object, refuse_unknown
from bestow.surfaces.operator.auth import OperatorClient
from bestow.surfaces.operator.campaigns import (
    CANCELLED_BY_REQUIRED,
    CREATED_BY_REQUIRED,
    ERRORS,
    NAME_REQUIRED,
    EnvelopeOut,
    _date_time,
    _optional,
    _required,
)
from bestow.surfaces.operator.errors import ok
from bestow.surfaces.operator.routing import OperatorRouter

REWARD_TYPE = "rewardType must be FreeBets"
PRODUCTS = "products must be an array of at least one non-empty string"
PRODUCT_TOO_LONG = "each of products must be at most 200 characters"
TOO_MANY_PRODUCTS = "products must have at most 1000 items"
START_REQUIRED = "startTimeUtc is required"
END_REQUIRED = "endTimeUtc is required"
DETAILS = "freeBetDetails is required and must be an object"
DETAILS_TYPE = "freeBetDetails.freeBetDetailsType must be Fixed or Ranged"
VALUE = "{field} must be a number greater than 0 with at most 2 decimal places"
VALUE_TOO_LARGE = "{field} must be at most 1000000000"
COUNT = "{field} must be an integer from 1 to 1000000"
CURRENCY = "freeBetDetails.currencyIsoCode must be an ISO 4217 code of three uppercase letters"
MIN_MAX = "freeBetDetails.{low} must not be greater than freeBetDetails.{high}"
WALLET = "freeBetDetails.creditWalletType must be a non-empty string of at most 40 characters"
STAKE = "freeBetDetails.stakeNotReturned must be a boolean"
MAX_VALUE = Decimal(1_000_000_000)
MAX_COUNT = 1_000_000
MAX_PRODUCTS = 1000
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
DEFAULT_WALLET = "FreeBet"


class FreeBetDetailsIn(BaseModel):
    freeBetDetailsType: str = Field(description="Fixed or Ranged")
    betValue: Decimal | None = Field(default=None, description="Fixed: > 0, at most 2 decimals")
    betCount: int | None = Field(default=None, description="Fixed: >= 1")
    minBetValue: Decimal | None = Field(default=None, description="Ranged")
    maxBetValue: Decimal | None = Field(default=None, description="Ranged")
    minBetCount: int | None = Field(default=None, description="Ranged")
    maxBetCount: int | None = Field(default=None, description="Ranged")
    currencyIsoCode: str = Field(description="ISO 4217, three uppercase letters")
    creditWalletType: str = "FreeBet"
    stakeNotReturned: bool = True


class CreateRewardIn(BaseModel):
    rewardType: str = Field(description="FreeBets")
    name: str
    description: str | None = None
    operatorReference: str | None = None
    products: list[str] = Field(description="Game identifiers; at least one")
    startTimeUtc: Any
    endTimeUtc: Any = Field(description="After startTimeUtc, within the campaign")
    createdBy: str
    freeBetDetails: FreeBetDetailsIn


class CancelRewardIn(BaseModel):
    cancelledBy: str


router = OperatorRouter(prefix="/v1", tags=["Operator API"], responses=ERRORS)


def _products(body: dict[str, Any]) -> list[str]:
    value = body.get("products")
    if not isinstance(value, list) or not value:
        raise Invalid(PRODUCTS, field="products")
    if len(value) > MAX_PRODUCTS:
        raise Invalid(TOO_MANY_PRODUCTS, field="products")
    products = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or not fields.is_clean(item.strip()):
            raise Invalid(PRODUCTS, field="products")
        if len(item) > 200:
            raise Invalid(PRODUCT_TOO_LONG, field="products")
        products.append(item.strip())
    return products


def bet_value(details: dict[str, Any], field: str, prefix: str = "freeBetDetails.") -> int:
    """A bet value in hundredths: a JSON number or numeric string > 0 with at most 2 places."""
    name = prefix + field
    try:
        amount = fields.decimal(details.get(field), low=Decimal(0), high=MAX_VALUE, places=2)
    except OutOfRange as exc:
        message = VALUE_TOO_LARGE if exc.above else VALUE
        raise Invalid(message.format(field=name), field=name) from None
    except FieldError:
        raise Invalid(VALUE.format(field=name), field=name) from None
    if amount == 0:
        raise Invalid(VALUE.format(field=name), field=name)
    return int(amount * 100)


def bet_count(details: dict[str, Any], field: str, prefix: str = "freeBetDetails.") -> int:
    value = details.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise Invalid(COUNT.format(field=prefix + field), field=prefix + field)
    return value


def _min_max(low: int, high: int, low_field: str, high_field: str) -> None:
    if low > high:
        raise Invalid(MIN_MAX.format(low=low_field, high=high_field), field=low_field)


def _free_bets(body: dict[str, Any]) -> rewards.FreeBets:
    details = body.get("freeBetDetails")
    if not isinstance(details, dict):
        raise Invalid(DETAILS, field="freeBetDetails")
    refuse_unknown(details, FreeBetDetailsIn, "freeBetDetails.")
    kind = details.get("freeBetDetailsType")
    if kind == rewards.FIXED:
        low_value = high_value = bet_value(details, "betValue")
        low_count = high_count = bet_count(details, "betCount")
    elif kind == rewards.RANGED:
        low_value = bet_value(details, "minBetValue")
        high_value = bet_value(details, "maxBetValue")
        low_count = bet_count(details, "minBetCount")
        high_count = bet_count(details, "maxBetCount")
        _min_max(low_value, high_value, "minBetValue", "maxBetValue")
        _min_max(low_count, high_count, "minBetCount", "maxBetCount")
    else:
        raise Invalid(DETAILS_TYPE, field="freeBetDetails.freeBetDetailsType")
    currency = details.get("currencyIsoCode")
    if not isinstance(currency, str) or not CURRENCY_CODE.fullmatch(currency):
        raise Invalid(CURRENCY, field="freeBetDetails.currencyIsoCode")
    wallet = details.get("creditWalletType", DEFAULT_WALLET)
    if not isinstance(wallet, str) or not wallet.strip() or len(wallet) > 40:
        raise Invalid(WALLET, field="freeBetDetails.creditWalletType")
    stake = details.get("stakeNotReturned", True)
    if not isinstance(stake, bool):
        raise Invalid(STAKE, field="freeBetDetails.stakeNotReturned")
    return rewards.FreeBets(
        details_type=kind,
        currency=currency,
        min_bet_value_minor=low_value,
        max_bet_value_minor=high_value,
        min_bet_count=low_count,
        max_bet_count=high_count,
        credit_wallet_type=wallet.strip(),
        stake_not_returned=stake,
    )


def details_json(reward: OperatorReward) -> dict[str, Any]:
    details: dict[str, Any] = {"freeBetDetailsType": reward.details_type}
    if reward.details_type == rewards.FIXED:
        details["betValue"] = rewards.money(reward.min_bet_value_minor)
        details["betCount"] = reward.min_bet_count
    else:
        details["minBetValue"] = rewards.money(reward.min_bet_value_minor)
        details["maxBetValue"] = rewards.money(reward.max_bet_value_minor)
        details["minBetCount"] = reward.min_bet_count
        details["maxBetCount"] = reward.max_bet_count
    details["currencyIsoCode"] = reward.currency
    details["creditWalletType"] = reward.credit_wallet_type
    details["stakeNotReturned"] = reward.stake_not_returned
    return details


def reward_json(reward: OperatorReward, operator_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "id": reward.id,
        "campaignId": reward.campaign_id,
        "operatorId": operator_id,
        "rewardType": reward.reward_type,
        "name": reward.name,
        "description": reward.description,
        "operatorReference": reward.operator_reference,
        "products": list(reward.products),
        "startTimeUtc": iso(reward.start_at),
        "endTimeUtc": iso(reward.end_at),
        "status": rewards.reward_status(reward, now).value,
        "freeBetDetails": details_json(reward),
        "createdAtUtc": iso(reward.created_at),
        "createdBy": reward.created_by,
        # Nothing updates a reward yet (cancelling has its own fields): both null, as campaigns'.
        "updatedAtUtc": None,
        "updatedBy": None,
        "cancelledAtUtc": iso(reward.cancelled_at),
        "cancelledBy": reward.cancelled_by,
    }


def _out(reward: OperatorReward, client: AuthenticatedClient, now: datetime) -> JSONResponse:
    return ok(reward_json(reward, client.operator_id, now))


@router.post(
    "/campaigns/{campaign_id}/rewards",
    response_model=EnvelopeOut,
    openapi_extra=documented_body(CreateRewardIn),
    responses={409: {"model": EnvelopeOut, "description": "Conflict: campaign Ended or Cancelled"}},
)
async def create_reward(
    campaign_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Create a FreeBets reward in a Scheduled or Active campaign; 200 with it."""
    body = await json_object(request, CreateRewardIn)
    if body.get("rewardType") != rewards.FREE_BETS:
        raise Invalid(REWARD_TYPE, field="rewardType")
    name = _required(body, "name", NAME_REQUIRED)
    created_by = _required(body, "createdBy", CREATED_BY_REQUIRED)
    products = _products(body)
    start_at = _date_time(body, "startTimeUtc")
    if start_at is None:
        raise Invalid(START_REQUIRED, field="startTimeUtc")
    end_at = _date_time(body, "endTimeUtc")
    if end_at is None:
        raise Invalid(END_REQUIRED, field="endTimeUtc")
    description = _optional(body, "description")
    reference = _optional(body, "operatorReference")
    details = _free_bets(body)
    now = runtime.clock()
    async with runtime.db.write_session() as session:
        reward = await rewards.create(
            session,
            client_id=client.id,
            campaign_id=campaign_id,
            name=name,
            description=description,
            operator_reference=reference,
            products=products,
            start_at=start_at,
            end_at=end_at,
            created_by=created_by,
            details=details,
            now=now,
        )
        await session.commit()
    return _out(reward, client, now)


@router.get("/campaigns/{campaign_id}/rewards", response_model=EnvelopeOut)
async def list_rewards(
    campaign_id: str, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """The rewards of one of the operator's campaigns, oldest first."""
    async with runtime.db.session() as session:
        found = await rewards.list_for(session, client_id=client.id, campaign_id=campaign_id)
    now = runtime.clock()
    return ok([reward_json(r, client.operator_id, now) for r in found])


@router.get("/rewards/{reward_id}", response_model=EnvelopeOut)
async def get_reward(reward_id: str, client: OperatorClient, runtime: RuntimeDep) -> JSONResponse:
    """One of the operator's rewards; another operator's is NotFound."""
    async with runtime.db.session() as session:
        reward = await rewards.get(session, client_id=client.id, reward_id=reward_id)
    return _out(reward, client, runtime.clock())


@router.post(
    "/rewards/{reward_id}/cancel",
    response_model=EnvelopeOut,
    openapi_extra=documented_body(CancelRewardIn),
    responses={409: {"model": EnvelopeOut, "description": "Conflict: Ended or Cancelled"}},
)
async def cancel_reward(
    reward_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Cancel a Scheduled or Active reward; 200 with `data: {}`."""
    body = await json_object(request, CancelRewardIn)
    cancelled_by = _required(body, "cancelledBy", CANCELLED_BY_REQUIRED)
    async with runtime.db.write_session() as session:
        await rewards.cancel(
            session,
            client_id=client.id,
            reward_id=reward_id,
            cancelled_by=cancelled_by,
            now=runtime.clock(),
        )
        await session.commit()
    return ok()
