"""Pieces every surface uses: cached discovery data, OAuth tokens renewed before they expire,
idempotency keys, E.164 phone numbers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, TypeVar

import httpx
import phonenumbers

from bestow_client._core import Call, Op
from bestow_client._errors import AuthenticationError, InvalidPhoneNumber

K = TypeVar("K")
V = TypeVar("V")

DISCOVERY_TTL = 300.0
"""How long discovery data (merchants, reward templates, products) is reused: five minutes."""
TOKEN_RENEW_MARGIN = 60.0


class TTLCache(Generic[K, V]):
    """Values kept ``ttl`` seconds, then fetched again."""

    def __init__(self, ttl: float = DISCOVERY_TTL, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            held = self._values.get(key)
            if held is None or self.clock() >= held[0]:
                return None
            return held[1]

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._values[key] = (self.clock() + self.ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class OAuthTokens:
    """Client-credentials tokens (``POST /oauth2/token``), kept until ``TOKEN_RENEW_MARGIN``
    seconds before they expire (or a tenth of their life, if shorter) and then renewed."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_path: str = "/oauth2/token",  # noqa: S107 (a path, not a secret)
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_path = token_path
        self.scope = scope
        self.clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self.issued = 0
        """How many tokens were fetched (for tests and logs)."""

    def headers(self) -> Op[dict[str, str]]:
        if self._token is None or self.clock() >= self._renew_at:
            data = {"grant_type": "client_credentials"}
            if self.scope:
                data["scope"] = self.scope
            response: httpx.Response = yield Call(
                "POST",
                self.token_path,
                data=data,
                auth=(self.client_id, self.client_secret),
            )
            body = response.json()
            lifetime = float(body.get("expires_in", 3600))
            self._token = str(body["access_token"])
            self._renew_at = self.clock() + lifetime - min(TOKEN_RENEW_MARGIN, lifetime / 10)
            self.issued += 1
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        self._token = None


def authed(tokens: OAuthTokens, call: Call) -> Op[httpx.Response]:
    """``call`` with a bearer token; a 401 (a token revoked or expired early) gets one more try
    with a new token."""
    headers = yield from tokens.headers()
    try:
        response: httpx.Response = yield replace(call, headers={**call.headers, **headers})
    except AuthenticationError:
        tokens.invalidate()
        headers = yield from tokens.headers()
        response = yield replace(call, headers={**call.headers, **headers})
    return response


def new_key() -> str:
    """An idempotency key: a random UUID, as the Voucher API demands and the others accept."""
    return str(uuid.uuid4())


def e164(number: str, default_region: str | None = None) -> str:
    """``number`` in E.164 (``+14155550123``); ``InvalidPhoneNumber`` says why it cannot be. A
    number without ``+`` needs ``default_region`` (``"US"``)."""
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"{number!r} is not a phone number: {error}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{number!r} is not a valid phone number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def json_of(response: httpx.Response) -> Any:
    return response.json()
