"""A short-lived, bounded cache of successful authentications.

Hashing the presented secret and comparing it is cheap; the database round trip is not. A cached
entry lives ``BESTOW_AUTH_CACHE_SECONDS`` (5 s by default), which bounds how long a revoked
credential or a changed scope can still be seen by one process.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

V = TypeVar("V")


class AuthCache(Generic[V]):
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[tuple[str, ...], tuple[float, V]] = {}

    def get(self, key: tuple[str, ...]) -> V | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: tuple[str, ...], value: V) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
