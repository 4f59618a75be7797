"""Reward kinds: the extension point for what a template issues.

A kind validates the template fields it cares about. ``discount`` is the plain Partner API reward;
``voucher``, ``points`` and ``free_bets`` register themselves from their own domains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bestow.kit.errors import Invalid


@dataclass(frozen=True)
class TemplateFields:
    type: str
    subtype: str | None
    discount: dict[str, Any] | None
    config: dict[str, Any]


@dataclass(frozen=True)
class RewardKind:
    name: str
    description: str
    validate: Callable[[TemplateFields], TemplateFields]
    initial_state: str = "active"


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


def _validate_discount(fields: TemplateFields) -> TemplateFields:
    discount = fields.discount or {"type": fields.subtype or "free_item", "value": None}
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
