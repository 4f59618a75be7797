"""What the surfaces' judges share: picking the evidence a report shows and the one-line counts,
and the judge of a rule every request must keep."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bestow.lab.certification.context import Req
from bestow.lab.certification.core import (
    MAX_EVIDENCE,
    Evidence,
    Outcome,
    failed,
    not_exercised,
    passed,
)

JSON = "application/json"


def ends(requests: Sequence[Req]) -> list[Req]:
    """The first and the last request (the one, when there is one)."""
    return [requests[0]] if len(requests) == 1 else [requests[0], requests[-1]]


def proof(requests: Sequence[Req], note: str) -> list[Evidence]:
    """Evidence that a rule held: the first and the last request, each with ``note``."""
    return [Evidence.of(r, note) for r in ends(requests)] if requests else []


def each(requests: Sequence[Req], note: str) -> list[Evidence]:
    """Evidence of the first requests (as many as a report shows), each with ``note``: only
    those are built (a window may hold thousands)."""
    return [Evidence.of(r, note) for r in requests[:MAX_EVIDENCE]]


def plural(count: int, noun: str) -> str:
    """``1 token``, ``2 tokens``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def not_json(r: Req) -> bool:
    """The request's ``Content-Type`` is not ``application/json`` (parameters aside)."""
    return r.values.get("Content-Type", "").split(";", 1)[0].strip().lower() != JSON


def every(
    requests: Sequence[Req], offends: Callable[[Req], bool], *, what: str, held: str, none: str
) -> Outcome:
    """A rule every request keeps: ``fail`` with the first offending requests ("3 of 120
    requests {what}"), else ``pass`` with the first and last ("all 120 requests {held}");
    ``not_exercised`` (``none``) without requests."""
    if not requests:
        return not_exercised(none)
    bad = [r for r in requests if offends(r)]
    if bad:
        return failed(each(bad, what), f"{len(bad)} of {len(requests)} requests {what}")
    return passed(proof(requests, held), f"all {len(requests)} requests {held}")
