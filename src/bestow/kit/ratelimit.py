"""Per-client rate limits with the ``limits`` library.

Two windows per tier, as the Partner API documents them: a burst limit on a moving window and a
quota on a sliding window counter (constant memory per client). Failed authentications are
counted on a one-minute moving window per source address and per claimed identity (client id,
operator id): past ``BESTOW_AUTH_FAILURES_PER_ADDRESS`` or ``..._PER_IDENTITY`` the next attempt is
refused before its credentials are checked, and successful requests are never charged. Memory
storage serves one process; with ``BESTOW_REDIS_URL`` every API process shares one budget. redis
is imported only then: a CLI command builds a limiter it never uses, and importing redis took a
tenth of a second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from bestow.config import RateLimitTier, Settings
from bestow.kit.errors import RateLimited, ServiceUnavailable

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool

# A Redis that stops answering must fail a request, not hang it.
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class _Window:
    item: RateLimitItem
    limiter: MovingWindowRateLimiter | SlidingWindowCounterRateLimiter


ACQUIRE_STAMP = b"local timestamp = tonumber(ARGV[1])"
REDIS_CLOCK_STAMP = (
    b"local now = redis.call('TIME')\n"
    b"local timestamp = tonumber(now[1]) + tonumber(now[2]) / 1000000"
)


def _stamp_with_redis_clock(storage: RedisStorage) -> None:
    """Stamp each moving-window entry with Redis's clock, not the API process's.

    ``limits`` takes ``time.time()`` in the API process and then awaits Redis: a process that
    lags (a busy event loop, a wait for a pooled connection) hands Redis stamps a second old, and
    the window then admits the next burst too (measured by ``bench/load.py``: 9 accepted in one
    second on a 5/s budget). Stamped inside the script, every process shares one clock and the
    budget holds however late a request reaches Redis.
    """
    bridge = storage.bridge
    script = bridge.SCRIPT_ACQUIRE_MOVING_WINDOW
    if ACQUIRE_STAMP not in script:
        raise RuntimeError("limits' moving-window script changed: review _stamp_with_redis_clock")
    bridge.lua_acquire_moving_window = bridge.get_connection().register_script(  # type: ignore[attr-defined]
        script.replace(ACQUIRE_STAMP, REDIS_CLOCK_STAMP)
    )


def redis_storage_uri(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"async+{scheme}://{rest}"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.storage: Storage
        self._redis_pool: ConnectionPool | None = None
        # The errors that mean the storage is unreachable (and the request cannot be counted).
        self._storage_errors: tuple[type[Exception], ...] = (OSError,)
        if settings.redis_url:
            from redis.asyncio import ConnectionPool
            from redis.exceptions import RedisError

            self._storage_errors = (RedisError, OSError)
            self._redis_pool = ConnectionPool.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self.storage = RedisStorage(
                redis_storage_uri(settings.redis_url),
                implementation="redispy",
                key_prefix=f"{settings.redis_prefix}:rl",
                # Passed through to redis.asyncio.Redis; limits' annotation omits it.
                connection_pool=self._redis_pool,  # type: ignore[arg-type]
            )
            _stamp_with_redis_clock(self.storage)
        else:
            self.storage = MemoryStorage()
        moving = MovingWindowRateLimiter(self.storage)
        sliding = SlidingWindowCounterRateLimiter(self.storage)
        self._failure_windows = {
            scope: _Window(RateLimitItemPerMinute(amount, 1), moving)
            for scope, amount in (
                ("address", settings.auth_failures_per_address),
                ("identity", settings.auth_failures_per_identity),
            )
            if amount > 0
        }
        self._tiers: dict[str, list[_Window]] = {}
        for name, tier in settings.rate_limit_tiers.items():
            self._tiers[name] = self._windows(tier, moving, sliding)

    @staticmethod
    def _windows(
        tier: RateLimitTier,
        moving: MovingWindowRateLimiter,
        sliding: SlidingWindowCounterRateLimiter,
    ) -> list[_Window]:
        windows = []
        if tier.per_second:
            windows.append(_Window(RateLimitItemPerSecond(tier.per_second, 1), moving))
        if tier.per_15_minutes:
            windows.append(_Window(RateLimitItemPerMinute(tier.per_15_minutes, 15), sliding))
        return windows

    def has_tier(self, name: str) -> bool:
        return name in self._tiers

    def tier_names(self) -> list[str]:
        return sorted(self._tiers)

    async def hit(self, client_id: str, tier: str) -> None:
        """Charge one request; raise ``RateLimited`` with the response headers when over.

        There is no atomic multi-window hit: the short window is charged first and the long one only
        when it passed, so a refused burst is not charged to the 15-minute quota.
        """
        # A tier removed from the configuration must not lock its clients out: they get the default.
        windows = self._tiers.get(tier)
        if windows is None:
            windows = self._tiers.get("default", [])
        try:
            for window in windows:
                if not await window.limiter.hit(window.item, "client", client_id):
                    raise RateLimited(
                        f"Rate limit exceeded: {window.item.amount} requests per "
                        f"{_describe(window.item)}",
                        headers=await self._headers(window, client_id),
                    )
        except self._storage_errors as exc:
            # Fail closed, but clearly: a request that cannot be counted is not served.
            raise ServiceUnavailable(
                "Rate limiting is unavailable; retry shortly", headers={"Retry-After": "1"}
            ) from exc

    def _failure_keys(self, address: str, identity: str | None) -> list[tuple[_Window, str]]:
        keys = [("address", address), ("identity", identity)]
        return [
            (self._failure_windows[scope], f"{scope}:{key}")
            for scope, key in keys
            if key is not None and scope in self._failure_windows
        ]

    async def check_auth_failures(self, *, address: str, identity: str | None) -> None:
        """Raise ``RateLimited`` when the address or the claimed identity has used up its failed
        authentications of the last minute; charges nothing."""
        try:
            for window, key in self._failure_keys(address, identity):
                if not await window.limiter.test(window.item, "auth-failures", key):
                    raise RateLimited(
                        "Too many failed authentications; retry later",
                        headers=await self._headers(window, key, namespace="auth-failures"),
                    )
        except self._storage_errors as exc:
            raise ServiceUnavailable(
                "Rate limiting is unavailable; retry shortly", headers={"Retry-After": "1"}
            ) from exc

    async def charge_auth_failure(self, *, address: str, identity: str | None) -> None:
        """Count one failed authentication against the address and the claimed identity."""
        try:
            for window, key in self._failure_keys(address, identity):
                await window.limiter.hit(window.item, "auth-failures", key)
        except self._storage_errors as exc:
            raise ServiceUnavailable(
                "Rate limiting is unavailable; retry shortly", headers={"Retry-After": "1"}
            ) from exc

    async def _headers(
        self, window: _Window, client_id: str, *, namespace: str = "client"
    ) -> dict[str, str]:
        stats = await window.limiter.get_window_stats(window.item, namespace, client_id)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return {
            "Retry-After": str(reset),
            "RateLimit-Limit": str(window.item.amount),
            "RateLimit-Remaining": str(max(0, stats.remaining)),
            "RateLimit-Reset": str(reset),
        }

    async def reset(self) -> None:
        """Forget every counter under this limiter's prefix."""
        await self.storage.reset()

    async def close(self) -> None:
        """Close the Redis connections, if any; the limiter is not used afterwards."""
        if self._redis_pool is not None:
            await self._redis_pool.aclose()


def _describe(item: RateLimitItem) -> str:
    if item.multiples == 1:
        return item.GRANULARITY.name
    return f"{item.multiples} {item.GRANULARITY.name}s"
