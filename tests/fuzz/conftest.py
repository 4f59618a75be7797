"""The fuzz run's figures: requests sent and 5xx (and 404) answered per database, printed at
the end of the run (gathered from every pytest-xdist process)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

TOTALS: dict[str, Counter[str]] = {}


def _add(counts: dict[str, dict[str, int]]) -> None:
    for database, figures in counts.items():
        TOTALS.setdefault(database, Counter()).update(figures)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.fuzz.document import COUNTS

    counts = {database: dict(figures) for database, figures in COUNTS.items()}
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["bestow_fuzz"] = counts
    else:
        _add(counts)


def pytest_testnodedown(node: Any, error: Any) -> None:
    _add(getattr(node, "workeroutput", {}).get("bestow_fuzz", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TOTALS:
        return
    terminalreporter.section("fuzzing")
    for database, figures in sorted(TOTALS.items()):
        terminalreporter.write_line(
            f"{database}: {figures['requests']} requests, {figures['5xx']} answered 5xx "
            f"({figures['404']} answered 404)"
        )
