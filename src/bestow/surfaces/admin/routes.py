"""Admin API: the operator of a deployment sets up clients, merchants and members here.

One router per resource; this module assembles them in the order the OpenAPI document lists them.
"""

from __future__ import annotations

from fastapi import APIRouter

from bestow.surfaces.admin import (
    audit,
    campaigns,
    catalogue,
    certification,
    clients,
    faults,
    jobs,
    loyalty,
    members,
    merchants,
    products,
    requests,
    rewards,
    templates,
    vouchers,
    webhooks,
)

router = APIRouter()
for resource in (
    clients,
    catalogue,
    merchants,
    members,
    rewards,
    audit,
    templates,
    products,
    webhooks,
    vouchers,
    loyalty,
    requests,
    faults,
    certification,
    campaigns,
    jobs,
):
    router.include_router(resource.router)
