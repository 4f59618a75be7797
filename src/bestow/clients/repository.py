from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.models import Client, ClientMerchant, Credential, Merchant


async def get(session: AsyncSession, client_id: str) -> Client | None:
    return await session.get(Client, client_id)


async def by_operator_id(session: AsyncSession, operator_id: int) -> Client | None:
    return await session.scalar(select(Client).where(Client.operator_id == operator_id))


async def credentials(
    session: AsyncSession, client_id: str, kind: str | None = None
) -> Sequence[Credential]:
    stmt = select(Credential).where(Credential.client_id == client_id)
    if kind:
        stmt = stmt.where(Credential.kind == kind)
    return (await session.scalars(stmt.order_by(Credential.id))).all()


async def granted_merchant_ids(session: AsyncSession, client_id: str) -> list[str]:
    rows = await session.scalars(
        select(ClientMerchant.merchant_id).where(ClientMerchant.client_id == client_id)
    )
    return list(rows)


async def grant(session: AsyncSession, client_id: str, merchant_id: str) -> bool:
    existing = await session.get(ClientMerchant, (client_id, merchant_id))
    if existing:
        return False
    session.add(ClientMerchant(client_id=client_id, merchant_id=merchant_id))
    return True


async def ungrant(session: AsyncSession, client_id: str, merchant_id: str) -> bool:
    result = await session.execute(
        delete(ClientMerchant).where(
            ClientMerchant.client_id == client_id, ClientMerchant.merchant_id == merchant_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def merchant_exists(session: AsyncSession, merchant_id: str) -> bool:
    return await session.get(Merchant, merchant_id) is not None
