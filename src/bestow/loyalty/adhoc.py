"""Issue Ad Hoc Reward (``POST /client/users/:correlation_id/adhoc-reward/``): the seed's rules
and its ten error messages, word for word.

Checks run in this order (``docs/loyalty.md``): the client's ad hoc feature; the body's mandatory
fields, in the seed's order (issuerId, rewardId, rewardAmount, Business Unit; then channel); the
account (the session's member: unknown or expired session, then not active); the business unit,
literally one of the member's programme; the reward identifier (defined and enabled in that
programme); the per-transaction maximum, on the amount's size either way; finally a deduction
larger than the balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.clients import repository as clients
from bestow.kit.errors import Invalid
from bestow.loyalty import ledger, sessions
from bestow.models import BusinessUnit, LoyaltyReward

ISSUER_REQUIRED = "issuerId is mandatory and required to be non-empty"
REWARD_REQUIRED = "rewardId is mandatory and required to be non-empty"
AMOUNT_REQUIRED = "rewardAmount is mandatory and required to be non-empty"
UNIT_REQUIRED = "Business Unit is mandatory and required to be non-empty"
UNIT_INVALID = "Business Unit {name} is not a valid business unit"
REWARD_INVALID = "Reward identifier is invalid"
FEATURE_DISABLED = "Adhoc Reward feature is not enabled"
OVER_MAXIMUM = "Maximum allowed limit for reward amount that can be issued per transaction"
ACCOUNT_NOT_FOUND = "Could not find the account"
ACCOUNT_INACTIVE = "Account is not active"
# Bestow's own, where the seed has none:
CHANNEL_REQUIRED = "channel is mandatory and required to be non-empty"
AMOUNT_NOT_INTEGER = "rewardAmount must be a non-zero integer"
INSUFFICIENT = "Insufficient points balance for the reward amount"
TOO_LONG = "{field} must be at most {size} characters"
SIZES = {"issuerId": 100, "rewardId": 100, "businessUnit": 200, "channel": 40}
EXTERNAL_REFERENCE_SIZE = 200
RESERVED_REFERENCE = "job:"


class AdhocRefused(Invalid):
    """A refusal with one of the messages above (``INVALID_REQUEST``, 400). A domain error, so
    that the surfaces' handler renders it: any other exception would be a 500."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class AdhocRequest:
    channel: str
    business_unit: str
    issuer_id: str
    reward_id: str
    amount: int
    external_reference_id: str | None


def _text(body: dict[str, Any], field: str, missing: str) -> str:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AdhocRefused(missing)
    if not isinstance(value, str):
        raise AdhocRefused(f"{field} must be a string")
    if len(value) > SIZES[field]:
        raise AdhocRefused(TOO_LONG.format(field=field, size=SIZES[field]))
    return value


def parse(body: Any) -> AdhocRequest:
    """The request's fields, or the first refusal in the seed's order."""
    if not isinstance(body, dict):
        raise AdhocRefused("The request body must be a JSON object")
    issuer = _text(body, "issuerId", ISSUER_REQUIRED)
    reward = _text(body, "rewardId", REWARD_REQUIRED)
    amount = body.get("rewardAmount")
    if amount is None or amount == "":
        raise AdhocRefused(AMOUNT_REQUIRED)
    if type(amount) is not int or amount == 0:
        raise AdhocRefused(AMOUNT_NOT_INTEGER)
    unit = _text(body, "businessUnit", UNIT_REQUIRED)
    channel = _text(body, "channel", CHANNEL_REQUIRED)
    reference = body.get("externalReferenceId")
    if reference is not None and not isinstance(reference, str):
        raise AdhocRefused("externalReferenceId must be a string")
    if reference is not None and len(reference) > EXTERNAL_REFERENCE_SIZE:
        raise AdhocRefused(
            TOO_LONG.format(field="externalReferenceId", size=EXTERNAL_REFERENCE_SIZE)
        )
    if reference is not None and reference.startswith(RESERVED_REFERENCE):
        # Campaign credits use job:<job id>:<index>: an ad hoc reference must never meet one.
        raise AdhocRefused(f"externalReferenceId must not start with {RESERVED_REFERENCE}")
    return AdhocRequest(channel, unit, issuer, reward, amount, reference or None)


async def issue(
    session: AsyncSession,
    *,
    client_id: str,
    correlation_id: str,
    body: Any,
    idle: timedelta,
) -> ledger.Movement:
    """Award (or deduct) the points once; ``AdhocRefused`` with the seed's message otherwise.
    The caller commits."""
    client = await clients.get(session, client_id)
    if client is None or not client.adhoc_reward_enabled:
        raise AdhocRefused(FEATURE_DISABLED)
    request = parse(body)
    member = await sessions.session_member(
        session, client_id=client_id, correlation_id=correlation_id, idle=idle
    )
    if member is None:
        raise AdhocRefused(ACCOUNT_NOT_FOUND)
    if member.status != "active":
        raise AdhocRefused(ACCOUNT_INACTIVE)
    unit = await session.scalar(
        select(BusinessUnit.id).where(
            BusinessUnit.merchant_id == member.merchant_id,
            BusinessUnit.name == request.business_unit,
        )
    )
    if unit is None:
        raise AdhocRefused(UNIT_INVALID.format(name=request.business_unit))
    reward = await session.scalar(
        select(LoyaltyReward).where(
            LoyaltyReward.merchant_id == member.merchant_id,
            LoyaltyReward.reward_id == request.reward_id,
            LoyaltyReward.enabled.is_(True),
        )
    )
    if reward is None:
        raise AdhocRefused(REWARD_INVALID)
    if abs(request.amount) > reward.max_per_transaction:
        raise AdhocRefused(OVER_MAXIMUM)
    try:
        return await ledger.move(
            session,
            member_id=member.id,
            merchant_id=member.merchant_id,
            amount=request.amount,
            reward_id=request.reward_id,
            issuer_id=request.issuer_id,
            client_id=client_id,
            business_unit=request.business_unit,
            channel=request.channel,
            external_reference_id=request.external_reference_id,
        )
    except ledger.InsufficientPoints:
        raise AdhocRefused(INSUFFICIENT) from None


def message(movement: ledger.Movement) -> str:
    """The response's ``message``: what the transaction did."""
    points = movement.transaction.amount
    verb = "awarded" if points > 0 else "deducted"
    return f"Ad hoc reward of {abs(points)} points {verb}"
