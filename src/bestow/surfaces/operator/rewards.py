"""Operator API rewards: ``FreeBets`` rewards of a campaign (Gamnify-compatible;
``docs/operator-api.md``, "Rewards").

The rules are the free-bets domain's (``bestow.freebets.rewards``); this module reads bodies in
the vendor's words (``readers``) and answers in its casing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import Field

from bestow.clients.service import AuthenticatedClient
from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.freebets import rewards
from bestow.freebets.events import money
from bestow.freebets.lifecycle import reward_status
from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.responses import JSONResponse
from bestow.kit.timefmt import iso
from bestow.models import OperatorReward
from bestow.surfaces.bodies import MISSING, Body, Read
from bestow.surfaces.common import note
from bestow.surfaces.operator.auth import OperatorClient
from bestow.surfaces.operator.errors import ok
from bestow.surfaces.operator.readers import (
    CANCELLED_BY_REQUIRED,
    CREATED_BY_REQUIRED,
    DECIMAL,
    END_REQUIRED,
    NAME_REQUIRED,
    START_REQUIRED,
    Reader,
    bet_count,
    bet_value,
    required,
    required_date_time,
    text,
)
from bestow.surfaces.operator.routing import EnvelopeOut, conflict
from bestow.surfaces.operator.routing import router as operator_router

REWARD_TYPE = "rewardType must be FreeBets"
PRODUCTS = "products must be an array of at least one non-empty string"
PRODUCT_TOO_LONG = "each of products must be at most 200 characters"
TOO_MANY_PRODUCTS = "products must have at most 1000 items"
DETAILS = "freeBetDetails is required and must be an object"
DETAILS_TYPE = "freeBetDetails.freeBetDetailsType must be Fixed or Ranged"
CURRENCY = "freeBetDetails.currencyIsoCode must be an ISO 4217 code of three uppercase letters"
MIN_MAX = "freeBetDetails.{low} must not be greater than freeBetDetails.{high}"
WALLET = "freeBetDetails.creditWalletType must be a non-empty string of at most 40 characters"
STAKE = "freeBetDetails.stakeNotReturned must be a boolean"
MAX_PRODUCTS = 1000
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
DEFAULT_WALLET = "FreeBet"


def _reward_type(value: Any, name: str) -> str:
    if value != rewards.FREE_BETS:
        raise Invalid(REWARD_TYPE, field=name)
    return rewards.FREE_BETS


def _products(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid(PRODUCTS, field=name)
    if len(value) > MAX_PRODUCTS:
        raise Invalid(TOO_MANY_PRODUCTS, field=name)
    products = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or not fields.is_clean(item.strip()):
            raise Invalid(PRODUCTS, field=name)
        if len(item) > 200:
            raise Invalid(PRODUCT_TOO_LONG, field=name)
        products.append(item.strip())
    return products


def _details_type(value: Any, name: str) -> str:
    if value not in (rewards.FIXED, rewards.RANGED):
        raise Invalid(DETAILS_TYPE, field=name)
    return str(value)


def _of(kind: str, reader: Reader[int]) -> Callable[[Any, str, dict[str, Any]], int | None]:
    """``reader`` for a field that only a ``kind`` reward reads; the other kind ignores it."""

    def read(value: Any, name: str, earlier: dict[str, Any]) -> int | None:
        return reader(value, name) if earlier["freeBetDetailsType"] == kind else None

    return read


def _max_bet_count(value: Any, name: str, earlier: dict[str, Any]) -> int | None:
    """A Ranged reward's last bound; then each minimum must not exceed its maximum (before the
    currency is read, as the rules refuse in this order)."""
    high_count = _of(rewards.RANGED, bet_count)(value, name, earlier)
    if high_count is not None:
        _min_max(earlier["minBetValue"], earlier["maxBetValue"], "minBetValue", "maxBetValue")
        _min_max(earlier["minBetCount"], high_count, "minBetCount", "maxBetCount")
    return high_count


def _min_max(low: int, high: int, low_field: str, high_field: str) -> None:
    if low > high:
        raise Invalid(MIN_MAX.format(low=low_field, high=high_field), field=low_field)


def _currency(value: Any, name: str) -> str:
    if not isinstance(value, str) or not CURRENCY_CODE.fullmatch(value):
        raise Invalid(CURRENCY, field=name)
    return value


def _wallet(value: Any, name: str) -> str:
    wallet = DEFAULT_WALLET if value is MISSING else value
    if not isinstance(wallet, str) or not wallet.strip() or len(wallet) > 40:
        raise Invalid(WALLET, field=name)
    return wallet.strip()


def _stake(value: Any, name: str) -> bool:
    stake = True if value is MISSING else value
    if not isinstance(stake, bool):
        raise Invalid(STAKE, field=name)
    return stake


class FreeBetDetailsIn(Body):
    """Fixed: betValue and betCount; Ranged: minBetValue, maxBetValue, minBetCount and
    maxBetCount (the other kind's fields are ignored)."""

    freeBetDetailsType: Annotated[str, Read(_details_type)] = Field(description="Fixed or Ranged")
    betValue: Annotated[int | None, Read(_of(rewards.FIXED, bet_value), earlier=True), DECIMAL] = (
        Field(default=None, description="Fixed: > 0, at most 2 decimals")
    )
    betCount: Annotated[int | None, Read(_of(rewards.FIXED, bet_count), earlier=True)] = Field(
        default=None, description="Fixed: >= 1"
    )
    minBetValue: Annotated[
        int | None, Read(_of(rewards.RANGED, bet_value), earlier=True), DECIMAL
    ] = Field(default=None, description="Ranged")
    maxBetValue: Annotated[
        int | None, Read(_of(rewards.RANGED, bet_value), earlier=True), DECIMAL
    ] = Field(default=None, description="Ranged")
    minBetCount: Annotated[int | None, Read(_of(rewards.RANGED, bet_count), earlier=True)] = Field(
        default=None, description="Ranged"
    )
    maxBetCount: Annotated[int | None, Read(_max_bet_count, earlier=True)] = Field(
        default=None, description="Ranged"
    )
    currencyIsoCode: Annotated[str, Read(_currency)] = Field(
        description="ISO 4217, three uppercase letters"
    )
    creditWalletType: Annotated[str, Read(_wallet)] = DEFAULT_WALLET
    stakeNotReturned: Annotated[bool, Read(_stake)] = True

    def free_bets(self) -> rewards.FreeBets:
        """The domain's free bets: a Fixed reward's value and count are both bounds."""
        if self.freeBetDetailsType == rewards.FIXED:
            bounds = (self.betValue, self.betValue, self.betCount, self.betCount)
        else:
            bounds = (self.minBetValue, self.maxBetValue, self.minBetCount, self.maxBetCount)
        low_value, high_value, low_count, high_count = map(_read, bounds)
        return rewards.FreeBets(
            details_type=self.freeBetDetailsType,
            currency=self.currencyIsoCode,
            min_bet_value_minor=low_value,
            max_bet_value_minor=high_value,
            min_bet_count=low_count,
            max_bet_count=high_count,
            credit_wallet_type=self.creditWalletType,
            stake_not_returned=self.stakeNotReturned,
        )


def _read(bound: int | None) -> int:
    assert bound is not None, "the reader of the reward's kind refuses a missing bound"
    return bound


def _free_bet_details(value: Any, name: str) -> FreeBetDetailsIn:
    if not isinstance(value, dict):
        raise Invalid(DETAILS, field=name)
    return FreeBetDetailsIn.read(value, f"{name}.")


# The fields in the order their rules refuse: the first refusal is the one answered.
class CreateRewardIn(Body):
    rewardType: Annotated[str, Read(_reward_type)] = Field(description="FreeBets")
    name: Annotated[str, Read(required(NAME_REQUIRED))]
    createdBy: Annotated[str, Read(required(CREATED_BY_REQUIRED))]
    products: Annotated[list[str], Read(_products)] = Field(
        description="Game identifiers; at least one"
    )
    startTimeUtc: Annotated[datetime, Read(required_date_time(START_REQUIRED))]
    endTimeUtc: Annotated[datetime, Read(required_date_time(END_REQUIRED))] = Field(
        description="After startTimeUtc, within the campaign"
    )
    description: Annotated[str | None, Read(text)] = None
    operatorReference: Annotated[str | None, Read(text)] = None
    freeBetDetails: Annotated[FreeBetDetailsIn, Read(_free_bet_details)]


class CancelRewardIn(Body):
    cancelledBy: Annotated[str, Read(required(CANCELLED_BY_REQUIRED))]


router = operator_router()


def details_json(reward: OperatorReward) -> dict[str, Any]:
    details: dict[str, Any] = {"freeBetDetailsType": reward.details_type}
    if reward.details_type == rewards.FIXED:
        details["betValue"] = money(reward.min_bet_value_minor)
        details["betCount"] = reward.min_bet_count
    else:
        details["minBetValue"] = money(reward.min_bet_value_minor)
        details["maxBetValue"] = money(reward.max_bet_value_minor)
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
        "status": reward_status(reward, now).value,
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
    openapi_extra=CreateRewardIn.openapi(),
    responses=conflict("Conflict: campaign Ended or Cancelled"),
)
async def create_reward(
    campaign_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """Create a FreeBets reward in a Scheduled or Active campaign; 200 with it."""
    body = await CreateRewardIn.from_request(request)
    now = runtime.clock()
    reward = await rewards.create(
        session,
        client_id=client.id,
        campaign_id=campaign_id,
        name=body.name,
        description=body.description,
        operator_reference=body.operatorReference,
        products=body.products,
        start_at=body.startTimeUtc,
        end_at=body.endTimeUtc,
        created_by=body.createdBy,
        details=body.freeBetDetails.free_bets(),
        now=now,
    )
    note(request, object_id=reward.id)
    return _out(reward, client, now)


@router.get("/campaigns/{campaign_id}/rewards", response_model=EnvelopeOut)
async def list_rewards(
    campaign_id: str, client: OperatorClient, runtime: RuntimeDep, session: ReadSessionDep
) -> JSONResponse:
    """The rewards of one of the operator's campaigns, oldest first."""
    found = await rewards.list_for(session, client_id=client.id, campaign_id=campaign_id)
    now = runtime.clock()
    return ok([reward_json(r, client.operator_id, now) for r in found])


@router.get("/rewards/{reward_id}", response_model=EnvelopeOut)
async def get_reward(
    reward_id: str, client: OperatorClient, runtime: RuntimeDep, session: ReadSessionDep
) -> JSONResponse:
    """One of the operator's rewards; another operator's is NotFound."""
    reward = await rewards.get(session, client_id=client.id, reward_id=reward_id)
    return _out(reward, client, runtime.clock())


@router.post(
    "/rewards/{reward_id}/cancel",
    response_model=EnvelopeOut,
    openapi_extra=CancelRewardIn.openapi(),
    responses=conflict("Conflict: Ended or Cancelled"),
)
async def cancel_reward(
    reward_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """Cancel a Scheduled or Active reward; 200 with `data: {}`."""
    body = await CancelRewardIn.from_request(request)
    await rewards.cancel(
        session,
        client_id=client.id,
        reward_id=reward_id,
        cancelled_by=body.cancelledBy,
        now=runtime.clock(),
        clock=runtime.clock,
    )
    return ok()
