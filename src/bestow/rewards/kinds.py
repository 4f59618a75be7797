"""Reward kinds: the extension point for what a template issues.

A kind validates the template fields it cares about. ``discount`` is the plain Partner API reward;
``voucher``, ``points`` and ``free_bets`` register themselves from their own domains (imported by
``bestow.rewards``, so that importing this module is enough to see every kind).

A kind that issues something beside the reward itself (a voucher) gives two hooks to the batch
issuance engine: ``issue``, called once per chunk with the chunk's rewards, in the chunk's
transaction, and ``revoke``, called in the transaction that revokes a job's rewards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import WriteSession
from bestow.kit.errors import Invalid
from bestow.kit.fields import INT64_MAX


@dataclass(frozen=True)
class TemplateFields:
    type: str
    subtype: str | None
    discount: dict[str, Any] | None
    config: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """One chunk of a batch issuance job, as a kind's ``issue`` hook sees it: the template's
    config, who the rewards are for and ``links``, each reward's (reward id, member id), in
    identifier order."""

    config: dict[str, Any]
    job_id: str
    client_id: str | None
    valid_from: datetime | None
    billable: bool
    now: datetime
    links: list[tuple[str, str]]
    indexes: list[int]
    """Each reward's identifier index in the job."""


@dataclass(frozen=True)
class Served:
    """What an ``issue`` hook did with a chunk: the first ``count`` rewards got their thing (the
    rest fail with ``reason``), and ``event_data`` holds, for each of those, what their
    ``reward.issued`` event's data gains."""

    count: int
    reason: str = ""
    event_data: list[dict[str, Any]] = field(default_factory=list)


Check = Callable[[AsyncSession, TemplateFields], Awaitable[TemplateFields]]
Issue = Callable[[WriteSession, Batch], Awaitable[Served]]
Revoke = Callable[[WriteSession, str, datetime], Awaitable[None]]


@dataclass(frozen=True)
class RewardKind:
    """``validate`` checks the fields alone; ``check`` (optional) what they refer to in the
    database, e.g. that a product exists."""

    name: str
    description: str
    validate: Callable[[TemplateFields], TemplateFields]
    initial_state: str = "active"
    check: Check | None = None
    issue: Issue | None = None
    revoke: Revoke | None = None


_KINDS: dict[str, RewardKind] = {}


def register(kind: RewardKind) -> RewardKind:
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> RewardKind:
    kind = _KINDS.get(name)
    if kind is None:
        raise Invalid(f"kind must be one of {', '.join(sorted(_KINDS))}", field="kind")
    return kind


def names() -> list[str]:
    return sorted(_KINDS)


DISCOUNT_TYPES = ("amount", "percent", "free_item")


DISCOUNT_KEYS = ("type", "value")
DISCOUNT_REQUIRED = (
    'discount is required for a discount template: {"type": "amount", "percent" or '
    '"free_item", "value": cents, percent or null}'
)


def _validate_discount(fields: TemplateFields) -> TemplateFields:
    # What does not apply is refused, and nothing defaults: a template that silently became a
    # free item (the most generous reward) is worse than a refusal.
    if fields.config:
        raise Invalid(
            "a discount template has no config; its reward is given in discount", field="config"
        )
    discount = fields.discount
    if discount is None:
        raise Invalid(DISCOUNT_REQUIRED, field="discount")
    unknown = sorted(set(discount) - set(DISCOUNT_KEYS))
    if unknown:
        raise Invalid(f"discount holds type and value, not {', '.join(unknown)}", field="discount")
    kind = discount.get("type")
    value = discount.get("value")
    if kind not in DISCOUNT_TYPES:
        raise Invalid(f"discount.type must be one of {', '.join(DISCOUNT_TYPES)}", field="discount")
    if kind == "free_item":
        if value is not None:
            raise Invalid("a free_item discount has no value", field="discount")
    elif not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise Invalid(
            "discount.value must be a positive integer (cents or percent)", field="discount"
        )
    elif kind == "percent" and value > 100:
        raise Invalid("a percent discount is at most 100", field="discount")
    elif value > INT64_MAX:
        raise Invalid(f"discount.value is out of range (1 to {INT64_MAX})", field="discount")
    return TemplateFields(
        type="discount",
        subtype=fields.subtype or kind,
        discount={"type": kind, "value": value},
        config=fields.config,
    )


DISCOUNT = register(
    RewardKind(
        "discount", "A plain reward: an amount, a percentage or a free item", _validate_discount
    )
)
