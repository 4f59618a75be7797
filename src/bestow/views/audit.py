"""Entries of the audit trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    actor: str
    action: str
    target_type: str
    target_id: str
    changes: dict[str, object]
    request_id: str | None
    created_at: datetime
