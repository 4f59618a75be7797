"""Access tokens: JWTs (HS256) that carry the client and the scopes it was granted.

A client exchanges its id and an OAuth secret (a credential of kind ``oauth_secret``) for a token
at ``POST /oauth2/token`` (RFC 6749 client credentials grant), then sends it as
``Authorization: Bearer`` to the Voucher and Loyalty APIs. The token is signed with a key derived
from the deployment's secret key, so it is checked without a database read; the client's status
and scopes, and the credential that minted the token (its ``cred`` claim), are still checked on
every use, so suspending a client, removing a scope or revoking the secret takes effect before
its tokens expire.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from bestow.kit.errors import Unauthenticated

ALGORITHM = "HS256"
TOKEN_USE = "access"  # noqa: S105 - a claim value, not a secret
LEEWAY_SECONDS = 5


def signing_key(secret_key: str) -> bytes:
    """The HMAC key of tokens, derived from the deployment's secret key (never the key itself)."""
    return hashlib.sha256(b"bestow-access-token-v1" + secret_key.encode()).digest()


@dataclass(frozen=True)
class AccessToken:
    client_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    token_id: str
    credential_id: str

    @property
    def expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())


def issue(
    key: bytes,
    *,
    client_id: str,
    credential_id: str,
    scopes: list[str],
    issuer: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> tuple[str, AccessToken]:
    """A signed token and what it says."""
    issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
    token = AccessToken(
        client_id=client_id,
        scopes=tuple(sorted(set(scopes))),
        issued_at=issued_at,
        expires_at=issued_at + lifetime,
        token_id=uuid.uuid4().hex,
        credential_id=credential_id,
    )
    claims = {
        "iss": issuer,
        "sub": client_id,
        "client_id": client_id,
        "scope": " ".join(token.scopes),
        "token_use": TOKEN_USE,
        "iat": int(issued_at.timestamp()),
        "exp": int(token.expires_at.timestamp()),
        "jti": token.token_id,
        "cred": credential_id,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), token


def verify(key: bytes, token: str, *, issuer: str) -> AccessToken:
    """What a token says, or ``Unauthenticated`` when it is malformed, forged, expired, or not
    an access token of this deployment."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            # A token without ``cred`` (minted before it existed) cannot be tied to a secret
            # that may since have been revoked: it is refused, and the client asks for another.
            options={"require": ["exp", "iat", "iss", "sub", "jti", "cred"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("The access token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("The access token is invalid") from exc
    if claims.get("token_use") != TOKEN_USE or not isinstance(claims.get("scope", ""), str):
        raise Unauthenticated("The access token is invalid")
    return AccessToken(
        client_id=str(claims["sub"]),
        scopes=tuple(str(claims.get("scope", "")).split()),
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        token_id=str(claims["jti"]),
        credential_id=str(claims["cred"]),
    )
