"""A client's catalogue assignments, as the Admin API and the CLI print them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CatalogueItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    client_id: str
    kind: str = Field(description="product, template or loyalty_reward")
    item_id: str = Field(
        description="A product's code, a reward template's id or a loyalty reward's id"
    )
    created_at: datetime


class CatalogueOut(BaseModel):
    data: list[CatalogueItemOut] = Field(
        description="The assigned items; a kind with none gives the client the whole "
        "catalogue of that kind"
    )
