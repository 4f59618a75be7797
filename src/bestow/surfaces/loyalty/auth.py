"""Loyalty API authentication: the OAuth access tokens of ``/oauth2/token`` (``docs/oauth.md``),
with the scope ``loyalty.adhoc_reward``, then the client's rate limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from bestow.clients.service import AuthenticatedClient
from bestow.surfaces.bearer import require

LoyaltyClient = Annotated[AuthenticatedClient, Depends(require("loyalty.adhoc_reward"))]
