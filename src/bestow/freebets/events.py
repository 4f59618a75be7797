"""The webhook events of free bets and their payloads, in the shape ``docs/operator-api.md`` and
``docs/webhooks.md`` document (the vendor's camelCase: an event's ``data`` is what a subscriber
receives, so its shape is part of the contract).

``freebets.enrolled`` and ``freebets.completed`` carry the enrollment as the Operator API answers
it (``enrollment_payload``); ``campaign.cancelled`` the campaign's cancellation and its counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bestow.freebets.lifecycle import enrollment_status
from bestow.kit.outbox import event_row, event_type
from bestow.kit.timefmt import iso
from bestow.models import Campaign, OperatorEnrollment, OperatorReward

CAMPAIGN_CANCELLED = event_type(
    "campaign.cancelled",
    "An Operator API campaign was cancelled, with its rewards and open enrollments",
    surface="operator",
)
FREEBETS_ENROLLED = event_type(
    "freebets.enrolled", "A player was enrolled in an Operator API reward", surface="operator"
)
FREEBETS_COMPLETED = event_type(
    "freebets.completed",
    "A player used the last free bet of an Operator API enrollment",
    surface="operator",
)


@dataclass(frozen=True)
class RewardView:
    """What an enrollment's payload repeats of its reward, campaign and operator."""

    reward: OperatorReward
    campaign_reference: str | None
    operator_id: int | None


def money(minor: int) -> float:
    """Hundredths as a JSON number: the shortest float text of n/100 has at most 2 places."""
    return minor / 100


def enrollment_payload(
    enrollment: OperatorEnrollment, view: RewardView, now: datetime
) -> dict[str, Any]:
    """The vendor's enrollment object, with our additions (``campaignId``, ``completedAtUtc``,
    ``cancelledBy``): the data of ``freebets.enrolled`` and ``freebets.completed``, and the
    Operator API's answer for an enrollment."""
    reward = view.reward
    return {
        "rewardType": reward.reward_type,
        "id": enrollment.id,
        "operatorId": view.operator_id,
        "rewardId": enrollment.reward_id,
        "campaignId": enrollment.campaign_id,
        "campaignOperatorReference": view.campaign_reference,
        "rewardOperatorReference": reward.operator_reference,
        "operatorPlayerId": enrollment.operator_player_id,
        "products": list(reward.products),
        "status": enrollment_status(enrollment, now),
        "startTimeUtc": iso(enrollment.start_at),
        "endTimeUtc": iso(enrollment.end_at),
        "betValue": money(enrollment.bet_value_minor),
        "currencyIsoCode": reward.currency,
        "totalBetCount": enrollment.total_bet_count,
        "remainingBetCount": enrollment.remaining_bet_count,
        "creditWalletType": reward.credit_wallet_type,
        "stakeNotReturned": reward.stake_not_returned,
        "createdAtUtc": iso(enrollment.created_at),
        "updatedAtUtc": iso(enrollment.updated_at),
        "completedAtUtc": iso(enrollment.completed_at),
        "cancelledAtUtc": iso(enrollment.cancelled_at),
        "cancelledBy": enrollment.cancelled_by,
    }


def enrolled(
    client_id: str, enrollment_id: str, data: dict[str, Any], now: datetime, stamp: str
) -> dict[str, Any]:
    """The outbox row of ``freebets.enrolled`` (``data``: an ``enrollment_payload``)."""
    return event_row(
        FREEBETS_ENROLLED,
        subject_type="enrollment",
        subject_id=enrollment_id,
        client_id=client_id,
        now=now,
        stamp=stamp,
        data=data,
    )


def completed(
    client_id: str, enrollment: OperatorEnrollment, view: RewardView, now: datetime
) -> dict[str, Any]:
    """The outbox row of ``freebets.completed``: the enrollment whose last bet was used."""
    return event_row(
        FREEBETS_COMPLETED,
        subject_type="enrollment",
        subject_id=enrollment.id,
        client_id=client_id,
        now=now,
        data=enrollment_payload(enrollment, view, now),
    )


def campaign_cancelled(
    campaign: Campaign,
    *,
    cancelled_by: str,
    reward_count: int,
    enrollment_count: int,
    now: datetime,
) -> dict[str, Any]:
    """The outbox row of ``campaign.cancelled``, with how many rewards and open enrollments
    were cancelled with the campaign (no event is sent per enrollment of the cascade)."""
    return event_row(
        CAMPAIGN_CANCELLED,
        subject_type="campaign",
        subject_id=campaign.id,
        client_id=campaign.client_id,
        now=now,
        data={
            "campaignId": campaign.id,
            "operatorReference": campaign.operator_reference,
            "cancelledAtUtc": iso(now),
            "cancelledBy": cancelled_by,
            "cancelledRewardCount": reward_count,
            "cancelledEnrollmentCount": enrollment_count,
        },
    )
