"""Bestow's client SDK: sync and async clients for the Partner, Voucher, Loyalty and Operator
APIs that do what a certified integration does (headers, idempotency keys, retries with backoff,
rate limiting, cached discovery, token renewal, request hashes, batch splitting, E.164)."""

from bestow_client._core import Budget, RateLimiter, RetryPolicy
from bestow_client._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BestowError,
    ConflictError,
    InternalServerError,
    InvalidPhoneNumber,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeout,
)
from bestow_client._version import VERSION
from bestow_client.client import AsyncBestow, Bestow

__version__ = VERSION
__all__ = [
    "VERSION",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncBestow",
    "AuthenticationError",
    "BadRequestError",
    "Bestow",
    "BestowError",
    "Budget",
    "ConflictError",
    "InternalServerError",
    "InvalidPhoneNumber",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "RetryPolicy",
    "UnprocessableEntityError",
    "WaitTimeout",
]
