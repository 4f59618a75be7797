"""The per-client catalogue: a client sees and issues only the items assigned to it, per kind.

Three kinds: ``product`` (a voucher product, by code: the Voucher API), ``template`` (a reward
template, by id: the Partner API) and ``loyalty_reward`` (an ad hoc reward definition, by its
``lrw_`` id: the Loyalty API). A client with no assignment of a kind sees the whole catalogue of
that kind, as before assignments existed: its merchants' templates and rewards, the deployment's
products. An item outside a client's catalogue answers as an unknown one would, so a surface
never tells a client what exists beyond its catalogue (``docs/catalogue.md``).

``visible`` is one SQL condition (assigned, or nothing of the kind assigned), so a listing or a
lookup stays one query whichever case holds.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bestow.audit import service as audit
from bestow.clients import repository as clients
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Invalid, NotFound
from bestow.models import CatalogueItem, LoyaltyReward, Product, RewardTemplate

PRODUCT = "product"
TEMPLATE = "template"
LOYALTY_REWARD = "loyalty_reward"
KINDS = (PRODUCT, TEMPLATE, LOYALTY_REWARD)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return kind


def visible(
    column: InstrumentedAttribute[str],
    *,
    client_id: str | InstrumentedAttribute[str],
    kind: str,
) -> ColumnElement[bool]:
    """True where ``column`` (an item id of ``kind``) is in the client's catalogue: assigned
    to it, or the client has nothing of that kind assigned (the whole catalogue)."""
    assigned = select(CatalogueItem.item_id).where(
        CatalogueItem.client_id == client_id, CatalogueItem.kind == kind
    )
    return or_(~exists(assigned), column.in_(assigned))


async def items(
    session: AsyncSession, *, client_id: str, kind: str | None = None
) -> list[CatalogueItem]:
    """The client's assignments (of ``kind`` if given), by kind then item."""
    await _client(session, client_id)
    stmt = select(CatalogueItem).where(CatalogueItem.client_id == client_id)
    if kind is not None:
        stmt = stmt.where(CatalogueItem.kind == check_kind(kind))
    return list(await session.scalars(stmt.order_by(CatalogueItem.kind, CatalogueItem.item_id)))


async def assign(
    session: WriteSession, *, client_id: str, kind: str, item_id: str, actor: Actor
) -> tuple[CatalogueItem, bool]:
    """Put an existing item in the client's catalogue; ``(item, created)``. Assigning it again
    changes nothing. A template or loyalty reward must be of a merchant the client is granted:
    a client's catalogue never reaches beyond its merchants."""
    await _client(session, client_id)
    check_kind(kind)
    await _check_item(session, client_id=client_id, kind=kind, item_id=item_id)
    held = await session.get(CatalogueItem, (client_id, kind, item_id))
    if held is not None:
        return held, False
    item = CatalogueItem(client_id=client_id, kind=kind, item_id=item_id, created_at=utcnow())
    session.add(item)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="catalogue.assigned",
        target_type="client",
        target_id=client_id,
        changes={"kind": kind, "item_id": item_id},
    )
    return item, True


async def unassign(
    session: WriteSession, *, client_id: str, kind: str, item_id: str, actor: Actor
) -> None:
    """Take an item out of the client's catalogue; the last one of a kind out gives the client
    the whole catalogue of that kind again."""
    await _client(session, client_id)
    check_kind(kind)
    removed = await session.execute(
        delete(CatalogueItem).where(
            CatalogueItem.client_id == client_id,
            CatalogueItem.kind == kind,
            CatalogueItem.item_id == item_id,
        )
    )
    if removed.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(f"{kind} {item_id} is not in the catalogue of client {client_id}")
    audit.record(
        session,
        actor=actor,
        action="catalogue.unassigned",
        target_type="client",
        target_id=client_id,
        changes={"kind": kind, "item_id": item_id},
    )


async def _client(session: AsyncSession, client_id: str) -> None:
    if await clients.get(session, client_id) is None:
        raise NotFound(f"client {client_id} not found")


async def _check_item(session: AsyncSession, *, client_id: str, kind: str, item_id: str) -> None:
    if kind == PRODUCT:
        if await session.scalar(select(Product.id).where(Product.code == item_id)) is None:
            raise NotFound(f"product {item_id} not found")
        return
    if kind == TEMPLATE:
        merchant_id = await session.scalar(
            select(RewardTemplate.merchant_id).where(RewardTemplate.id == item_id)
        )
        what = "reward template"
    else:
        merchant_id = await session.scalar(
            select(LoyaltyReward.merchant_id).where(LoyaltyReward.id == item_id)
        )
        what = "loyalty reward"
    if merchant_id is None:
        raise NotFound(f"{what} {item_id} not found")
    if merchant_id not in await clients.granted_merchant_ids(session, client_id):
        raise Invalid(
            f"{what} {item_id} belongs to merchant {merchant_id}, which client {client_id} "
            "may not act for: grant the merchant first",
            field="item_id",
        )
