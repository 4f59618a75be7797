"""Voucher API authentication: an OAuth access token (``docs/oauth.md``) with the route's scope,
then the client's rate limit (``bestow.surfaces.bearer``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from bestow.clients.service import AuthenticatedClient
from bestow.surfaces.bearer import require

ReadCatalogue = Annotated[AuthenticatedClient, Depends(require("read_catalogue"))]
IssueVouchers = Annotated[AuthenticatedClient, Depends(require("issue_vouchers"))]
ReadVouchers = Annotated[AuthenticatedClient, Depends(require("read_vouchers"))]
RedeemVouchers = Annotated[AuthenticatedClient, Depends(require("redeem_vouchers"))]
