"""Settings: one object, read from ``BESTOW_*`` environment variables."""

from __future__ import annotations

import math
import string
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    """Where a client's traffic belongs (``docs/environments.md``): the demo (evaluation
    credentials, faults on request), UAT (the integration under test) or production."""

    DEMO = "demo"
    UAT = "uat"
    PRODUCTION = "production"


ENVIRONMENT_ALIASES = {"sandbox": Environment.DEMO}
"""Earlier names still accepted in ``BESTOW_ENVIRONMENT``."""


MIN_SECRET_BITS = 256
"""What ``BESTOW_ADMIN_TOKEN`` and ``BESTOW_SECRET_KEY`` must carry in production: 32 bytes."""

_ALPHABETS = (
    (set(string.hexdigits), 4.0),
    (set(string.ascii_letters + string.digits + "-_+/="), 6.0),
)


def estimated_bits(secret: str) -> float:
    """A generous estimate of a secret's entropy: its length times the bits of a character of
    the smallest usual alphabet it is drawn from (hex 4, base64 6, printable 6.5); none at all
    for an evident pattern: fewer than 8 distinct characters, or one character in more than a
    quarter of the places. ``openssl rand -hex 32`` (64 characters) and
    ``secrets.token_urlsafe(32)`` (43) are exactly enough."""
    chars = set(secret)
    if len(chars) < 8 or max(secret.count(c) for c in chars) * 4 > len(secret):
        return 0.0
    per_char = next(
        (bits for alphabet, bits in _ALPHABETS if chars <= alphabet),
        math.log2(len(string.printable)),
    )
    return len(secret) * per_char


class RateLimitTier(BaseModel):
    """Two windows, as the Partner API documents: a short burst and a long quota."""

    per_second: int | None = 5
    per_15_minutes: int | None = 2000


DEFAULT_TIERS: dict[str, RateLimitTier] = {
    "default": RateLimitTier(),
    "high": RateLimitTier(per_second=50, per_15_minutes=50_000),
    "unlimited": RateLimitTier(per_second=None, per_15_minutes=None),
}


class Settings(BaseSettings):
    # A refused value is never echoed: secrets are among them.
    model_config = SettingsConfigDict(
        env_prefix="BESTOW_", extra="ignore", hide_input_in_errors=True
    )

    environment: Environment | None = Field(
        default=None,
        description="Pins the deployment to one environment (`demo`, `uat`, `production`): "
        "every client is of it. Unset: clients of every environment side by side, each "
        "following its own (docs/environments.md).",
    )
    database_url: str = "sqlite+aiosqlite:///./var/bestow.db"
    redis_url: str | None = None
    redis_prefix: str = "bestow"
    admin_token: str | None = Field(default=None, repr=False)
    secret_key: str | None = Field(
        default=None,
        repr=False,
        description="Key that seals secrets the server must read back (operator keys, webhook "
        "secrets). Generated into var/secret.key outside production when unset.",
    )
    var_dir: Path = Path("./var")

    max_body_bytes: int = 5 * 1024 * 1024
    idempotency_ttl_seconds: int = 30 * 24 * 3600
    idempotency_lock_seconds: int = 60
    require_idempotency_keys: bool | None = Field(
        default=None,
        description="Refuse a reward-issuing write sent without its idempotency key (Partner "
        "`X-Idempotency-Key`, Loyalty `Idempotency-Key` or `externalReferenceId`); unset: on in "
        "production, off elsewhere (such a write is answered with a `Warning` header instead).",
    )
    rate_limit_tiers: dict[str, RateLimitTier] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    auth_cache_seconds: float = 5.0
    auth_failures_per_address: int = Field(
        default=20,
        ge=0,
        description="Failed authentications a source address may make per minute on any surface "
        "before its requests answer 429 (0: no limit).",
    )
    auth_failures_per_identity: int = Field(
        default=100,
        ge=0,
        description="Failed authentications per minute against one claimed client id or operator "
        "id, from any address, before that identity answers 429 (0: no limit).",
    )
    issuance_chunk_size: int = Field(
        default=2000,
        ge=1,
        description="Identifiers an issuance job processes (and commits) per transaction.",
    )

    worker_concurrency: int = 4
    worker_poll_seconds: float = 0.5
    worker_lease_seconds: float = 30.0
    worker_imports: list[str] = Field(default_factory=list)
    worker_queues: list[str] = Field(default_factory=lambda: ["default"])

    webhook_dispatch: bool = Field(
        default=True, description="Whether workers deliver webhooks (the dispatcher runs in them)."
    )
    webhook_concurrency: int = Field(default=64, ge=1, description="Requests in flight per worker.")
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a dispatcher holds a delivery it claimed; longer than the timeout.",
    )
    webhook_poll_seconds: float = Field(default=0.25, gt=0)
    webhook_retention_days: int = Field(
        default=30, ge=1, description="Days settled deliveries and their events are kept."
    )
    webhook_secret_overlap_seconds: int = Field(
        default=24 * 3600, ge=0, description="How long a rotated-out secret keeps signing."
    )

    oauth_token_seconds: int = Field(
        default=3600, ge=60, le=86400, description="Lifetime of an OAuth access token."
    )
    oauth_issuer: str = Field(default="bestow", description="The `iss` claim of access tokens.")

    loyalty_session_idle_seconds: int = Field(
        default=1800,
        ge=60,
        description="Loyalty API sessions end after this long without a call.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where recipients reach this deployment: the base of voucher links.",
    )

    http_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="`bestow serve`: a request's line and headers must arrive within this long "
        "of the connection opening or of the request's first byte (else 408 and closed).",
    )
    http_keep_alive_seconds: int = Field(
        default=5,
        ge=1,
        description="`bestow serve`: an idle connection between two requests is closed after "
        "this long; behind a proxy, make it longer than the proxy's upstream keep-alive.",
    )
    http_max_connections: int = Field(
        default=1000,
        ge=1,
        description="`bestow serve`: connections (and requests in progress) one server process "
        "holds at once; beyond, a connection is answered 503 and closed.",
    )
    http_max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="`bestow serve`: the longest request line and headers accepted (else 431).",
    )

    request_log: bool = Field(
        default=True,
        description="Record the requests of clients on the client surfaces (`bestow requests`, "
        "`GET /admin/requests`; docs/lab.md).",
    )
    request_log_production_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="The share of production clients' requests recorded (0: none; demo and UAT "
        "clients' are all recorded).",
    )
    request_log_days: int = Field(
        default=30, ge=1, description="Days demo and UAT clients' requests are kept."
    )
    request_log_production_days: int = Field(
        default=7, ge=1, description="Days the recorded production requests are kept."
    )

    db_pool_size: int = 10
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_alias(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if not value:
                return None
            return ENVIRONMENT_ALIASES.get(value, value)
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        return value

    @model_validator(mode="after")
    def _lease_outlives_timeout(self) -> Settings:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must be longer than webhook_timeout_seconds")
        return self

    @model_validator(mode="after")
    def _strong_secrets_in_production(self) -> Settings:
        if not self.is_production:
            return self
        if not self.secret_key:
            raise ValueError("BESTOW_SECRET_KEY must be set in production")
        weak = [
            name
            for name, value in (
                ("BESTOW_ADMIN_TOKEN", self.admin_token),
                ("BESTOW_SECRET_KEY", self.secret_key),
            )
            if value is not None and estimated_bits(value) < MIN_SECRET_BITS
        ]
        if weak:
            raise ValueError(
                f"{' and '.join(weak)} must carry at least 32 bytes of entropy in production: "
                "use a random value such as the output of `openssl rand -hex 32`"
            )
        return self

    @property
    def is_production(self) -> bool:
        """The deployment is pinned to production: its own secrets are held to production's
        rules. A client's environment-dependent behaviour follows the client
        (``bestow.lab.environments``), not this."""
        return self.environment is Environment.PRODUCTION

    def requires_idempotency_keys(self, environment: str) -> bool:
        """Whether a reward-issuing write of a client of ``environment`` needs its key."""
        if self.require_idempotency_keys is None:
            return environment == Environment.PRODUCTION
        return self.require_idempotency_keys

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
