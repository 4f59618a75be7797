"""The bounded, short-lived cache of successful authentications."""

from __future__ import annotations

import pytest

from bestow.kit import auth_cache
from bestow.kit.auth_cache import AuthCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(auth_cache.time, "monotonic", clock)
    return clock


def test_an_entry_is_kept_for_its_time_to_live_and_then_forgotten(clock: Clock) -> None:
    cache: AuthCache[str] = AuthCache(5)
    cache.put(("client", "credential"), "held")
    clock.now += 4.9
    assert cache.get(("client", "credential")) == "held"
    clock.now += 0.2
    assert cache.get(("client", "credential")) is None


def test_a_time_to_live_of_zero_caches_nothing(clock: Clock) -> None:
    cache: AuthCache[str] = AuthCache(0)
    cache.put(("client",), "held")
    assert cache.get(("client",)) is None


def test_a_full_cache_starts_again_empty(clock: Clock) -> None:
    cache: AuthCache[int] = AuthCache(5, max_entries=2)
    cache.put(("a",), 1)
    cache.put(("b",), 2)
    cache.put(("c",), 3)
    assert cache.get(("a",)) is None
    assert cache.get(("c",)) == 3
