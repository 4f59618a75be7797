"""The sync (``Bestow``) and async (``AsyncBestow``) clients: one connection pool, one retry
policy and one rate limiter, shared by the surfaces opened on them.

    with Bestow(base_url="http://127.0.0.1:8000", app_name="acme-rewards/1.2") as bestow:
        partner = bestow.partner(client_id="...", access_token="...")
        merchants = partner.merchants()

Settings not given come from the environment: ``BESTOW_BASE_URL``, ``BESTOW_APP_NAME``,
``BESTOW_PARTNER_CLIENT_ID``, ``BESTOW_PARTNER_ACCESS_TOKEN``, ``BESTOW_VOUCHERS_CLIENT_ID``, ...
(each surface's constructor names its own).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from bestow_client._core import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncDriver,
    Budget,
    Config,
    RateLimiter,
    RetryPolicy,
    SyncDriver,
)
from bestow_client.loyalty import AsyncLoyalty, Loyalty, LoyaltyOps
from bestow_client.operator import AsyncOperator, Operator, OperatorOps
from bestow_client.partner import AsyncPartner, Partner, PartnerOps
from bestow_client.vouchers import AsyncVouchers, VoucherOps, Vouchers

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_APP_NAME = "bestow-client-app"
MAX_APP_NAME = 100


def _env(value: str | None, name: str, default: str | None = None) -> str:
    found = value if value is not None else os.environ.get(name, default)
    if not found:
        raise ValueError(f"{name.lower().removeprefix('bestow_')} is required (or set {name})")
    return found


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")
    return value


def _app_name(value: str) -> str:
    """The User-Agent's first product: short printable ASCII, so that nothing else (a whole
    settings document, a credential) can be passed off as an app name and reach every log."""
    if len(value) > MAX_APP_NAME or not all(" " <= c <= "~" for c in value):
        raise ValueError(
            f"app_name must be at most {MAX_APP_NAME} printable ASCII characters,"
            " such as acme-rewards/1.2"
        )
    return value


def _config(
    base_url: str | None,
    app_name: str | None,
    timeout: float,
    max_retries: int,
    budget: Budget | None,
) -> Config:
    return Config(
        base_url=_base_url(_env(base_url, "BESTOW_BASE_URL", DEFAULT_BASE_URL)),
        app_name=_app_name(_env(app_name, "BESTOW_APP_NAME", DEFAULT_APP_NAME)),
        timeout=timeout,
        retry=RetryPolicy(max_retries=max_retries),
        limiter=RateLimiter(budget),
    )


def _partner_ops(
    client_id: str | None, access_token: str | None, options: dict[str, Any]
) -> PartnerOps:
    return PartnerOps(
        client_id=_env(client_id, "BESTOW_PARTNER_CLIENT_ID"),
        access_token=_env(access_token, "BESTOW_PARTNER_ACCESS_TOKEN"),
        **options,
    )


def _voucher_ops(
    client_id: str | None, client_secret: str | None, options: dict[str, Any]
) -> VoucherOps:
    return VoucherOps(
        client_id=_env(client_id, "BESTOW_VOUCHERS_CLIENT_ID"),
        client_secret=_env(client_secret, "BESTOW_VOUCHERS_CLIENT_SECRET"),
        **options,
    )


def _loyalty_ops(
    client_id: str | None, client_secret: str | None, options: dict[str, Any]
) -> LoyaltyOps:
    return LoyaltyOps(
        client_id=_env(client_id, "BESTOW_LOYALTY_CLIENT_ID"),
        client_secret=_env(client_secret, "BESTOW_LOYALTY_CLIENT_SECRET"),
        **options,
    )


def _operator_ops(
    operator_id: int | str | None, shared_key: str | None, options: dict[str, Any]
) -> OperatorOps:
    raw_id = _env(None if operator_id is None else str(operator_id), "BESTOW_OPERATOR_ID")
    try:
        number = int(raw_id)
    except ValueError:
        raise ValueError(f"operator_id must be an integer, not {raw_id!r}") from None
    return OperatorOps(number, _env(shared_key, "BESTOW_OPERATOR_SHARED_KEY"), **options)


class Bestow:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        app_name: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        budget: Budget | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.config = _config(base_url, app_name, timeout, max_retries, budget)
        self.driver = SyncDriver(self.config, http_client)

    def partner(
        self, *, client_id: str | None = None, access_token: str | None = None, **options: Any
    ) -> Partner:
        return Partner(_partner_ops(client_id, access_token, options), self.driver)

    def vouchers(
        self, *, client_id: str | None = None, client_secret: str | None = None, **options: Any
    ) -> Vouchers:
        """The Voucher API; credentials default to ``BESTOW_VOUCHERS_CLIENT_ID`` and
        ``BESTOW_VOUCHERS_CLIENT_SECRET``."""
        return Vouchers(_voucher_ops(client_id, client_secret, options), self.driver)

    def loyalty(
        self, *, client_id: str | None = None, client_secret: str | None = None, **options: Any
    ) -> Loyalty:
        """The Loyalty API; credentials default to ``BESTOW_LOYALTY_CLIENT_ID`` and
        ``BESTOW_LOYALTY_CLIENT_SECRET``."""
        return Loyalty(_loyalty_ops(client_id, client_secret, options), self.driver)

    def operator(
        self, operator_id: int | str | None = None, shared_key: str | None = None, **options: Any
    ) -> Operator:
        """The Operator API, signed with ``shared_key`` (env ``BESTOW_OPERATOR_ID``,
        ``BESTOW_OPERATOR_SHARED_KEY``)."""
        return Operator(_operator_ops(operator_id, shared_key, options), self.driver)

    @property
    def environment(self) -> str | None:
        """``demo``, ``uat`` or ``production``: the environment of the client the last answer
        was for (its ``X-Bestow-Environment`` header); ``None`` before any answer."""
        return self.config.environment

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Bestow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncBestow:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        app_name: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        budget: Budget | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = _config(base_url, app_name, timeout, max_retries, budget)
        self.driver = AsyncDriver(self.config, http_client)

    def partner(
        self, *, client_id: str | None = None, access_token: str | None = None, **options: Any
    ) -> AsyncPartner:
        return AsyncPartner(_partner_ops(client_id, access_token, options), self.driver)

    def operator(
        self, operator_id: int | str | None = None, shared_key: str | None = None, **options: Any
    ) -> AsyncOperator:
        """The Operator API, signed with ``shared_key`` (env ``BESTOW_OPERATOR_ID``,
        ``BESTOW_OPERATOR_SHARED_KEY``)."""
        return AsyncOperator(_operator_ops(operator_id, shared_key, options), self.driver)

    def vouchers(
        self, *, client_id: str | None = None, client_secret: str | None = None, **options: Any
    ) -> AsyncVouchers:
        """The Voucher API; credentials default to ``BESTOW_VOUCHERS_CLIENT_ID`` and
        ``BESTOW_VOUCHERS_CLIENT_SECRET``."""
        return AsyncVouchers(_voucher_ops(client_id, client_secret, options), self.driver)

    def loyalty(
        self, *, client_id: str | None = None, client_secret: str | None = None, **options: Any
    ) -> AsyncLoyalty:
        """The Loyalty API; credentials default to ``BESTOW_LOYALTY_CLIENT_ID`` and
        ``BESTOW_LOYALTY_CLIENT_SECRET``."""
        return AsyncLoyalty(_loyalty_ops(client_id, client_secret, options), self.driver)

    @property
    def environment(self) -> str | None:
        """``demo``, ``uat`` or ``production``: see ``Bestow.environment``."""
        return self.config.environment

    async def close(self) -> None:
        await self.driver.close()

    async def __aenter__(self) -> AsyncBestow:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
