"""Vouchers: issuing them from a product, what they report, and the merchant's side (redeem,
void), with their expiry.

Issuing (``issue``) runs in the caller's write transaction. A request is recorded as a
``VoucherOrder`` under the client's ``Idempotency-Key`` in the same transaction as its vouchers,
so the vouchers and the record of them commit together or not at all; a repeat of the key finds
the order and returns the very same vouchers, whenever it comes. Concurrent repeats meet on the
order's unique key: on PostgreSQL the later inserts wait for the first transaction and then read
its order; on SQLite writers are serialised. Only issuances that issued something are recorded:
a refused request (bad body, out of stock) may be retried with the same key once fixed.

Redemption locks the voucher row (PostgreSQL ``FOR UPDATE``; SQLite serialises writers), so
concurrent redemptions of one voucher queue and never take more than its balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import bulk_insert, dialect_of, for_update_skip_locked, insert_ignore, utcnow
from bestow.kit.errors import Invalid, InvalidState, NotFound
from bestow.kit.ids import new_id, new_uuid7
from bestow.kit.outbox import event_row, event_type
from bestow.kit.security import equal
from bestow.models import Product, Voucher, VoucherOrder, VoucherRedemption
from bestow.vouchers import codes
from bestow.vouchers.products import get_product
from bestow.webhooks import fanout

MAX_QUANTITY = 20
MAX_REFERENCE = 100
MAX_NAME = 240
"""The length of a voucher's name (the product's, with the denomination): longer is cut."""
STATUSES = ("active", "inactive", "expired", "voided", "used")

VOUCHER_ISSUED = event_type(
    "voucher.issued", "A voucher was issued by the Voucher API", surface="vouchers"
)
VOUCHER_REDEEMED = event_type(
    "voucher.redeemed", "A merchant redeemed all or part of a voucher", surface="vouchers"
)
VOUCHER_VOIDED = event_type("voucher.voided", "A voucher was voided", surface="vouchers")

_SYMBOLS = {"USD": "$", "SGD": "$", "AUD": "$", "CAD": "$", "NZD": "$", "HKD": "$"}
_SYMBOLS |= {"EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}
FACE_VALUE_PLACEHOLDER = "${FV}"


class OutOfStock(Exception):
    """The product's stock cannot give the vouchers asked for (any, with ``allow_partial``)."""


class KeyReused(Exception):
    """The idempotency key was used before for another product, quantity or face value."""


@dataclass(frozen=True)
class Issued:
    """An issuance: its order, its vouchers in order, whether it is a repeat of an earlier
    request, and how many of the vouchers asked for could not be issued (stock)."""

    order: VoucherOrder
    vouchers: list[Voucher]
    replayed: bool

    @property
    def shortfall(self) -> int:
        return self.order.quantity - self.order.issued_count


def denomination(currency: str, cents: int) -> str:
    """``$10.51``, ``€5.00``, or ``CHF 12.00`` for currencies without a symbol here."""
    amount = f"{cents // 100:,}.{cents % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{currency} {amount}"


def voucher_name(product: Product, face_value: int | None) -> str:
    """The product's name with the denomination: ``${FV}`` in the name is replaced by it, or it
    is put in front of an open-value product's name (``$10.51 Coffee Voucher``)."""
    name = product.name
    if not product.is_value_based or face_value is None:
        return name
    shown = denomination(product.currency, face_value)
    if FACE_VALUE_PLACEHOLDER in name:
        return name.replace(FACE_VALUE_PLACEHOLDER, shown)
    if product.is_open_value:
        return f"{shown} {name}"
    return name


def expiry(product: Product, issued_at: datetime) -> datetime:
    """The product's fixed date, or the end (23:59:59 UTC) of the day ``validity_days`` after
    issue, as the vendor's examples read (``2030-10-12T22:59:59+00:00``)."""
    if product.valid_until is not None:
        return product.valid_until
    assert product.validity_days is not None
    day = (issued_at + timedelta(days=product.validity_days)).date()
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def check_face_value(product: Product, face_value: int | None) -> int:
    """The voucher's value in cents (or items): the product's, or the open value asked for."""
    if product.is_open_value:
        low, high = product.min_face_value or 0, product.max_face_value or 0
        if face_value is None:
            raise Invalid(
                f"face_value is required for open-value products, in cents, {low} to {high}",
                field="face_value",
            )
        if not low <= face_value <= high:
            raise Invalid(
                f"face_value is out of range for this product: in cents, {low} to {high}",
                field="face_value",
            )
        return face_value
    if face_value is not None:
        raise Invalid("face_value is only accepted for open-value products", field="face_value")
    if product.is_value_based:
        assert product.face_value is not None
        return product.face_value
    assert product.item_quantity is not None
    return product.item_quantity


def voucher_rows(
    product: Product,
    *,
    count: int,
    value: int,
    now: datetime,
    source: str,
    billable: bool,
    client_id: str | None,
    order_id: str | None = None,
    valid_from: datetime | None = None,
    positions: Sequence[int] = (),
    links: Sequence[tuple[str | None, str | None]] = (),
) -> list[dict[str, Any]]:
    """``count`` new vouchers as rows for ``bulk_insert`` (every column), in the order
    ``order_id`` (a Voucher API order, or a campaign's issuance job) at ``positions`` (0, 1, ...
    by default; a job's identifier indexes). ``links`` gives each its ``(reward id, member id)``
    when a campaign issues them."""
    name = voucher_name(product, value)[:MAX_NAME]
    expires_at = expiry(product, now)
    month = now.strftime("%Y-%m")
    rows = []
    for position in range(count):
        reward_id, member_id = links[position] if links else (None, None)
        rows.append(
            {
                "id": new_uuid7(),
                "code": codes.voucher_code(),
                "short_code": codes.short_code(),
                "pin": codes.pin(),
                "pin_failures": 0,
                "pin_locked_until": None,
                "client_id": client_id,
                "product_id": product.id,
                "product_code": product.code,
                "product_name": product.name,
                "name": name,
                "is_value_based": product.is_value_based,
                "is_status_available": product.is_status_available,
                "is_multiple_use": product.is_multiple_use,
                "currency": product.currency,
                "face_value": value,
                "remaining_amount": value,
                "status": "active",
                "valid_from": valid_from,
                "expires_at": expires_at,
                "source": source,
                "order_id": order_id,
                "position": (positions[position] if positions else position) if order_id else None,
                "reward_id": reward_id,
                "member_id": member_id,
                "billable": billable,
                "usage_month": month,
                "issued_at": now,
                "updated_at": now,
            }
        )
    return rows


async def take_stock(
    session: AsyncSession, product: Product, wanted: int, *, partial: bool = True
) -> int:
    """Take ``wanted`` from the product's stock (locked till the end of the transaction), or as
    many as there are when ``partial``, else none; how many were taken. Unlimited stock takes
    no lock."""
    if product.stock is None:
        return wanted
    if dialect_of(session) == "postgresql":
        # NO KEY UPDATE: rows that point at the product (a new order, new vouchers) hold KEY
        # SHARE on it through their foreign key; a plain FOR UPDATE would deadlock with them.
        await session.refresh(product, ["stock"], with_for_update={"key_share": True})
    stock = product.stock or 0
    taken = min(stock, wanted) if partial else (wanted if stock >= wanted else 0)
    product.stock = stock - taken
    return taken


async def _order(session: AsyncSession, client_id: str, key: str) -> VoucherOrder | None:
    return await session.scalar(
        select(VoucherOrder).where(
            VoucherOrder.client_id == client_id, VoucherOrder.idempotency_key == key
        )
    )


async def _replay(session: AsyncSession, order: VoucherOrder, request: tuple[Any, ...]) -> Issued:
    if (order.product_code, order.quantity, order.face_value, order.allow_partial) != request:
        raise KeyReused(order.id)
    vouchers = await session.scalars(
        select(Voucher).where(Voucher.order_id == order.id).order_by(Voucher.position)
    )
    return Issued(order, list(vouchers), replayed=True)


async def issue(
    session: AsyncSession,
    *,
    client_id: str,
    key: str,
    product_code: str,
    quantity: int,
    face_value: int | None,
    billable: bool,
    allow_partial: bool = False,
) -> Issued:
    """Issue ``quantity`` vouchers of a product once per idempotency ``key`` (a UUID, lower case).

    Raises ``KeyReused`` for a key used with another request, ``NotFound`` for an unknown or
    archived product, ``Invalid`` for a bad quantity or face value and ``OutOfStock`` when the
    stock is short. With ``allow_partial`` a short stock issues what it has (``Issued.shortfall``
    says how many are missing) and only an empty one is ``OutOfStock``. The caller commits.
    """
    request = (product_code, quantity, face_value, allow_partial)
    earlier = await _order(session, client_id, key)
    if earlier is not None:
        return await _replay(session, earlier, request)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Invalid(f"quantity must be between 1 and {MAX_QUANTITY}", field="quantity")
    product = await get_product(session, product_code, active_only=True)
    value = check_face_value(product, face_value)
    now = utcnow()
    order = VoucherOrder(
        id=new_id("vor"),
        client_id=client_id,
        idempotency_key=key,
        product_id=product.id,
        product_code=product.code,
        quantity=quantity,
        face_value=face_value,
        allow_partial=allow_partial,
        issued_count=quantity,
        created_at=now,
    )
    values = {c.name: getattr(order, c.key) for c in VoucherOrder.__table__.columns}
    claimed = await session.execute(
        insert_ignore(dialect_of(session), VoucherOrder.__table__).values(**values)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # A concurrent request with this key committed first (we waited on its key): read it.
        winner = await _order(session, client_id, key)
        assert winner is not None
        return await _replay(session, winner, request)
    count = await take_stock(session, product, quantity, partial=allow_partial)
    if count == 0:
        raise OutOfStock(product.code)
    order_id = order.id
    rows = voucher_rows(
        product,
        count=count,
        value=value,
        now=now,
        source="api",
        billable=billable,
        client_id=client_id,
        order_id=order_id,
    )
    await bulk_insert(session, Voucher.__table__, rows)
    if count < quantity:
        order.issued_count = count
        await session.execute(
            update(VoucherOrder).where(VoucherOrder.id == order_id).values(issued_count=count)
        )
    vouchers = [Voucher(**row) for row in rows]
    stamp = now.isoformat()
    await fanout.write_events(
        session,
        [
            event_row(
                VOUCHER_ISSUED,
                subject_type="voucher",
                subject_id=v.id,
                client_id=client_id,
                now=now,
                stamp=stamp,
                data={"order_id": order_id, "voucher": event_view(v, now)},
            )
            for v in vouchers
        ],
    )
    return Issued(order, vouchers, replayed=False)


def status_of(voucher: Voucher, now: datetime) -> str:
    """The status a voucher reports now.

    A product with ``is_status_available=false`` does not tell Bestow how its vouchers are used,
    so such a voucher reports only what is known without the merchant: ``inactive`` before it
    starts, ``active`` until it expires, then ``expired``, whatever was redeemed (see
    ``docs/vouchers.md``)."""
    return _status(voucher, now, use_known=voucher.is_status_available)


def merchant_status(voucher: Voucher, now: datetime | None = None) -> str:
    """The status from the merchant's side, where every product's use is known."""
    return _status(voucher, now or utcnow(), use_known=True)


def _status(voucher: Voucher, now: datetime, *, use_known: bool) -> str:
    if use_known and voucher.status in ("voided", "used", "expired"):
        return voucher.status
    if now >= voucher.expires_at:
        return "expired"
    if voucher.valid_from is not None and now < voucher.valid_from:
        return "inactive"
    return "active"


def remaining_of(voucher: Voucher) -> int:
    return voucher.remaining_amount if voucher.is_status_available else voucher.face_value


def event_view(voucher: Voucher, now: datetime) -> dict[str, Any]:
    """What the voucher events carry: the voucher's identity and state, no link or PIN."""
    return {
        "voucher_id": voucher.id,
        "voucher_code": voucher.code,
        "name": voucher.name,
        "status": status_of(voucher, now),
        "product_code": voucher.product_code,
        "currency": voucher.currency,
        "face_value": voucher.face_value,
        "remaining_amount": voucher.remaining_amount,
        "expiration": voucher.expires_at.isoformat(),
    }


async def client_vouchers(
    session: AsyncSession, client_id: str, ids: Sequence[str]
) -> dict[str, Voucher]:
    """The client's vouchers among ``ids``; another client's are simply not found."""
    rows = await session.scalars(
        select(Voucher).where(Voucher.client_id == client_id, Voucher.id.in_(list(ids)))
    )
    return {v.id: v for v in rows}


async def by_code(session: AsyncSession, code: str, *, lock: bool = False) -> Voucher:
    stmt = select(Voucher).where(Voucher.code == codes.normalise_code(code))
    if lock and dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    voucher = await session.scalar(stmt)
    if voucher is None:
        raise NotFound("voucher not found")
    return voucher


@dataclass(frozen=True)
class Redeemed:
    voucher: Voucher
    redemption: VoucherRedemption
    replayed: bool


async def redeem(
    session: AsyncSession,
    *,
    code: str,
    amount: int | None,
    actor: str,
    client_id: str | None = None,
    reference: str | None = None,
    location: str | None = None,
) -> Redeemed:
    """Take ``amount`` (cents, or items; all that is left when ``None``) from a voucher.

    A single-use voucher is redeemed whole. A multiple-use one, or a product-based one holding
    several items, may be redeemed in parts until nothing is left, when it becomes ``used``. A
    ``reference`` this actor used before on this voucher returns that redemption instead of
    taking more.
    The caller commits.
    """
    for name, text in (("reference", reference), ("location", location)):
        if text is not None and not 1 <= len(text) <= MAX_REFERENCE:
            raise Invalid(f"{name} is 1 to {MAX_REFERENCE} characters", field=name)
    voucher = await by_code(session, code, lock=True)
    if reference is not None:
        # A till's own transaction ids: another till's reference is another redemption.
        earlier = await session.scalar(
            select(VoucherRedemption).where(
                VoucherRedemption.voucher_id == voucher.id,
                VoucherRedemption.actor == actor[:80],
                VoucherRedemption.reference == reference,
            )
        )
        if earlier is not None:
            if earlier.kind != "redeem" or (amount is not None and earlier.amount != amount):
                raise InvalidState("this reference was used for another operation on the voucher")
            return Redeemed(voucher, earlier, replayed=True)
    now = utcnow()
    _must_be_active(voucher, now)
    left = voucher.remaining_amount
    take = left if amount is None else amount
    if take <= 0:
        raise Invalid("amount must be a positive integer", field="amount")
    partial_allowed = voucher.is_multiple_use or not voucher.is_value_based
    if take != left and not partial_allowed:
        raise Invalid(
            f"a single-use voucher is redeemed whole: amount must be {left}", field="amount"
        )
    if take > left:
        raise InvalidState(f"the voucher has {left} left, less than {take}")
    voucher.remaining_amount = left - take
    if voucher.remaining_amount == 0:
        voucher.status = "used"
    voucher.updated_at = now
    redemption = _redemption(voucher, "redeem", take, actor, client_id, reference, location, now)
    session.add(redemption)
    await _event(session, VOUCHER_REDEEMED, voucher, now, redemption)
    return Redeemed(voucher, redemption, replayed=False)


async def void(
    session: AsyncSession,
    *,
    code: str,
    actor: str,
    client_id: str | None = None,
    reason: str = "",
) -> Redeemed:
    """Take a voucher out of circulation: ``voided``, whatever is left stays unusable."""
    voucher = await by_code(session, code, lock=True)
    now = utcnow()
    current = merchant_status(voucher, now)
    if current not in ("active", "inactive"):
        raise InvalidState(f"a voucher that is {current} cannot be voided")
    voucher.status = "voided"
    voucher.updated_at = now
    redemption = _redemption(voucher, "void", 0, actor, client_id, None, None, now, reason)
    session.add(redemption)
    await _event(session, VOUCHER_VOIDED, voucher, now, redemption)
    return Redeemed(voucher, redemption, replayed=False)


def _must_be_active(voucher: Voucher, now: datetime) -> None:
    current = merchant_status(voucher, now)
    if current != "active":
        raise InvalidState(f"the voucher is {current}")


def _redemption(
    voucher: Voucher,
    kind: str,
    amount: int,
    actor: str,
    client_id: str | None,
    reference: str | None,
    location: str | None,
    now: datetime,
    note: str = "",
) -> VoucherRedemption:
    return VoucherRedemption(
        id=new_id("vrd"),
        voucher_id=voucher.id,
        client_id=client_id,
        actor=actor[:80],
        kind=kind,
        amount=amount,
        remaining_after=voucher.remaining_amount,
        reference=reference,
        location=location,
        note=note[:500],
        created_at=now,
    )


def redemption_view(redemption: VoucherRedemption) -> dict[str, Any]:
    """A redemption (or void) as its event and the merchant's view show it."""
    return {
        "id": redemption.id,
        "kind": redemption.kind,
        "amount": redemption.amount,
        "remaining_after": redemption.remaining_after,
        "reference": redemption.reference,
        "location": redemption.location,
    }


async def _event(
    session: AsyncSession,
    event: Any,
    voucher: Voucher,
    now: datetime,
    redemption: VoucherRedemption,
) -> None:
    """The redemption's event, to the client that issued the voucher; none for the vouchers of a
    product without status (``is_status_available=false``): their use is not reported."""
    if not voucher.is_status_available:
        return
    data = {
        "voucher": event_view(voucher, now) | {"status": voucher.status},
        "redemption": redemption_view(redemption),
    }
    await fanout.write_events(
        session,
        [
            event_row(
                event,
                subject_type="voucher",
                subject_id=voucher.id,
                client_id=voucher.client_id,
                now=now,
                data=data,
            )
        ],
    )


async def redemptions(session: AsyncSession, voucher_id: str) -> list[VoucherRedemption]:
    rows = await session.scalars(
        select(VoucherRedemption)
        .where(VoucherRedemption.voucher_id == voucher_id)
        .order_by(VoucherRedemption.created_at, VoucherRedemption.id)
    )
    return list(rows)


PIN_ATTEMPTS = 10
PIN_LOCK = timedelta(minutes=15)


class PinLocked(Exception):
    """Too many wrong PINs: the short link opens again at ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


async def open_short_link(session: AsyncSession, voucher: Voucher, pin: str) -> bool:
    """Whether ``pin`` opens the voucher's short link, counting the attempt first.

    Each attempt is reserved by one conditional update before the PIN is compared, so that no
    burst of concurrent guesses gets more than ``PIN_ATTEMPTS`` tries; the last failure locks
    the link for ``PIN_LOCK`` (``PinLocked``), after which the count starts again. A right PIN
    clears the count. Commits each step (the count must hold even if the request dies)."""
    now = utcnow()
    lapsed = and_(Voucher.pin_locked_until.is_not(None), Voucher.pin_locked_until <= now)
    reserved = await session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            or_(
                lapsed,
                and_(Voucher.pin_locked_until.is_(None), Voucher.pin_failures < PIN_ATTEMPTS),
            ),
        )
        .values(
            pin_failures=case((lapsed, 1), else_=Voucher.pin_failures + 1),
            pin_locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if reserved.rowcount != 1:  # type: ignore[attr-defined]
        until = await session.scalar(
            select(Voucher.pin_locked_until).where(Voucher.id == voucher.id)
        )
        raise PinLocked(until or now + PIN_LOCK)
    if equal(pin, voucher.pin):
        await session.execute(
            update(Voucher).where(Voucher.id == voucher.id).values(pin_failures=0)
        )
        await session.commit()
        return True
    locked = await session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            Voucher.pin_failures >= PIN_ATTEMPTS,
            Voucher.pin_locked_until.is_(None),
        )
        .values(pin_locked_until=now + PIN_LOCK)
    )
    await session.commit()
    if locked.rowcount == 1:  # type: ignore[attr-defined]
        raise PinLocked(now + PIN_LOCK)
    return False


EXPIRY_BATCH = 5_000


async def expire_due(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Mark up to ``EXPIRY_BATCH`` active vouchers past their expiry ``expired``; how many.
    (Reads derive ``expired`` from the time anyway: this makes it the stored state too.)"""
    now = now or utcnow()
    # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT ... FOR UPDATE): PostgreSQL
    # may run such a subquery more than once and so update more than the batch.
    due = list(
        await session.scalars(
            select(Voucher.id)
            .where(Voucher.status == "active", Voucher.expires_at <= now)
            .limit(EXPIRY_BATCH)
            # Rows another sweep (or a redemption) holds are left to it, not waited for.
            .with_for_update(**for_update_skip_locked(dialect_of(session)))
        )
    )
    if not due:
        return 0
    result = await session.execute(
        update(Voucher)
        .where(Voucher.id.in_(due), Voucher.status == "active")
        .values(status="expired", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UsageLine:
    month: str
    client_id: str | None
    product_code: str
    currency: str
    count: int
    face_value_total: int


async def usage(
    session: AsyncSession,
    *,
    month: str | None = None,
    client_id: str | None = None,
    billable_only: bool = True,
) -> list[UsageLine]:
    """Vouchers issued per month, client and product: count and total face value (cents, or
    items for product-based products). Billable ones only by default: those issued in
    production."""
    stmt = select(
        Voucher.usage_month,
        Voucher.client_id,
        Voucher.product_code,
        Voucher.currency,
        func.count(),
        func.coalesce(func.sum(Voucher.face_value), 0),
    ).group_by(Voucher.usage_month, Voucher.client_id, Voucher.product_code, Voucher.currency)
    if billable_only:
        stmt = stmt.where(Voucher.billable.is_(True))
    if month is not None:
        stmt = stmt.where(Voucher.usage_month == month)
    if client_id is not None:
        stmt = stmt.where(Voucher.client_id == client_id)
    rows = await session.execute(
        stmt.order_by(Voucher.usage_month, Voucher.client_id, Voucher.product_code)
    )
    return [UsageLine(m, c, p, cur, int(n), int(total)) for m, c, p, cur, n, total in rows]
