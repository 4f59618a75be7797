"""Verifying Bestow's webhook requests (``docs/webhooks.md``, "Verifying signatures").

Every request is signed with Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64>``, keyed with the base64 part of the ``whsec_...`` secret, with a
five-minute replay window): ``verify()``. Partner API events also carry the vendor's
``X-Thanx-Signature``, the hex HMAC-SHA256 of the raw body keyed with the secret string exactly as
shown (``whsec_`` included), with no timestamp: ``verify_thanx()``. ``verify_any()`` takes either
scheme and several secrets, for the overlap of a secret rotation.

Always verify the raw body bytes as received, before parsing them.

    event = verify(request_body, request_headers, secret)   # raises WebhookVerificationError
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _StandardError

from bestow_client._errors import BestowError

THANX_HEADER = "x-thanx-signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookVerificationError(BestowError):
    """A webhook request whose signature does not verify (or that cannot be read)."""


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _event(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise WebhookVerificationError(f"the payload is not JSON: {error}") from error
    if not isinstance(event, dict):
        raise WebhookVerificationError("the payload is not a JSON object")
    return event


def verify(payload: bytes, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The event (``{"event", "timestamp", "data"}``) of a request whose Standard Webhooks
    signature verifies with ``secret`` (``whsec_...``) and whose timestamp is within five
    minutes; ``WebhookVerificationError`` otherwise. ``headers`` may be any mapping (names are
    matched case-insensitively)."""
    try:
        Webhook(secret).verify(payload, _lower(headers), json_parse=False)
    except (_StandardError, EmptyWebhookSecretError, ValueError, TypeError) as error:
        # ValueError covers a malformed secret or signature (base64, "v1,..." split) and a body
        # that is not UTF-8.
        raise WebhookVerificationError(f"invalid webhook signature: {error}") from error
    return _event(payload)


def thanx_signature(payload: bytes, secret: str) -> str:
    """The ``X-Thanx-Signature`` of ``payload``: hex HMAC-SHA256 keyed with the secret string."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def verify_thanx(payload: bytes, signature: str, secret: str) -> bool:
    """Whether ``signature`` (an ``X-Thanx-Signature`` value) is the HMAC of ``payload`` with
    ``secret``, compared in constant time. It has no timestamp: it does not protect against
    replays."""
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(thanx_signature(payload, secret).encode(), given)


def verify_any(
    payload: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    thanx: bool = True,
) -> dict[str, Any]:
    """The event of a request signed with any of ``secrets`` (the old and the new one during a
    rotation). When the request has Standard Webhooks headers, they decide (with their replay
    window); ``X-Thanx-Signature`` is used only for a request without them, and only when
    ``thanx`` is true (it cannot refuse a replayed request). ``WebhookVerificationError`` when no
    secret verifies."""
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not one string")
    if not secrets:
        raise ValueError("secrets is empty")
    lowered = _lower(headers)
    if any(name in lowered for name in STANDARD_HEADERS):
        errors = []
        for secret in secrets:
            try:
                return verify(payload, lowered, secret)
            except WebhookVerificationError as error:
                errors.append(str(error))
        raise WebhookVerificationError(
            f"no secret verifies the webhook signature ({len(secrets)} tried): {errors[-1]}"
        )
    signature = lowered.get(THANX_HEADER)
    if thanx and signature is not None:
        # Every secret is tried (no short cut), so timing does not tell which one matched.
        if any([verify_thanx(payload, signature, secret) for secret in secrets]):
            return _event(payload)
        raise WebhookVerificationError(
            f"no secret verifies the X-Thanx-Signature ({len(secrets)} tried)"
        )
    raise WebhookVerificationError("the request carries no webhook signature")
