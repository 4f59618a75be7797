"""Members of a merchant's programme."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    account_id: str
    email: str | None
    phone: str | None
    loyalty_id: str | None
    first_name: str
    last_name: str
    status: str
    created_at: datetime
