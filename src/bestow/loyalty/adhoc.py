"""Issue Ad Hoc Reward (``POST /client/users/:correlation_id/adhoc-reward/``): the seed's rules
and its ten error messages, word for word.

Checks run in this order (``docs/loyalty.md``): the client's ad hoc feature; the body's mandatory
fields, in the seed's order (issuerId, rewardId, rewardAmount, Business Unit; then channel); the
account (the session's member: unknown or expired session, then not active); the business unit,
literally one of the member's programme; the reward identifier (defined and enabled in that
programme, and in the client's catalogue); the per-transaction maximum, on the amount's size
either way; finally a deduction larger than the balance, or a credit that would take it past
the 64-bit maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select

from bestow.kit import fields
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid
from bestow.lab import catalogue
from bestow.lab.catalogue import LOYALTY_REWARD
from bestow.loyalty import ledger, sessions
from bestow.models import BusinessUnit, Client, LoyaltyReward, LoyaltySession, Member

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
INSUFFICIENT = ledger.INSUFFICIENT_POINTS
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
    """The body's fields, read by the Loyalty API's declaration of it
    (``surfaces.loyalty.routes.AdhocIn``) with the rules below."""

    channel: str
    business_unit: str
    issuer_id: str
    reward_id: str
    amount: int
    external_reference_id: str | None


CONTROL_CHARACTERS = "{field} must not contain control characters"


def text(value: Any, field: str, missing: str) -> str:
    """A mandatory text field (``issuerId``, ``rewardId``, ``businessUnit``, ``channel``);
    ``value`` is None when the body leaves it out."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AdhocRefused(missing)
    if not isinstance(value, str):
        raise AdhocRefused(f"{field} must be a string")
    if len(value) > SIZES[field]:
        raise AdhocRefused(TOO_LONG.format(field=field, size=SIZES[field]))
    if not fields.is_clean(value):
        raise AdhocRefused(CONTROL_CHARACTERS.format(field=field))
    return value


def amount(value: Any) -> int:
    """``rewardAmount``: a non-zero integer (a JSON number, never a boolean)."""
    if value is None or value == "":
        raise AdhocRefused(AMOUNT_REQUIRED)
    if type(value) is not int or value == 0:
        raise AdhocRefused(AMOUNT_NOT_INTEGER)
    return value


def external_reference(value: Any, field: str = "externalReferenceId") -> str | None:
    """The client's reference, or None (absent, null or empty)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdhocRefused(f"{field} must be a string")
    if len(value) > EXTERNAL_REFERENCE_SIZE:
        raise AdhocRefused(TOO_LONG.format(field=field, size=EXTERNAL_REFERENCE_SIZE))
    if value.startswith(RESERVED_REFERENCE):
        # Campaign credits use job:<job id>:<index>: an ad hoc reference must never meet one.
        raise AdhocRefused(f"{field} must not start with {RESERVED_REFERENCE}")
    if not fields.is_clean(value):
        raise AdhocRefused(CONTROL_CHARACTERS.format(field=field))
    return value or None


# Everything an award is judged on, in one round trip: the client's feature, the session and its
# member, and whether the business unit and the reward exist in the member's programme (and the
# reward in the client's catalogue, lab.catalogue: any other is as undefined). Built
# once; the request's values are bound parameters.
_CONTEXT = (
    select(
        Client.adhoc_reward_enabled,
        LoyaltySession.id.label("session_id"),
        LoyaltySession.expires_at,
        LoyaltySession.last_seen_at,
        Member.id.label("member_id"),
        Member.merchant_id,
        Member.status,
        BusinessUnit.id.label("unit_id"),
        LoyaltyReward.max_per_transaction,
    )
    .select_from(Client)
    .outerjoin(
        LoyaltySession,
        (LoyaltySession.client_id == Client.id)
        & (LoyaltySession.correlation_id == bindparam("correlation_id")),
    )
    .outerjoin(Member, Member.id == LoyaltySession.member_id)
    .outerjoin(
        BusinessUnit,
        (BusinessUnit.merchant_id == Member.merchant_id)
        & (BusinessUnit.name == bindparam("business_unit")),
    )
    .outerjoin(
        LoyaltyReward,
        (LoyaltyReward.merchant_id == Member.merchant_id)
        & (LoyaltyReward.reward_id == bindparam("reward_id"))
        & LoyaltyReward.enabled.is_(True)
        & catalogue.visible(LoyaltyReward.id, client_id=Client.id, kind=LOYALTY_REWARD),
    )
    .where(Client.id == bindparam("client_id"))
)


async def issue(
    session: WriteSession,
    *,
    client_id: str,
    correlation_id: str,
    body: AdhocRequest | Invalid,
    idle: timedelta,
) -> ledger.Movement:
    """Award (or deduct) the points once; ``AdhocRefused`` with the seed's message otherwise.

    ``body`` is the request as read, or the refusal its reading raised: given, not raised, since
    the seed answers a client without the feature so, whatever its body. The caller commits."""
    request = body if isinstance(body, AdhocRequest) else None
    context = (
        await session.execute(
            _CONTEXT,
            {
                "client_id": client_id,
                "correlation_id": correlation_id,
                "business_unit": request.business_unit if request else None,
                "reward_id": request.reward_id if request else None,
            },
        )
    ).first()
    if context is None or not context.adhoc_reward_enabled:
        raise AdhocRefused(FEATURE_DISABLED)
    if isinstance(body, Invalid):
        raise body
    assert request is not None
    now = utcnow()
    if context.member_id is None or context.expires_at <= now:
        raise AdhocRefused(ACCOUNT_NOT_FOUND)
    await sessions.keep_alive(session, context.session_id, context.last_seen_at, now, idle)
    if context.status != "active":
        raise AdhocRefused(ACCOUNT_INACTIVE)
    if context.unit_id is None:
        raise AdhocRefused(UNIT_INVALID.format(name=request.business_unit))
    if context.max_per_transaction is None:
        raise AdhocRefused(REWARD_INVALID)
    if abs(request.amount) > context.max_per_transaction:
        raise AdhocRefused(OVER_MAXIMUM)
    try:
        return await ledger.move(
            session,
            member_id=context.member_id,
            merchant_id=context.merchant_id,
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
    except ledger.BalanceTooLarge as refused:
        raise AdhocRefused(refused.reason) from None


def message(movement: ledger.Movement) -> str:
    """The response's ``message``: what the transaction did."""
    points = movement.transaction.amount
    verb = "awarded" if points > 0 else "deducted"
    return f"Ad hoc reward of {abs(points)} points {verb}"
