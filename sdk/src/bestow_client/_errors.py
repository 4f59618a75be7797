"""Typed errors: one base class, connection errors, and status errors carrying the status code,
the surface's own error code, the request id and the body."""

from __future__ import annotations

from typing import Any

import httpx


class BestowError(Exception):
    """Every error the SDK raises."""


class APIConnectionError(BestowError):
    """The request did not get an answer (connection refused or reset, DNS, TLS)."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""


class APIStatusError(BestowError):
    """An answer with an error status. ``code`` is the surface's error code (``BAD_REQUEST``,
    ``400-5DC``, ``ValidationError``, ...), ``message`` its message."""

    def __init__(self, response: httpx.Response, body: Any) -> None:
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.request_id = response.headers.get("x-request-id")
        self.code, self.message = _code_and_message(body)
        super().__init__(
            f"{self.status_code} {self.code or ''}: {self.message or response.reason_phrase}"
            + (f" (request {self.request_id})" if self.request_id else "")
        )


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


class InvalidPhoneNumber(BestowError, ValueError):
    """A phone number that cannot be normalised to E.164."""


class WaitTimeout(BestowError):
    """``wait()`` gave up before the job reached a final state."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(response: httpx.Response) -> APIStatusError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = InternalServerError if response.status_code >= 500 else APIStatusError
    return kind(response, body)


def _code_and_message(body: Any) -> tuple[str | None, str | None]:
    """The error code and message of any surface's error body: Partner ``{code, message}``,
    Vouchers ``{status, code, message}``, Loyalty ``{errorCode, errorMessage}``, Operator
    ``{message, responseCode}``, OAuth ``{error, error_description}``."""
    if not isinstance(body, dict):
        return None, None
    code = (
        body.get("code") or body.get("errorCode") or body.get("responseCode") or body.get("error")
    )
    message = body.get("message") or body.get("errorMessage") or body.get("error_description")
    return (str(code) if code is not None else None, str(message) if message is not None else None)
