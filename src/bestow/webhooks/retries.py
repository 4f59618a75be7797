"""When a failed webhook delivery is tried again, and how many times at most.

A module of its own, importing only the standard library, so that the CLI shows the bounds of
``--max-attempts`` without importing the endpoints service (and with it the models).
"""

from __future__ import annotations

from datetime import timedelta

RETRY_SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""When attempt n + 1 runs, counted from the failure of attempt n (attempt 1 runs at once)."""
MAX_ATTEMPTS = len(RETRY_SCHEDULE)
