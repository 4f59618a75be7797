"""Finding vouchers: by code (the merchant's and the operator's key), by id for the client that
issued them, and in pages of a filtered list for operators (Admin API, CLI).

A voucher belongs to the environment of the client that issued it. A merchant's look-up by code
names its own environment: a voucher of another environment is not found, as an unknown code
(``docs/environments.md``)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import dialect_of, utcnow
from bestow.kit.errors import Invalid, NotFound
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.models import Client, Voucher, VoucherRedemption
from bestow.vouchers import codes
from bestow.vouchers.errors import BadIds, RepeatedIds, TooManyIds
from bestow.vouchers.status import status_is

MAX_IDS = 20


def in_environment(environment: str) -> ColumnElement[bool]:
    """Vouchers a client of ``environment`` may reach by code: those not issued by a client of
    another environment. Every voucher the APIs make has an issuing client (clients are never
    deleted); one without a known client was made outside them and is tied to no environment."""
    elsewhere = select(Client.id).where(Client.environment != environment)
    return or_(Voucher.client_id.is_(None), Voucher.client_id.not_in(elsewhere))


async def by_code(
    session: AsyncSession, code: str, *, lock: bool = False, environment: str | None = None
) -> Voucher:
    """A voucher by its code as typed (any case, hyphens and spaces); ``lock``: held for update
    till the end of the transaction (PostgreSQL; SQLite serialises writers). ``environment``:
    the caller's (a client's); a voucher of another one is not found. Operators give none."""
    stmt = select(Voucher).where(Voucher.code == codes.normalise_code(code))
    if environment is not None:
        stmt = stmt.where(in_environment(environment))
    if lock and dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    voucher = await session.scalar(stmt)
    if voucher is None:
        raise NotFound("voucher not found")
    return voucher


def check_ids(ids: Sequence[str]) -> list[str]:
    """Voucher ids asked for at once: at most ``MAX_IDS`` UUIDs (in their stored form), each
    once."""
    parts = [part.strip() for part in ids]
    if len(parts) > MAX_IDS:
        raise TooManyIds(f"at most {MAX_IDS} voucher ids at once", field="id")
    wanted = []
    for part in parts:
        try:
            wanted.append(str(uuid.UUID(part)))
        except ValueError:
            raise BadIds("voucher ids are UUIDs", field="id") from None
    if len(set(wanted)) != len(wanted):
        raise RepeatedIds("voucher ids must be unique", field="id")
    return wanted


async def client_vouchers(
    session: AsyncSession, client_id: str, ids: Sequence[str]
) -> dict[str, Voucher]:
    """The client's vouchers among ``ids``; another client's are simply not found."""
    rows = await session.scalars(
        select(Voucher).where(Voucher.client_id == client_id, Voucher.id.in_(list(ids)))
    )
    return {v.id: v for v in rows}


async def client_vouchers_in_order(
    session: AsyncSession, client_id: str, ids: Sequence[str]
) -> list[Voucher]:
    """The client's vouchers ``ids`` (``check_ids``), in that order; ``NotFound`` naming the
    first that is unknown or another client's."""
    found = await client_vouchers(session, client_id, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"voucher {missing[0]} not found")
    return [found[i] for i in ids]


async def client_voucher(session: AsyncSession, client_id: str, voucher_id: str) -> Voucher:
    """One of the client's vouchers by id; ``NotFound`` when unknown, not a UUID, or another
    client's."""
    try:
        wanted = str(uuid.UUID(voucher_id))
    except ValueError:
        raise NotFound(f"voucher {voucher_id} not found") from None
    found = await client_vouchers(session, client_id, [wanted])
    if wanted not in found:
        raise NotFound(f"voucher {voucher_id} not found")
    return found[wanted]


async def redemptions(session: AsyncSession, voucher_id: str) -> list[VoucherRedemption]:
    """A voucher's redemptions and void, oldest first."""
    rows = await session.scalars(
        select(VoucherRedemption)
        .where(VoucherRedemption.voucher_id == voucher_id)
        .order_by(VoucherRedemption.created_at, VoucherRedemption.id)
    )
    return list(rows)


def query(
    *, client_id: str | None = None, product_code: str | None = None, status: str | None = None
) -> Select[Voucher]:
    """Vouchers of a client, of a product, in a (true) status (``status.status_is``)."""
    stmt = select(Voucher)
    if client_id is not None:
        stmt = stmt.where(Voucher.client_id == client_id)
    if product_code is not None:
        stmt = stmt.where(Voucher.product_code == product_code)
    if status is not None:
        stmt = stmt.where(status_is(status, utcnow()))
    return stmt


def _after(cursor: str) -> str:
    """The voucher id a cursor carries. Voucher ids are the vendor's UUIDs, which the Admin
    API's shared cursors (prefixed ids) refuse; they page in id order all the same."""
    try:
        last = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return str(uuid.UUID(last))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid("cursor is not one this API returned", field="cursor") from exc


async def page(
    session: AsyncSession, stmt: Select[Voucher], *, cursor: str | None, limit: int
) -> CursorPage[Voucher]:
    """A page of vouchers in id order (random UUIDs: stable, not chronological)."""
    if cursor:
        stmt = stmt.where(Voucher.id > _after(cursor))
    return await cursor_paginate(session, stmt, Voucher.id, cursor=None, limit=limit)


async def filtered_page(
    session: AsyncSession,
    *,
    client_id: str | None = None,
    product_code: str | None = None,
    status: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[Voucher]:
    """A page of the vouchers ``query`` selects (the operators' list)."""
    stmt = query(client_id=client_id, product_code=product_code, status=status)
    return await page(session, stmt, cursor=cursor, limit=limit)
