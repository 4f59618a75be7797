"""Judging a window: each item of the surface's checklist against the client's requests and
data, then whether the whole passes (``docs/certification.md``).

``passed`` is true when every automatic item passes, every conditional item the integration
exercised passes, and every attested item is attested.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import utcnow
from bestow.kit.errors import Invalid, NotFound
from bestow.lab.certification.checklists import checklist_of
from bestow.lab.certification.context import Context, Window, load_requests
from bestow.lab.certification.core import (
    ATTESTED,
    AUTOMATIC,
    CONDITIONAL,
    FAIL,
    IS_ATTESTED,
    NOT_ATTESTED,
    NOT_EXERCISED,
    PASS,
    Checklist,
    Evidence,
    Item,
    stamp,
)
from bestow.models import Attestation, CertificationRun, Client

log = structlog.get_logger("bestow.certification")

RETENTION_DAYS = 30
"""Without a run nor a window asked for, the last 30 days (the request log's retention)."""


@dataclass(frozen=True)
class ItemResult:
    item: Item
    status: str
    evidence: tuple[Evidence, ...]
    detail: str | None

    @property
    def advice(self) -> str | None:
        if self.status in (FAIL, NOT_ATTESTED):
            return self.item.advice or None
        if self.status == NOT_EXERCISED:
            return self.item.exercise or self.item.advice or None
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "section": self.item.section,
            "text": self.item.text,
            "kind": self.item.kind,
            "status": self.status,
            "evidence": [e.as_json() for e in self.evidence],
            "advice": self.advice,
            "detail": self.detail,
            "feature": self.item.feature,
        }


@dataclass(frozen=True)
class Report:
    client_id: str
    environment: str
    surface: str
    checklist: Checklist
    window: Window
    requests: int
    results: tuple[ItemResult, ...]
    judged_at: datetime

    @property
    def passed(self) -> bool:
        return all(is_held(r) for r in self.results)

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.status for r in self.results))

    def as_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "environment": self.environment,
            "surface": self.surface,
            "window": {
                "since": stamp(self.window.since),
                "until": stamp(self.window.until),
                "source": self.window.source,
                "run_id": self.window.run_id,
                "requests": self.requests,
            },
            "passed": self.passed,
            "summary": {status: n for status, n in sorted(self.counts().items())},
            "checklist": {
                "title": self.checklist.title,
                "source": self.checklist.source,
                "reference": self.checklist.reference,
            },
            "judged_at": stamp(self.judged_at),
            "items": [r.as_json() for r in self.results],
        }


def is_held(result: ItemResult) -> bool:
    """Whether an item stands in the way of ``passed``: automatic items must pass; a
    conditional item must pass once exercised; an attested item must be attested."""
    kind = result.item.kind
    if kind == AUTOMATIC:
        return result.status == PASS
    if kind == CONDITIONAL:
        return result.status in (PASS, NOT_EXERCISED)
    return result.status == IS_ATTESTED


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise Invalid("since must be before until", field="since")


async def latest_run(
    session: AsyncSession, client_id: str, surface: str
) -> CertificationRun | None:
    return await session.scalar(
        select(CertificationRun)
        .where(CertificationRun.client_id == client_id, CertificationRun.surface == surface)
        .order_by(CertificationRun.started_at.desc(), CertificationRun.id.desc())
        .limit(1)
    )


async def window_for(
    session: AsyncSession,
    client_id: str,
    surface: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    run_id: str | None = None,
) -> Window:
    """The window asked for: a run's (``run_id``, or the latest run when neither ``since`` nor
    ``until`` is given), else ``[since, until)`` with the request log's retention and now as
    the defaults."""
    check_window(since, until)
    now = utcnow()
    run: CertificationRun | None = None
    if run_id is not None:
        run = await session.get(CertificationRun, run_id)
        if run is None or run.client_id != client_id:
            raise NotFound(f"no certification run {run_id} of client {client_id}")
        if run.surface != surface:
            raise Invalid(f"run {run_id} certifies the {run.surface} surface", field="surface")
    elif since is None and until is None:
        run = await latest_run(session, client_id, surface)
    if run is not None:
        return Window(run.started_at, run.closed_at or now, run.id, "run")
    source = "given" if since is not None or until is not None else "retention"
    return Window(since or now - timedelta(days=RETENTION_DAYS), until or now, source=source)


_paused = 0
"""How many reports are being judged with the cyclic garbage collector paused."""
_paused_by_us = False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a report is judged.

    A window of 100,000 requests keeps hundreds of thousands of objects alive, and the
    judges make many small ones: each automatic collection then walks them all, a third of
    the CPU of a report (``bench/certification.py``). Nothing judged makes reference cycles
    that matter; reference counting still frees everything at once, and the collector runs
    again (and catches up) when the last report being judged is done. Reports judged at the
    same time share the pause."""
    global _paused, _paused_by_us
    if _paused == 0:
        _paused_by_us = gc.isenabled()
        if _paused_by_us:
            gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0 and _paused_by_us:
            _paused_by_us = False
            gc.enable()


async def judge(session: AsyncSession, client: Client, surface: str, window: Window) -> Report:
    """The report of ``client`` for ``surface`` over ``window``."""
    with _collector_paused():
        return await _judge(session, client, surface, window)


async def _judge(session: AsyncSession, client: Client, surface: str, window: Window) -> Report:
    checklist = checklist_of(surface)
    requests = await load_requests(session, client.id, surface, window)
    ctx = Context(session, client, surface, window, requests)
    attestations = {
        a.item_id: a
        for a in await session.scalars(
            select(Attestation).where(
                Attestation.client_id == client.id, Attestation.surface == surface
            )
        )
    }
    results = []
    for item in checklist.items:
        if item.judge is None:
            results.append(_attested(item, attestations.get(item.id)))
            continue
        outcome = await item.judge(ctx)
        results.append(ItemResult(item, outcome.status, outcome.evidence, outcome.detail))
    return Report(
        client_id=client.id,
        environment=client.environment,
        surface=surface,
        checklist=checklist,
        window=window,
        requests=len(requests),
        results=tuple(results),
        judged_at=utcnow(),
    )


def _attested(item: Item, attestation: Attestation | None) -> ItemResult:
    assert item.kind == ATTESTED
    if attestation is None:
        return ItemResult(item, NOT_ATTESTED, (), None)
    evidence = Evidence(
        note=f"attested by {attestation.attested_by}: {attestation.note}",
        time=attestation.attested_at,
    )
    return ItemResult(item, IS_ATTESTED, (evidence,), None)
