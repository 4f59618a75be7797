"""The checklist of each surface: Partner (Thanx's pre-certification self-check, word for
word), Vouchers (UNIQREWARDS's user acceptance tests and go-live requirements), Loyalty and
Operator (Bestow's, written from ES Loyalty's and Gamnify's documents: their vendors publish
none)."""

from __future__ import annotations

from bestow.kit.errors import Invalid
from bestow.lab.certification.core import Checklist, Item
from bestow.lab.certification.loyalty import CHECKLIST as LOYALTY
from bestow.lab.certification.operator import CHECKLIST as OPERATOR
from bestow.lab.certification.partner import CHECKLIST as PARTNER
from bestow.lab.certification.vouchers import CHECKLIST as VOUCHERS

CHECKLISTS: dict[str, Checklist] = {c.surface: c for c in (PARTNER, VOUCHERS, LOYALTY, OPERATOR)}
SURFACES = tuple(CHECKLISTS)


def checklist_of(surface: str) -> Checklist:
    try:
        return CHECKLISTS[surface]
    except KeyError:
        raise Invalid(f"surface must be one of {', '.join(SURFACES)}", field="surface") from None


def item_of(item_id: str) -> tuple[Checklist, Item]:
    """The checklist and item of an item id (``partner.headers.authorization``)."""
    surface = item_id.split(".", 1)[0]
    checklist = CHECKLISTS.get(surface)
    item = checklist.item(item_id) if checklist is not None else None
    if checklist is None or item is None:
        raise Invalid(f"no checklist item {item_id!r}", field="item_id")
    return checklist, item
