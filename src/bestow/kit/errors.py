"""The one domain error hierarchy. Services raise these; each surface maps them to its vendor's
error shape in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Invalid(DomainError):
    """The request is well-formed but breaks a rule."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.field = field


class Conflict(DomainError):
    code = "conflict"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"


class IdempotencyMismatch(DomainError):
    code = "idempotency_mismatch"


class InvalidState(DomainError):
    """The request is valid but the object's current state does not allow it."""

    code = "invalid_state"


class ServiceUnavailable(DomainError):
    """A dependency (database, Redis) does not answer; the request may be retried."""

    code = "unavailable"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or {}
