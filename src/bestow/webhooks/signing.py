"""Webhook signatures: Standard Webhooks for every request, and the Partner API's own header.

Standard Webhooks (https://www.standardwebhooks.com/): ``webhook-signature`` is a space-separated
list of ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per active secret, keyed with
the base64-decoded part of ``whsec_<base64>``. During a rotation both secrets sign, so a receiver
holding either verifies.

``X-Thanx-Signature`` is the hex HMAC-SHA256 of the raw body keyed with the secret string itself
(``whsec_...``), as the vendor's ``OpenSSL::HMAC.hexdigest('sha256', secret, payload)`` example.
It carries one signature: the previous secret's until the rotation overlap ends (receivers still
on it keep working), then the new one's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def is_secret(value: str) -> bool:
    if not value.startswith(PREFIX):
        return False
    try:
        key = base64.b64decode(value.removeprefix(PREFIX), validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def standard_signature(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,`` signature per secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


def thanx_signature(secret: str, body: bytes) -> str:
    """The ``X-Thanx-Signature`` header value."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
