"""The certification's vocabulary: checklists of items, what a judge answers, and the evidence.

An item is *automatic* (judged from the client's traffic and data), *conditional* (judged only
when the integration uses the feature it names: revocation, webhooks; otherwise
``not_exercised`` and not held against the client) or *attested* (a person confirms it; an
admin records the attestation). Each surface's checklist is data: its items, in the vendor's
order and the vendor's words, each automatic or conditional one with its judge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bestow.lab.certification.context import Context, Req

AUTOMATIC = "automatic"
CONDITIONAL = "conditional"
ATTESTED = "attested"
KINDS = (AUTOMATIC, CONDITIONAL, ATTESTED)

PASS = "pass"  # noqa: S105 (a status, not a password)
FAIL = "fail"
NOT_EXERCISED = "not_exercised"
IS_ATTESTED = "attested"
NOT_ATTESTED = "not_attested"
STATUSES = (PASS, FAIL, NOT_EXERCISED, IS_ATTESTED, NOT_ATTESTED)

MAX_EVIDENCE = 5
"""Evidence items shown per item: the first offending requests (or the first proving ones)."""


def stamp(value: datetime) -> str:
    """A time to the millisecond in UTC (``...T12:00:00.250Z``): polling is judged in them."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: a request of the log (its id, time, route and status), or an
    object of the client's data (a job, a campaign, a webhook delivery), with what it shows."""

    note: str
    request_id: str | None = None
    time: datetime | None = None
    method: str | None = None
    route: str | None = None
    status: int | None = None
    object_type: str | None = None
    object_id: str | None = None

    @classmethod
    def of(cls, req: Req, note: str) -> Evidence:
        return cls(
            note=note,
            request_id=req.request_id,
            time=req.time,
            method=req.method,
            route=req.route,
            status=req.status,
        )

    @classmethod
    def object(cls, object_type: str, object_id: str, note: str) -> Evidence:
        return cls(note=note, object_type=object_type, object_id=object_id)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.request_id is not None:
            out["request_id"] = self.request_id
        if self.time is not None:
            out["time"] = stamp(self.time)
        if self.method is not None:
            out["method"] = self.method
        if self.route is not None:
            out["route"] = self.route
        if self.status is not None:
            out["status"] = self.status
        if self.object_type is not None:
            out["object_type"] = self.object_type
            out["object_id"] = self.object_id
        out["note"] = self.note
        return out


@dataclass(frozen=True)
class Outcome:
    """A judge's answer: ``pass``, ``fail`` or ``not_exercised``, with its evidence (at most
    ``MAX_EVIDENCE`` pieces) and a one-line ``detail`` (such as "3 of 120 requests")."""

    status: str
    evidence: tuple[Evidence, ...] = ()
    detail: str | None = None


def passed(evidence: Iterable[Evidence] = (), detail: str | None = None) -> Outcome:
    return Outcome(PASS, tuple(evidence)[:MAX_EVIDENCE], detail)


def failed(evidence: Iterable[Evidence] = (), detail: str | None = None) -> Outcome:
    return Outcome(FAIL, tuple(evidence)[:MAX_EVIDENCE], detail)


def not_exercised(detail: str) -> Outcome:
    return Outcome(NOT_EXERCISED, (), detail)


Judge = Callable[["Context"], Awaitable[Outcome]]
"""An item's judge: reads the window's requests and the client's data from the context."""


@dataclass(frozen=True)
class Item:
    """One checklist item.

    ``text`` is the vendor's own wording (Bestow's, for the surfaces whose vendor publishes no
    checklist); ``advice`` says how to fix a failure; ``exercise`` how to make a
    ``not_exercised`` item judgeable (what the integration's test suite should do)."""

    id: str
    section: str
    text: str
    kind: str
    judge: Judge | None = None
    advice: str = ""
    exercise: str = ""
    feature: str | None = None
    """For a conditional item: the feature it depends on (``revocation``, ``webhooks``)."""

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert (self.judge is None) == (self.kind == ATTESTED), self.id


@dataclass(frozen=True)
class FaultSpec:
    """A fault a certification run schedules (``bestow.lab.faults`` rules, made when the run
    opens and removed when it closes), so that the error-handling items can be judged."""

    kind: str
    count: int
    route: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checklist:
    """A surface's checklist: where its words come from and its items in order."""

    surface: str
    title: str
    source: str
    """``vendor`` (the items' text is the vendor's own) or ``bestow`` (written by Bestow from
    the vendor's documents: the vendor publishes none)."""
    reference: str
    """Where the vendor's words (or the documents they were written from) are published."""
    items: tuple[Item, ...]
    faults: tuple[FaultSpec, ...] = ()

    def __post_init__(self) -> None:
        ids = [item.id for item in self.items]
        assert len(ids) == len(set(ids)), f"duplicate item ids in {self.surface}"
        assert all(i.startswith(f"{self.surface}.") for i in ids), self.surface

    def item(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)
