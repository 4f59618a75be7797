"""``POST /v3/products/{code}`` (issue vouchers), ``GET /v3/vouchers/{id}`` and
``GET /v3/vouchers?id=a,b`` (retrieve vouchers), with the vendor's error codes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bestow.deps import RuntimeDep, SessionDep
from bestow.kit import fields
from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid, NotFound
from bestow.kit.timefmt import rfc3339
from bestow.models import Voucher
from bestow.surfaces.common import load_json
from bestow.surfaces.vouchers.auth import IssueVouchers, ReadVouchers
from bestow.surfaces.vouchers.errors import VoucherError
from bestow.vouchers import service

router = APIRouter(prefix="/v3", tags=["Voucher API"])

MAX_IDS = 20
MISSING_KEY = "The Idempotency-Key header is required for this route"
KEY_NOT_UUID = "The Idempotency-Key header must be in UUID format"
BAD_BODY = "The request body could not be parsed"
BAD_QUANTITY = "quantity must be an integer between 1 and 20"
PARTIAL = "Voucher issuance was only partially successful"
NOT_ENOUGH_STOCK = "The quantity requested exceeds the available stock of this product"
KEY_REUSED = (
    "This Idempotency-Key was already used with a different product, quantity or face_value"
)


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


def voucher_json(voucher: Voucher, base_url: str, now: datetime) -> dict[str, Any]:
    base = base_url.rstrip("/")
    return {
        "voucher_code": voucher.code,
        "voucher_id": voucher.id,
        "name": voucher.name,
        "status": service.status_of(voucher, now),
        "expiration": rfc3339(voucher.expires_at),
        "currency": voucher.currency,
        "remaining_amount": service.remaining_of(voucher),
        "product_code": voucher.product_code,
        "product_name": voucher.product_name,
        "is_value_based": voucher.is_value_based,
        "is_status_available": voucher.is_status_available,
        "is_multiple_use": voucher.is_multiple_use,
        "url": f"{base}/v/{voucher.code}",
        "short_url": f"{base}/s/{voucher.short_code}",
        "short_url_pin": voucher.pin,
    }


def _idempotency_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise VoucherError(400, "400-9A0", MISSING_KEY)
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise VoucherError(400, "400-BB4", KEY_NOT_UUID) from None


ISSUE_FIELDS = ("quantity", "face_value", "allow_partial")


def _issue_request(body: bytes) -> tuple[int, int | None, bool]:
    try:
        data = load_json(body, VoucherError(400, "400-4C3", BAD_BODY))
    except Invalid as exc:  # a number out of range: the body parses, its value does not fit
        raise VoucherError(400, "400-4C3", exc.message) from None
    if not isinstance(data, dict):
        raise VoucherError(400, "400-4C3", BAD_BODY)
    unknown = sorted(set(data) - set(ISSUE_FIELDS))
    if unknown:
        # Refused, not ignored: a misspelt allow_partial would silently issue nothing.
        raise VoucherError(400, "400-4C3", f"{unknown[0]} is not a known field")
    quantity = data.get("quantity")
    if type(quantity) is not int or not 1 <= quantity <= service.MAX_QUANTITY:
        raise VoucherError(400, "400-5DC", BAD_QUANTITY)
    face_value = data.get("face_value")
    if face_value is not None:
        try:
            fields.integer(face_value)
        except fields.OutOfRange:
            raise VoucherError(400, "400-056", "face_value is out of range") from None
        except fields.FieldError:
            raise VoucherError(
                400, "400-056", "face_value must be an integer number of cents"
            ) from None
    allow_partial = data.get("allow_partial", False)
    if type(allow_partial) is not bool:
        raise VoucherError(400, "400-000", "allow_partial must be true or false")
    return quantity, face_value, allow_partial


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
)
async def issue_vouchers(
    code: str,
    request: Request,
    client: IssueVouchers,
    runtime: RuntimeDep,
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
    key = _idempotency_key(idempotency_key)
    quantity, face_value, allow_partial = _issue_request(await request.body())
    try:
        async with runtime.db.write_session() as session:
            issued = await service.issue(
                session,
                client_id=client.id,
                key=key,
                product_code=code,
                quantity=quantity,
                face_value=face_value,
                billable=runtime.settings.is_production,
                allow_partial=allow_partial,
            )
            await session.commit()
    except service.KeyReused:
        raise VoucherError(422, "422-000", KEY_REUSED) from None
    except service.OutOfStock:
        raise VoucherError(400, "400-0C6", NOT_ENOUGH_STOCK) from None
    except Invalid as exc:
        if exc.field == "face_value":
            raise VoucherError(400, "400-056", exc.message) from None
        if exc.field == "quantity":
            raise VoucherError(400, "400-5DC", BAD_QUANTITY) from None
        raise
    now = utcnow()
    body: dict[str, Any] = {
        "vouchers": [voucher_json(v, runtime.settings.public_url, now) for v in issued.vouchers]
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
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _voucher_ids(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        raise VoucherError(400, "400-67B", "id must be a comma-separated list of UUIDs")
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) > MAX_IDS:
        raise VoucherError(400, "400-B32", f"id accepts at most {MAX_IDS} values")
    ids = []
    for part in parts:
        try:
            ids.append(str(uuid.UUID(part)))
        except ValueError:
            raise VoucherError(
                400, "400-67B", "id must be a comma-separated list of UUIDs"
            ) from None
    if len(set(ids)) != len(ids):
        raise VoucherError(400, "400-215", "id values must be unique")
    return ids


@router.get(
    "/vouchers",
    response_model=list[VoucherOut],
    responses={400: {"model": ErrorOut, "description": "400-67B, 400-B32, 400-215"}},
)
async def retrieve_vouchers(
    client: ReadVouchers,
    session: SessionDep,
    runtime: RuntimeDep,
    id: Annotated[
        str | None, Query(description="Up to 20 unique voucher ids, comma separated")
    ] = None,
) -> list[dict[str, Any]]:
    """Several vouchers by id, in the order asked; 404 when one of them is unknown."""
    ids = _voucher_ids(id)
    found = await service.client_vouchers(session, client.id, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"voucher {missing[0]} not found")
    now = utcnow()
    return [voucher_json(found[i], runtime.settings.public_url, now) for i in ids]


@router.get("/vouchers/{voucher_id}", response_model=VoucherOut)
async def retrieve_voucher(
    voucher_id: str, client: ReadVouchers, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """One voucher's details and current state; 404 when unknown (or another client's)."""
    try:
        wanted = str(uuid.UUID(voucher_id))
    except ValueError:
        raise NotFound(f"voucher {voucher_id} not found") from None
    found = await service.client_vouchers(session, client.id, [wanted])
    if wanted not in found:
        raise NotFound(f"voucher {voucher_id} not found")
    return voucher_json(found[wanted], runtime.settings.public_url, utcnow())
