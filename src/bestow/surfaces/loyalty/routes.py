"""Loyalty API routes under ``/client`` (ES Loyalty-compatible)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/client", tags=["Loyalty API"])
