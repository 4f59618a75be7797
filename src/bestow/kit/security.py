"""Secrets: generation, hashing at rest, constant-time comparison, sealing.

Bearer secrets (access tokens, OAuth client secrets, admin tokens) carry 256 bits of entropy, so
a plain SHA-256 digest is a sound way to keep them at rest (no password stretching needed).
Secrets the server must read back (operator shared keys, webhook signing secrets) are sealed with
Fernet under the deployment's secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bestow.config import Settings


def generate_secret(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, digest: str) -> bool:
    """Constant-time check of a presented secret against its stored digest."""
    return hmac.compare_digest(hash_secret(secret).encode(), digest.encode())


def equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SealError(Exception):
    pass


class Sealer:
    def __init__(self, key: str) -> None:
        derived = hashlib.sha256(b"bestow-seal-v1" + key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.decoy = self.seal(generate_secret())
        """A sealed random value, opened where there is no real secret to open, so that a
        missing secret costs the same work as a present one."""

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SealError("sealed value does not open with this secret key") from exc


def load_secret_key(settings: Settings) -> str:
    """The configured key; outside production, one generated once into ``var/secret.key``."""
    if settings.secret_key:
        return settings.secret_key
    if settings.is_production:
        raise RuntimeError("BESTOW_SECRET_KEY must be set in production")
    path = Path(settings.var_dir) / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
