"""Reward templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    merchant_id: str
    kind: str
    state: str
    name: str
    type: str
    subtype: str | None
    description: str
    fine_print: str
    discount: dict[str, Any] | None
    redemption_venue: str | None
    images: dict[str, str]
    config: dict[str, Any]
    created_at: datetime
