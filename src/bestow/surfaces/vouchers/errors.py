"""The Voucher API's error shape: ``{"status", "code", "message"}`` with the vendor's codes.

The vendor's codes read ``<http status>-<hex>`` (``400-5DC``); errors it gives no code for carry
``<http status>-000``. Clients must tolerate codes they do not know, as the vendor says.
"""

from __future__ import annotations

from bestow.kit.errors import DomainError
from bestow.kit.responses import JSONResponse
from bestow.surfaces.common import ErrorInfo


class VoucherError(DomainError):
    """An error with one of the vendor's codes (``400-9A0``, ``400-BB4``, ...)."""

    code = "voucher"

    def __init__(self, status: int, vendor_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.vendor_code = vendor_code


def render(info: ErrorInfo, exc: Exception) -> JSONResponse:
    if isinstance(exc, VoucherError):
        status, code = exc.status, exc.vendor_code
    else:
        status, code = info.status, f"{info.status}-000"
    headers = dict(info.headers)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="bestow"'
    body = {"status": status, "code": code, "message": info.message}
    return JSONResponse(body, status_code=status, headers=headers)
