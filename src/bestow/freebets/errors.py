"""The refusals of the free-bets domain: kinds of ``bestow.kit.errors`` that a surface maps to its
vendor's codes (the Operator API in ``bestow.surfaces.operator.errors``)."""

from __future__ import annotations

from bestow.kit.errors import Conflict, NotFound


class CampaignNotFound(NotFound):
    """No such campaign of this operator (another operator's is not found either)."""


class RewardNotFound(NotFound):
    """No such reward in this operator's campaigns."""


class EnrollmentNotFound(NotFound):
    """No such enrollment of this operator."""


class BulkNotFound(NotFound):
    """No such bulk enrollment of this reward and operator."""


class NotCancellable(Conflict):
    """The campaign, reward or enrollment is past the statuses that can be cancelled."""


class NotEnrollable(Conflict):
    """The reward (or its campaign) no longer takes new rewards or players."""


class NoBetsLeft(Conflict):
    """The enrollment has no free bet to use: it is not open, or not open yet."""


class BetIdReused(Conflict):
    """A ``betId`` already used on another product of the same enrollment."""
