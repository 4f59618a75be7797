"""``POST /v3/products/{code}`` (issue vouchers), ``GET /v3/vouchers/{id}`` and
``GET /v3/vouchers?id=a,b`` (retrieve vouchers). The vendor's error codes are given in one place,
``bestow.surfaces.vouchers.errors``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, WithJsonSchema

from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid
from bestow.kit.security import Sealer
from bestow.kit.timefmt import rfc3339
from bestow.lab import environments
from bestow.models import Voucher
from bestow.surfaces.bodies import MISSING, Body, Read
from bestow.surfaces.common import note
from bestow.surfaces.vouchers.auth import IssueVouchers, ReadVouchers
from bestow.surfaces.vouchers.errors import BAD_BODY, UnreadableIssue
from bestow.vouchers import issuing, links, lookup
from bestow.vouchers.errors import BadFaceValue, OutOfStock
from bestow.vouchers.status import remaining_of, status_of

router = APIRouter(prefix="/v3", tags=["Voucher API"])

PARTIAL = "Voucher issuance was only partially successful"


class VoucherOut(BaseModel):
    voucher_code: str = Field(description="What the recipient and the merchant use to redeem")
    voucher_id: str = Field(description="The voucher's UUID, for the Client API")
    name: str
    status: str = Field(description="active, inactive, expired, voided or used")
    expiration: str = Field(description="RFC 3339, e.g. 2030-10-12T23:59:59+00:00")
    currency: str = Field(description="ISO 4217; empty for product-based vouchers")
    remaining_amount: int = Field(description="Cents (value based) or items (product based)")
    product_code: str
    product_name: str
    is_value_based: bool
    is_status_available: bool
    is_multiple_use: bool
    url: str = Field(description="Direct link to the voucher")
    short_url: str = Field(description="Short link, opened with short_url_pin")
    short_url_pin: str


class ErrorOut(BaseModel):
    status: int
    code: str
    message: str


class IssuedOut(BaseModel):
    vouchers: list[VoucherOut]
    error: ErrorOut | None = Field(
        default=None, description="On 207 only: why fewer vouchers than asked were issued"
    )


def voucher_json(voucher: Voucher, base_url: str, now: datetime, sealer: Sealer) -> dict[str, Any]:
    base = base_url.rstrip("/")
    return {
        "voucher_code": voucher.code,
        "voucher_id": voucher.id,
        "name": voucher.name,
        "status": status_of(voucher, now),
        "expiration": rfc3339(voucher.expires_at),
        "currency": voucher.currency,
        "remaining_amount": remaining_of(voucher),
        "product_code": voucher.product_code,
        "product_name": voucher.product_name,
        "is_value_based": voucher.is_value_based,
        "is_status_available": voucher.is_status_available,
        "is_multiple_use": voucher.is_multiple_use,
        "url": f"{base}/v/{voucher.code}",
        "short_url": f"{base}/s/{voucher.short_code}",
        "short_url_pin": links.pin_of(voucher, sealer),
    }


def _quantity(value: Any, name: str) -> int:
    return issuing.check_quantity(value)


def _face_value(value: Any, name: str) -> int | None:
    return issuing.face_value_asked(None if value is MISSING else value)


def _allow_partial(value: Any, name: str) -> bool:
    if value is MISSING:
        return False
    if type(value) is not bool:
        raise Invalid(f"{name} must be true or false", field=name)
    return value


class IssueIn(Body):
    refusal = UnreadableIssue
    not_json = BAD_BODY

    quantity: Annotated[
        int,
        Read(_quantity),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": issuing.MAX_QUANTITY}),
    ]
    face_value: Annotated[
        int | None,
        Read(_face_value),
        WithJsonSchema(
            {"type": "integer", "description": "In cents; required for an open-value product"}
        ),
    ] = None
    allow_partial: Annotated[bool, Read(_allow_partial), WithJsonSchema({"type": "boolean"})] = (
        False
    )


ISSUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    207: {"model": IssuedOut, "description": "Partial success (207-762): fewer than asked"},
    400: {"model": ErrorOut, "description": "400-9A0, 400-BB4, 400-4C3, 400-5DC, 400-056, 400-0C6"},
    401: {"model": ErrorOut, "description": "Missing, expired or invalid access token"},
    403: {"model": ErrorOut, "description": "The token lacks the issue_vouchers scope"},
    404: {"model": ErrorOut, "description": "Unknown product code"},
    422: {"model": ErrorOut, "description": "Idempotency-Key reused for another request"},
}


@router.post(
    "/products/{code}",
    response_model=IssuedOut,
    response_model_exclude_none=True,
    responses=ISSUE_RESPONSES,
    openapi_extra=IssueIn.openapi(),
)
async def issue_vouchers(
    code: str,
    request: Request,
    client: IssueVouchers,
    runtime: RuntimeDep,
    session: WriteSessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="A UUID; a repeat returns the same vouchers"),
    ] = None,
) -> Response:
    """Issue 1 to 20 vouchers of a product; `face_value` (cents) for open-value products only.

    A quantity beyond the product's stock is refused (400-0C6), unless `allow_partial` (a Bestow
    extension) is true: then what is left is issued, with 207 and the error `207-762`.

    A repeat with the same `Idempotency-Key` returns the vouchers issued the first time, with the
    `Idempotency-Record` header, however long after and however many times."""
    key = issuing.idempotency_key(idempotency_key)
    asked = await IssueIn.from_request(request)
    # For the certification (bestow.lab.certification.vouchers): whether a face value was given
    # (never the value), and the product code as the request's object, once the product is
    # known to be the catalogue's (a code a client typed that names no product is not kept).
    counts = {"quantity": asked.quantity}
    if asked.face_value is not None:
        counts["face_value"] = 1
    note(request, counts=counts)
    try:
        issued = await issuing.issue(
            session,
            client_id=client.id,
            key=key,
            product_code=code,
            quantity=asked.quantity,
            face_value=asked.face_value,
            billable=environments.is_billable(client.environment),
            allow_partial=asked.allow_partial,
        )
    except (BadFaceValue, OutOfStock):
        note(request, object_id=code)  # raised once the product was found
        raise
    note(request, object_id=issued.order.product_code)
    now = utcnow()
    body: dict[str, Any] = {
        "vouchers": [
            voucher_json(v, runtime.settings.public_url, now, runtime.sealer)
            for v in issued.vouchers
        ]
    }
    status = 200
    if issued.shortfall:
        status = 207
        body["error"] = {
            "status": 207,
            "code": "207-762",
            "message": f"{PARTIAL}: {issued.shortfall} of the {issued.order.quantity} vouchers "
            "asked for could not be issued, for lack of stock",
        }
    headers: dict[str, str] = {}
    if issued.replayed:
        headers["Idempotency-Record"] = rfc3339(issued.order.created_at)
        note(request, replayed=True)
    if issued.shortfall:
        note(request, error_code="207-762")
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


@router.get(
    "/vouchers",
    response_model=list[VoucherOut],
    responses={400: {"model": ErrorOut, "description": "400-67B, 400-B32, 400-215"}},
)
async def retrieve_vouchers(
    request: Request,
    client: ReadVouchers,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    id: Annotated[
        str | None, Query(description="Up to 20 unique voucher ids, comma separated")
    ] = None,
) -> list[dict[str, Any]]:
    """Several vouchers by id, in the order asked; 404 when one of them is unknown."""
    ids = lookup.check_ids((id or "").split(","))
    note(request, counts={"ids": len(ids)})
    found = await lookup.client_vouchers_in_order(session, client.id, ids)
    now = utcnow()
    return [voucher_json(v, runtime.settings.public_url, now, runtime.sealer) for v in found]


@router.get("/vouchers/{voucher_id}", response_model=VoucherOut)
async def retrieve_voucher(
    voucher_id: str,
    request: Request,
    client: ReadVouchers,
    session: ReadSessionDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """One voucher's details and current state; 404 when unknown (or another client's)."""
    voucher = await lookup.client_voucher(session, client.id, voucher_id)
    note(request, object_id=voucher.id)
    return voucher_json(voucher, runtime.settings.public_url, utcnow(), runtime.sealer)
