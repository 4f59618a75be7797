"""The Voucher API's error shape: ``{"status", "code", "message"}`` with the vendor's codes.

The vendor's codes read ``<http status>-<hex>`` (``400-5DC``); errors it gives no code for carry
``<http status>-000``. Clients must tolerate codes they do not know, as the vendor says.

``VENDOR_CODES`` is the one place where domain errors become the vendor's codes and wording; the
handlers raise domain errors and never a code. An error it does not name keeps its kind's status
(``bestow.surfaces.common.classify``) with the code ``<status>-000``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bestow.kit.errors import DomainError, Invalid, InvalidState
from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo
from bestow.vouchers.errors import (
    BadFaceValue,
    BadIds,
    BadQuantity,
    KeyMalformed,
    KeyMissing,
    KeyReused,
    OutOfStock,
    RepeatedIds,
    TooManyIds,
)
from bestow.vouchers.issuing import MAX_QUANTITY
from bestow.vouchers.lookup import MAX_IDS

MISSING_KEY = "The Idempotency-Key header is required for this route"
KEY_NOT_UUID = "The Idempotency-Key header must be in UUID format"
BAD_BODY = "The request body could not be parsed"
BAD_QUANTITY = f"quantity must be an integer between 1 and {MAX_QUANTITY}"
NOT_ENOUGH_STOCK = "The quantity requested exceeds the available stock of this product"
KEY_REUSED = (
    "This Idempotency-Key was already used with a different product, quantity or face_value"
)
BAD_IDS = "id must be a comma-separated list of UUIDs"


class UnreadableIssue(Invalid):
    """The issuance body cannot be read: not a JSON object, a number no store can hold, or a
    field it does not know (refused, not ignored: a misspelt ``allow_partial`` would silently
    issue nothing)."""


@dataclass(frozen=True)
class VendorCode:
    """How the Voucher API answers a kind of domain error: its status, its code, and its
    message (the error's own when ``None``)."""

    kind: type[DomainError]
    status: int
    code: str
    message: str | None = None


VENDOR_CODES = (
    VendorCode(KeyMissing, 400, "400-9A0", MISSING_KEY),
    VendorCode(KeyMalformed, 400, "400-BB4", KEY_NOT_UUID),
    VendorCode(UnreadableIssue, 400, "400-4C3"),
    VendorCode(BadQuantity, 400, "400-5DC", BAD_QUANTITY),
    VendorCode(BadFaceValue, 400, "400-056"),
    VendorCode(OutOfStock, 400, "400-0C6", NOT_ENOUGH_STOCK),
    VendorCode(KeyReused, 422, "422-000", KEY_REUSED),
    VendorCode(BadIds, 400, "400-67B", BAD_IDS),
    VendorCode(TooManyIds, 400, "400-B32", f"id accepts at most {MAX_IDS} values"),
    VendorCode(RepeatedIds, 400, "400-215", "id values must be unique"),
)


def answer(info: ErrorInfo, exc: Exception) -> tuple[int, str, str]:
    """The status, vendor code and message of an error."""
    for vendor in VENDOR_CODES:
        if isinstance(exc, vendor.kind):
            return vendor.status, vendor.code, vendor.message or exc.message
    if isinstance(exc, InvalidState):
        # A voucher that is not active or holds too little: the request was right, the
        # voucher's state refuses it (``classify`` would say 422).
        return 409, "409-000", exc.message[:1].upper() + exc.message[1:]
    return info.status, f"{info.status}-000", info.message


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    status, code, message = answer(info, exc)
    headers = dict(info.headers)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="bestow"'
    body = {"status": status, "code": code, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)
