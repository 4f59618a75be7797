"""Shared helpers of the voucher tests: products of the catalogue."""

from __future__ import annotations

from typing import Any

from bestow.deps import Runtime
from bestow.vouchers import products
from tests.conftest import ACTOR, unique


def code() -> str:
    return unique("P").replace("-", "_")


def fixed(**over: Any) -> dict[str, Any]:
    """Keyword arguments of a fixed-value product: 10.00 SGD, valid 30 days, unlimited stock."""
    return {
        "code": code(),
        "name": "Ten dollars",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "SGD",
        "face_value": 1000,
        "validity_days": 30,
        **over,
    }


async def create(runtime: Runtime, **fields: Any) -> Any:
    async with runtime.db.write_session() as session:
        product = await products.create_product(session, actor=ACTOR, **fields)
        await session.commit()
        return product
