"""The rate limiter, called directly, on process memory and on Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bestow.config import RateLimitTier, Settings
from bestow.kit.errors import RateLimited, ServiceUnavailable
from bestow.kit.ratelimit import RateLimiter
from tests.fixtures import databases

TIERS = {
    "default": RateLimitTier(per_second=5, per_15_minutes=2000),
    "quota": RateLimitTier(per_second=None, per_15_minutes=3),
    "unlimited": RateLimitTier(per_second=None, per_15_minutes=None),
}


@dataclass
class Limiters:
    """Makes limiters on one storage; on Redis, those of one namespace share their counters."""

    redis_url: str | None
    prefix: str
    made: list[RateLimiter] = field(default_factory=list)

    def __call__(self, namespace: str = "shared", **overrides: int) -> RateLimiter:
        settings = Settings(
            redis_url=self.redis_url,
            redis_prefix=f"{self.prefix}-{namespace}",
            rate_limit_tiers=TIERS,
            **overrides,  # type: ignore[arg-type]
        )
        self.made.append(RateLimiter(settings))
        return self.made[-1]


@pytest.fixture(params=["memory", "redis"])
async def limiters(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Limiters]:
    redis = databases.redis_url() if request.param == "redis" else None
    if request.param == "redis" and redis is None:
        pytest.skip("Redis is not available")
    factory = Limiters(redis, f"{redis_prefix}-kit-{uuid.uuid4().hex[:8]}")
    yield factory
    for limiter in factory.made:
        await limiter.reset()
        await limiter.close()


def client() -> str:
    return f"cli_{uuid.uuid4().hex}"


async def hits(limiter: RateLimiter, client_id: str, tier: str, count: int) -> list[bool]:
    """Whether each of ``count`` requests passed."""
    passed = []
    for _ in range(count):
        try:
            await limiter.hit(client_id, tier)
        except RateLimited:
            passed.append(False)
        else:
            passed.append(True)
    return passed


async def test_the_burst_limit_refuses_the_sixth_request_in_a_second(limiters: Limiters) -> None:
    limiter = limiters()
    somebody = client()
    assert await hits(limiter, somebody, "default", 5) == [True] * 5

    with pytest.raises(RateLimited) as refused:
        await limiter.hit(somebody, "default")

    assert refused.value.message == "Rate limit exceeded: 5 requests per second"
    assert refused.value.headers == {
        "Retry-After": "1",
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",
    }


async def test_the_quota_refusal_names_the_quota_and_when_it_frees(limiters: Limiters) -> None:
    limiter = limiters()
    somebody = client()
    assert await hits(limiter, somebody, "quota", 3) == [True] * 3

    with pytest.raises(RateLimited) as refused:
        await limiter.hit(somebody, "quota")

    headers = refused.value.headers
    assert refused.value.message == "Rate limit exceeded: 3 requests per 15 minutes"
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("3", "0")
    # limits approximates the sliding window from fixed 15-minute buckets: just before a bucket
    # boundary the reset it reports can be a second away, so only the range is certain.
    assert 1 <= int(headers["Retry-After"]) <= 15 * 60
    assert headers["RateLimit-Reset"] == headers["Retry-After"]


async def test_a_tier_without_windows_is_never_limited(limiters: Limiters) -> None:
    assert await hits(limiters(), client(), "unlimited", 50) == [True] * 50


async def test_clients_have_separate_budgets(limiters: Limiters) -> None:
    limiter = limiters()
    first, second = client(), client()
    assert await hits(limiter, first, "quota", 4) == [True] * 3 + [False]

    assert await hits(limiter, second, "quota", 3) == [True] * 3


async def test_a_tier_missing_from_the_configuration_falls_back_to_default(
    limiters: Limiters,
) -> None:
    assert await hits(limiters(), client(), "platinum", 6) == [True] * 5 + [False]


async def test_an_unreachable_redis_is_a_clear_503_not_a_crash() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0", rate_limit_tiers=TIERS)
    limiter = RateLimiter(settings)
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            await limiter.hit(client(), "default")
        assert raised.value.headers == {"Retry-After": "1"}
    finally:
        await limiter.close()


async def test_limiters_share_a_budget_only_through_redis(limiters: Limiters) -> None:
    one, other = limiters(), limiters()
    somebody = client()
    assert await hits(one, somebody, "quota", 2) == [True, True]

    expected = [True, False] if limiters.redis_url else [True, True, True, False]
    assert await hits(other, somebody, "quota", len(expected)) == expected


async def test_a_reset_forgets_only_counters_under_its_own_prefix(limiters: Limiters) -> None:
    mine, theirs = limiters("mine"), limiters("theirs")
    somebody = client()
    assert await hits(mine, somebody, "quota", 4) == [True] * 3 + [False]
    assert await hits(theirs, somebody, "quota", 4) == [True] * 3 + [False]

    await mine.reset()

    assert await hits(mine, somebody, "quota", 1) == [True]
    assert await hits(theirs, somebody, "quota", 1) == [False]


async def test_a_lagging_process_cannot_spend_the_budget_twice_on_redis(
    limiters: Limiters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API process whose clock reading reaches Redis late (a busy event loop) is counted by
    Redis's clock: its stale stamps do not open the window to a second burst."""
    if limiters.redis_url is None:
        pytest.skip("the process's own clock is the only clock in memory")
    import limits.aio.storage.redis.redispy as bridge

    real = bridge.time.time
    lag = iter(range(0, 10_000, 2))
    # Each reading two seconds further from the last, as if every request's stamp had waited
    # seconds to reach Redis: stamped by the process, every request would fall in a new window.
    monkeypatch.setattr(bridge.time, "time", lambda: real() - 100 + next(lag))
    limiter = limiters()
    assert await hits(limiter, client(), "default", 12) == [True] * 5 + [False] * 7


async def test_failed_authentications_are_limited_per_address_and_per_identity(
    limiters: Limiters,
) -> None:
    """Two limiters of one namespace: on Redis they share the counts, as API processes do."""
    limits = {"auth_failures_per_address": 2, "auth_failures_per_identity": 2}
    first, second = limiters("auth", **limits), limiters("auth", **limits)
    shared = limiters.redis_url is not None
    await first.check_auth_failures(address="10.0.0.1", identity="cli_a")
    await first.charge_auth_failure(address="10.0.0.1", identity="cli_a")
    await (second if shared else first).charge_auth_failure(address="10.0.0.1", identity="cli_b")
    with pytest.raises(RateLimited) as caught:
        await first.check_auth_failures(address="10.0.0.1", identity="cli_c")
    assert int(caught.value.headers["Retry-After"]) >= 1
    # Another address is free; the identity charged twice (from two addresses) is not.
    await first.check_auth_failures(address="10.0.0.2", identity="cli_b")
    await first.charge_auth_failure(address="10.0.0.3", identity="cli_a")
    with pytest.raises(RateLimited):
        await first.check_auth_failures(address="10.0.0.4", identity="cli_a")
    await first.check_auth_failures(address="10.0.0.4", identity=None)
