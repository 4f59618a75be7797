"""Thanx's checklist, the sections judged from the traffic alone: API Headers & General,
Discovery, Rate Limits and Submission Format."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from itertools import islice, pairwise

from sqlalchemy import select

from bestow.lab import environments
from bestow.lab.certification import judging
from bestow.lab.certification.context import Context, Req
from bestow.lab.certification.core import (
    ATTESTED,
    AUTOMATIC,
    MAX_EVIDENCE,
    Evidence,
    Item,
    Outcome,
    failed,
    not_exercised,
    passed,
)
from bestow.lab.certification.judging import ends as _ends
from bestow.models import Campaign, IssuanceJob

HEADERS_SECTION = "API Headers & General"
ACCEPT_VERSION = "v4.0"

MERCHANTS = "GET /partner/merchants"
TEMPLATES = "GET /partner/reward_templates"
TEMPLATE = "GET /partner/reward_templates/{template_id}"
DISCOVERY_ENDPOINTS = frozenset({MERCHANTS, TEMPLATES, TEMPLATE})
CREATE_CAMPAIGN = "POST /partner/campaigns"
ISSUE = "POST /partner/campaigns/issue"
OPERATIONS = frozenset({CREATE_CAMPAIGN, ISSUE})
"""What discovery serves: creating a campaign (it names a merchant and reward templates) and
issuing rewards (for a merchant)."""
DISCOVERY_ROUTES = frozenset(e.split(" ", 1)[1] for e in DISCOVERY_ENDPOINTS)
OPERATION_ROUTES = frozenset(e.split(" ", 1)[1] for e in OPERATIONS)
JOB_ROUTE = "/partner/issuance_jobs/{job_id}"
JOB_POLL = f"GET {JOB_ROUTE}"

READS = frozenset({"GET", "HEAD", "OPTIONS"})
DUPLICATE_READ_SECONDS = 2.0
"""An identical read repeated this soon after a 2xx answer to it is a needless duplicate."""
POLL_MIN_INTERVAL = 1.0
"""Thanx: no rapid polling; the issue: a job is polled at most once a second."""
TIMING_SLACK = 0.05
"""Seconds of clock and rounding slack granted to every timing rule (a client that sleeps
exactly one second between polls may be measured at 0.999 s)."""
POLL_PATIENCE = 5
"""A job polled more than this many times must be polled with backoff."""
POLL_GROWTH, POLL_GROWN = 1.25, 2
"""Backoff in polling: at least 2 of the client's pauses between polls reach 1.25 times the
first pause (2, so that one slow moment does not pass for backoff)."""
PER_SECOND, PER_15_MINUTES = 5, 2000
"""Thanx's global rate limits: 5 requests per second and 2,000 per 15 minutes."""
RETRY_AFTER_DEFAULT = 1.0
"""The wait owed after a 429 that named no ``Retry-After`` (Bestow always names one)."""
BACKOFF_GROWTH = 1.2
"""After a repeated 429, the wait is at least this many times the previous one (a doubling
backoff with up to 20% jitter passes; a constant wait does not)."""


def _every(ctx: Context, wanted: str, offends: Callable[[Req], bool], what: str) -> Outcome:
    """Pass when no Partner request offends (``judging.every``)."""
    return judging.every(
        _partner(ctx),
        offends,
        what=what,
        held=f"carry {wanted}",
        none="no Partner API request in the window",
    )


async def authorization(ctx: Context) -> Outcome:
    return _every(
        ctx, "Authorization", lambda r: "Authorization" not in r.headers, "lack Authorization"
    )


async def client_id(ctx: Context) -> Outcome:
    return _every(ctx, "X-ClientId", lambda r: "X-ClientId" not in r.headers, "lack X-ClientId")


def _wrong_version(r: Req) -> bool:
    return r.values.get("Accept-Version") != ACCEPT_VERSION


async def accept_version(ctx: Context) -> Outcome:
    return _every(
        ctx,
        f"Accept-Version: {ACCEPT_VERSION}",
        _wrong_version,
        f"lack Accept-Version: {ACCEPT_VERSION}",
    )


def _no_json_type(r: Req) -> bool:
    return r.has_body and judging.not_json(r)


async def content_type(ctx: Context) -> Outcome:
    return _every(
        ctx,
        "Content-Type: application/json (requests with a body)",
        _no_json_type,
        "have a body without Content-Type: application/json",
    )


async def user_agent(ctx: Context) -> Outcome:
    return _every(ctx, "User-Agent", lambda r: not r.values.get("User-Agent"), "lack User-Agent")


HEADER_ITEMS: tuple[Item, ...] = (
    Item(
        "partner.headers.authorization",
        HEADERS_SECTION,
        "All requests include `Authorization` header (Bearer token)",
        AUTOMATIC,
        authorization,
        advice="Send `Authorization: Bearer <token>` on every request.",
    ),
    Item(
        "partner.headers.client_id",
        HEADERS_SECTION,
        "All requests include `X-ClientId` header",
        AUTOMATIC,
        client_id,
        advice="Send your client id in `X-ClientId` on every request.",
    ),
    Item(
        "partner.headers.accept_version",
        HEADERS_SECTION,
        "All requests include `Accept-Version: v4.0` header",
        AUTOMATIC,
        accept_version,
        advice="Send `Accept-Version: v4.0` on every request (set it once on your HTTP client).",
    ),
    Item(
        "partner.headers.content_type",
        HEADERS_SECTION,
        "All requests include `Content-Type: application/json` header",
        AUTOMATIC,
        content_type,
        advice="Send `Content-Type: application/json` with every request that has a body.",
    ),
    Item(
        "partner.headers.user_agent",
        HEADERS_SECTION,
        "All requests include `User-Agent` header",
        AUTOMATIC,
        user_agent,
        advice="Send a `User-Agent` naming your integration and its version on every request.",
    ),
)

# Shared facts of the window, computed once per report (``ctx.memo``).


def arrival(r: Req) -> float:
    """When the request arrived (seconds): the log keeps when it was answered and how long it
    took."""
    return r.t - r.latency_ms / 1000


def _partner(ctx: Context) -> list[Req]:
    found: list[Req] | None = ctx.memo.get("partner.requests")
    if found is None:
        found = list(ctx.of_surface())
        ctx.memo["partner.requests"] = found
    return found


def _by_arrival(ctx: Context) -> list[Req]:
    """The Partner requests in the order they arrived (the log's order is of the answers)."""
    found: list[Req] | None = ctx.memo.get("partner.by_arrival")
    if found is None:
        found = sorted(_partner(ctx), key=arrival)
        ctx.memo["partner.by_arrival"] = found
    return found


def _pairs(pairs: Iterable[tuple[Req, str, Req, str]]) -> list[Evidence]:
    """Evidence of the first pairs (an earlier request, then the one that broke the rule):
    only as many as the report keeps are built (a window may hold thousands)."""
    out: list[Evidence] = []
    for first, first_note, then, then_note in islice(pairs, MAX_EVIDENCE // 2):
        out += [Evidence.of(first, first_note), Evidence.of(then, then_note)]
    return out


def _seconds(value: float) -> str:
    return f"{value:.3f} s"


# API Headers & General: duplicates, errors, polling.


async def no_duplicates(ctx: Context) -> Outcome:
    """A needless duplicate is a request sent again unchanged (same fingerprint) once an
    earlier one had been answered 2xx and received, either a write that was done again
    (answered 2xx and not an idempotent replay: a second effect), or a read within
    ``DUPLICATE_READ_SECONDS`` of that answer. Job polling is judged by ``frequency``."""
    requests = _partner(ctx)
    if not requests:
        return not_exercised("no Partner API request in the window")
    # By fingerprint: the latest 2xx answer the client got, and how many operations (campaign
    # creations, issues) had been sent by then.
    answered: dict[str, tuple[Req, int]] = {}
    found: list[tuple[Req, Req, float]] = []
    operations = 0
    for r in requests:
        fp = r.fingerprint
        if fp is None or (r.route == JOB_ROUTE and r.method == "GET"):
            continue
        seen = answered.get(fp)
        if seen is not None:
            earlier, before = seen
            gap = arrival(r) - earlier.t
            if gap >= 0 and (
                (
                    r.method in READS
                    and gap < DUPLICATE_READ_SECONDS
                    # Discovery fetched again between operations is `cached`'s business.
                    and (r.route not in DISCOVERY_ROUTES or before == operations)
                )
                or (r.method not in READS and r.ok and not r.replayed)
            ):
                found.append((earlier, r, gap))
        if r.method == "POST" and r.route in OPERATION_ROUTES:
            operations += 1
        if r.ok and r.fault != "lost_answer":
            answered[fp] = (r, operations)
    if found:
        return failed(
            _pairs(
                (
                    earlier,
                    "answered 2xx",
                    r,
                    f"the same read again {_seconds(gap)} after that answer"
                    if r.method in READS
                    else f"the same write again {_seconds(gap)} later, done a second time",
                )
                for earlier, r, gap in found
            ),
            f"{len(found)} of {len(requests)} requests repeat an answered request needlessly",
        )
    return passed(
        (Evidence.of(r, "no needless repeat") for r in _ends(requests)),
        f"none of {len(requests)} requests repeats an answered one needlessly",
    )


def _error(r: Req) -> bool:
    """A client error the request itself caused: a 4xx but a 429 (wait and retry) and a 409
    "still in flight" (the same keyed request being handled: retry after ``Retry-After``)."""
    if not 400 <= r.status < 500 or r.status == 429:
        return False
    return not (r.status == 409 and r.retry_after is not None)


async def errors_handled(ctx: Context) -> Outcome:
    """Fail when a request that met a client error is sent again unchanged (same fingerprint)
    and meets the same error (status and code) again: retrying it changed nothing. A request
    sent again once the cause is gone (a revocation refused while the job ran, retried once it
    completed; a missing header added) does not meet it again."""
    requests = _partner(ctx)
    errors = [r for r in requests if _error(r)]
    if not errors:
        return not_exercised("no Partner API request met a client error (4xx) in the window")
    failing: dict[str, Req] = {}
    found: list[tuple[Req, Req]] = []
    for r in requests:
        if r.fingerprint is None:
            continue
        before = failing.get(r.fingerprint)
        if (
            before is not None
            and arrival(r) >= before.t
            and (r.status, r.error_code) == (before.status, before.error_code)
        ):
            found.append((before, r))
        if _error(r):
            failing[r.fingerprint] = r
        else:
            failing.pop(r.fingerprint, None)
    if found:
        return failed(
            _pairs(
                (
                    before,
                    f"{before.status} {before.error_code or ''}".strip(),
                    r,
                    "sent again unchanged, failed the same way",
                )
                for before, r in found
            ),
            f"{len(found)} of {len(errors)} client errors were retried unchanged",
        )
    return passed(
        (Evidence.of(r, "not retried unchanged") for r in errors[:MAX_EVIDENCE]),
        f"{len(errors)} client errors met, none retried unchanged",
    )


async def frequency(ctx: Context) -> Outcome:
    """Each job's polls (Get Issuance Job, by job; a revocation starts a new run of them): never
    two arriving within
    ``POLL_MIN_INTERVAL`` (less ``TIMING_SLACK``), and a job polled more than
    ``POLL_PATIENCE`` times polled with backoff (``POLL_GROWN`` of the pauses between polls at
    least ``POLL_GROWTH`` times the first pause)."""
    # A job's polls, in runs: a write on the job (its revocation) starts a new run of polls,
    # and the first read after it may follow the last read before it closely.
    runs: dict[str, list[list[Req]]] = defaultdict(lambda: [[]])
    for r in _by_arrival(ctx):
        if not r.object_id:
            continue
        if r.endpoint == JOB_POLL:
            runs[r.object_id][-1].append(r)
        elif r.method != "GET" and r.object_id in runs and runs[r.object_id][-1]:
            runs[r.object_id].append([])
    polls = [(job_id, seen) for job_id, job_runs in runs.items() for seen in job_runs if seen]
    if not polls:
        return not_exercised("no issuance job polled (Get Issuance Job) in the window")
    rapid: list[tuple[str, Req, Req, float]] = []
    flat: list[Evidence] = []
    total = sum(len(seen) for _, seen in polls)
    for job_id, seen in polls:
        for a, b in pairwise(seen):
            gap = arrival(b) - arrival(a)
            if gap < POLL_MIN_INTERVAL - TIMING_SLACK:
                rapid.append((job_id, a, b, gap))
        if len(seen) > POLL_PATIENCE:
            # The client's pauses: from a poll's answer to the next poll (a slow answer does
            # not look like backoff).
            pauses = [arrival(b) - a.t for a, b in pairwise(seen)]
            grown = sum(1 for p in pauses[1:] if p >= POLL_GROWTH * pauses[0])
            if grown < POLL_GROWN:
                flat += [
                    Evidence.of(seen[0], f"first poll of {job_id}"),
                    Evidence.of(
                        seen[-1],
                        f"poll {len(seen)}: pauses {_seconds(min(pauses))} to "
                        f"{_seconds(max(pauses))}, never backed off",
                    ),
                ]
    if rapid or flat:
        parts = []
        if rapid:
            parts.append(f"{len(rapid)} polls came within {POLL_MIN_INTERVAL:g} s of the last")
        if flat:
            parts.append(
                f"{len(flat) // 2} jobs polled more than {POLL_PATIENCE} times without backoff"
            )
        pairs = (
            (a, f"polled {job_id}", b, f"polled again {_seconds(gap)} later")
            for job_id, a, b, gap in rapid
        )
        return failed([*_pairs(pairs), *flat], "; ".join(parts))
    slowest = max((seen for _, seen in polls), key=len)
    return passed(
        (Evidence.of(r, "poll") for r in _ends(slowest)),
        f"{total} polls of {len(runs)} jobs, at least {POLL_MIN_INTERVAL:g} s apart"
        " and backing off",
    )


GENERAL: tuple[Item, ...] = (
    Item(
        "partner.general.no_duplicates",
        HEADERS_SECTION,
        "No unnecessary duplicate API requests",
        AUTOMATIC,
        no_duplicates,
        advice="Do not send a request again once it was answered: keep what a read answered "
        f"(do not read the same thing again within {DUPLICATE_READ_SECONDS:g} s), and never "
        "repeat a write that succeeded; repeat a write only when its answer was lost, with the "
        "same `X-Idempotency-Key`.",
    ),
    Item(
        "partner.general.errors_handled",
        HEADERS_SECTION,
        "Error messages handled gracefully",
        AUTOMATIC,
        errors_handled,
        advice="Read the error's `code` and act on it: fix the request (a 400 or 422), look "
        "the object up (a 404), or wait until its state allows it; never send a request that "
        "failed with a 4xx again unchanged. Retry only 429, 409 in flight and 5xx.",
        exercise="Make the test suite meet an error and handle it, e.g. ask for an unknown "
        "campaign (404) or revoke a job still processing (422).",
    ),
    Item(
        "partner.general.frequency",
        HEADERS_SECTION,
        "API requests issued at a reasonable frequency (no rapid polling)",
        AUTOMATIC,
        frequency,
        advice=f"Poll Get Issuance Job at most once a second, backing off (e.g. 1 s, then x1.5 "
        f"up to 10 s) when a job is polled more than {POLL_PATIENCE} times; or subscribe to "
        "webhooks instead.",
        exercise="Make the test suite issue rewards and follow the job to a terminal state by "
        "polling Get Issuance Job.",
    ),
)
HEADERS: tuple[Item, ...] = (*HEADER_ITEMS, *GENERAL)
"""The section API Headers & General, in the vendor's order."""


# Discovery.


def _operations(ctx: Context) -> list[Req]:
    """Campaign creations and issues, a retry (the same fingerprint as the operation just
    before) counted once."""
    found: list[Req] | None = ctx.memo.get("partner.operations")
    if found is None:
        found = []
        for r in _partner(ctx):
            if r.endpoint in OPERATIONS:
                if found and found[-1].fingerprint == r.fingerprint:
                    continue
                found.append(r)
        ctx.memo["partner.operations"] = found
    return found


async def merchants(ctx: Context) -> Outcome:
    """Get Merchants answered 2xx, before the first campaign creation or issue."""
    requests = _partner(ctx)
    calls = [r for r in requests if r.endpoint == MERCHANTS and r.ok]
    operations = _operations(ctx)
    if not calls and not operations:
        return not_exercised("neither Get Merchants nor a campaign creation or issue")
    if operations and (not calls or calls[0].t > arrival(operations[0])):
        return failed(
            [Evidence.of(operations[0], "first operation, before any Get Merchants")],
            "no Get Merchants before the first campaign creation or issue",
        )
    proof = [Evidence.of(calls[0], "merchants discovered")]
    if operations:
        proof.append(Evidence.of(operations[0], "first operation, after discovery"))
    return passed(proof, f"Get Merchants called {len(calls)} times")


async def _merchant_of(ctx: Context, operations: Sequence[Req]) -> dict[str, str]:
    """The merchant of each successful operation's object (campaign or job), by object id:
    the client's objects made during the window in one query per kind, then any left (a
    replay of a job made before the window) by id."""
    out: dict[str, str] = {}
    since = ctx.window.since - timedelta(minutes=5)
    for model, endpoint in ((Campaign, CREATE_CAMPAIGN), (IssuanceJob, ISSUE)):
        ids = {r.object_id for r in operations if r.endpoint == endpoint and r.object_id}
        if not ids:
            continue
        rows = await ctx.session.execute(
            select(model.id, model.merchant_id).where(
                model.client_id == ctx.client.id,
                model.created_at >= since,
                model.created_at < ctx.window.until,
            )
        )
        out.update({i: m for i, m in rows if m and i in ids})
        left = sorted(ids - out.keys())
        for start in range(0, len(left), 500):
            rows = await ctx.session.execute(
                select(model.id, model.merchant_id).where(
                    model.id.in_(left[start : start + 500]), model.client_id == ctx.client.id
                )
            )
            out.update({i: m for i, m in rows if m})
    return out


async def templates(ctx: Context) -> Outcome:
    """For each merchant the client created a campaign or issued for (successfully), List
    Reward Templates of that merchant answered 2xx before that merchant's first operation."""
    requests = _partner(ctx)
    listed: dict[str, Req] = {}
    for r in requests:
        if r.endpoint == TEMPLATES and r.ok and r.object_id:
            listed.setdefault(r.object_id, r)
    done = [r for r in _operations(ctx) if r.ok and r.object_id]
    if not done:
        if listed:
            return passed(
                (Evidence.of(r, f"templates of {m} listed") for m, r in listed.items()),
                f"templates listed for {len(listed)} merchants; no campaign or issue yet",
            )
        return not_exercised("no campaign created nor rewards issued in the window")
    merchant_of = await _merchant_of(ctx, done)
    first: dict[str, Req] = {}
    for r in done:
        merchant = merchant_of.get(r.object_id or "")
        if merchant is not None:
            first.setdefault(merchant, r)
    missing = [(m, r) for m, r in first.items() if m not in listed or listed[m].t > arrival(r)]
    if missing:
        return failed(
            (
                Evidence.of(r, f"for merchant {m}, whose templates were not listed before")
                for m, r in missing
            ),
            f"{len(missing)} of {len(first)} merchants operated on without listing their "
            "reward templates first",
        )
    return passed(
        (Evidence.of(listed[m], f"templates of {m} listed") for m in first),
        f"templates listed for each of the {len(first)} merchants operated on",
    )


async def cached(ctx: Context) -> Outcome:
    """With two operations or more, fail when discovery (Get Merchants, List or Get Reward
    Template) came between every two consecutive operations; pass when at least once an
    operation reused what was discovered before the previous one."""
    operations = _operations(ctx)
    if len(operations) < 2:
        return not_exercised("fewer than 2 campaign creations or issues in the window")
    discovery = [arrival(r) for r in _by_arrival(ctx) if r.endpoint in DISCOVERY_ENDPOINTS]
    rediscovered: list[tuple[Req, str, Req, str]] = []
    for before, op in pairwise(operations):
        # A discovery call that arrived after the previous operation and before this one.
        i = bisect_right(discovery, arrival(before))
        if i < len(discovery) and discovery[i] < arrival(op):
            rediscovered.append((before, "operation", op, "preceded by discovery again"))
            continue
        return passed(
            [
                Evidence.of(before, "operation"),
                Evidence.of(op, "next operation, without discovering again"),
            ],
            f"discovery reused across operations ({len(operations)} operations)",
        )
    return failed(
        _pairs(rediscovered),
        f"discovery repeated before each of {len(operations) - 1} operations after the first",
    )


DISCOVERY_SECTION = "Discovery"
DISCOVERY: tuple[Item, ...] = (
    Item(
        "partner.discovery.merchants",
        DISCOVERY_SECTION,
        "Get Merchants endpoint called to retrieve accessible merchants",
        AUTOMATIC,
        merchants,
        advice="Call Get Merchants (`GET /partner/merchants`) before creating campaigns or "
        "issuing rewards, and act only for the merchants it lists.",
        exercise="Make the test suite start with Get Merchants.",
    ),
    Item(
        "partner.discovery.templates",
        DISCOVERY_SECTION,
        "List Reward Templates endpoint called for each merchant to discover available "
        "reward templates",
        AUTOMATIC,
        templates,
        advice="Call List Reward Templates (`GET /partner/reward_templates?merchant_id=...`) "
        "for each merchant before creating its campaigns or issuing for it.",
        exercise="Make the test suite list a merchant's reward templates, then create a "
        "campaign for it.",
    ),
    Item(
        "partner.discovery.cached",
        DISCOVERY_SECTION,
        "Merchant and reward template data cached and refreshed periodically (not fetched on "
        "every operation)",
        AUTOMATIC,
        cached,
        advice="Cache the merchants and reward templates (e.g. for a few minutes) and reuse "
        "them across campaign creations and issues instead of fetching them before each.",
        exercise="Make the test suite do at least two operations (create a campaign, then "
        "issue rewards).",
    ),
)


# Rate Limits.


def _over(times: Sequence[float], limit: int, span: float) -> list[int]:
    """The indexes of the requests that were the (limit+1)-th within ``span`` seconds."""
    out = []
    for i in range(limit, len(times)):
        if times[i] - times[i - limit] < span:
            out.append(i)
    return out


def _busiest(times: Sequence[float], span: float) -> int:
    most, start = 0, 0
    for i, t in enumerate(times):
        while t - times[start] >= span:
            start += 1
        most = max(most, i - start + 1)
    return most


def _limiter_429(r: Req) -> bool:
    """A 429 of the rate limiter itself (an injected ``rate_limit`` fault is not the client's
    doing)."""
    return r.status == 429 and r.rate_limited and r.fault != "rate_limit"


async def respected(ctx: Context) -> Outcome:
    """At most ``PER_SECOND`` requests in any second and ``PER_15_MINUTES`` in any 15 minutes
    (sliding windows over the Partner requests' arrivals), and no 429 of the rate limiter."""
    requests = _by_arrival(ctx)
    if not requests:
        return not_exercised("no Partner API request in the window")
    times = [arrival(r) for r in requests]
    burst = _over(times, PER_SECOND, 1.0)
    quota = _over(times, PER_15_MINUTES, 900.0)
    refused = [r for r in requests if _limiter_429(r)]
    if burst or quota or refused:
        evidence = [
            *(
                Evidence.of(requests[i], f"request {PER_SECOND + 1} within 1 s")
                for i in burst[:MAX_EVIDENCE]
            ),
            *(
                Evidence.of(requests[i], f"request {PER_15_MINUTES + 1} within 15 minutes")
                for i in quota[:MAX_EVIDENCE]
            ),
            *(Evidence.of(r, "refused by the rate limiter (429)") for r in refused[:MAX_EVIDENCE]),
        ]
        parts = []
        if burst:
            parts.append(f"{len(burst)} requests over {PER_SECOND} per second")
        if quota:
            parts.append(f"{len(quota)} over {PER_15_MINUTES} per 15 minutes")
        if refused:
            parts.append(f"{len(refused)} refused by the rate limiter")
        return failed(evidence, "; ".join(parts))
    return passed(
        (Evidence.of(r, "within the rate limits") for r in _ends(requests)),
        f"{len(requests)} requests; at most {_busiest(times, 1.0)} in any second and "
        f"{_busiest(times, 900.0)} in any 15 minutes",
    )


async def backoff(ctx: Context) -> Outcome:
    """After each 429 (the rate limiter's or an injected ``rate_limit``), the client's next
    request arrives at least its ``Retry-After`` later (less ``TIMING_SLACK``); when that
    request is refused with a 429 again, the wait after it is at least ``BACKOFF_GROWTH``
    times the one before."""
    requests = _by_arrival(ctx)
    refusals = [i for i, r in enumerate(requests) if r.status == 429]
    if not refusals:
        return not_exercised("no 429 met in the window")
    times = [arrival(r) for r in requests]
    found: list[tuple[Req, str, Req, str]] = []
    waits: list[Evidence] = []
    previous: tuple[int, float] | None = None  # the last 429's index and the wait after it
    for i in refusals:
        refused = requests[i]
        j = bisect_right(times, refused.t, lo=i + 1)
        if j >= len(requests):
            previous = None
            continue
        after = requests[j]
        wait = times[j] - refused.t
        owed = refused.retry_after if refused.retry_after is not None else RETRY_AFTER_DEFAULT
        note = f"429 asking to wait {owed:g} s"
        if wait < owed - TIMING_SLACK:
            found.append((refused, note, after, f"sent {_seconds(wait)} after the 429"))
        elif previous is not None and previous[0] == i and wait < BACKOFF_GROWTH * previous[1]:
            found.append(
                (
                    refused,
                    f"429 again, after a wait of {_seconds(previous[1])}",
                    after,
                    f"sent {_seconds(wait)} after it: the wait did not grow",
                )
            )
        else:
            waits += [
                Evidence.of(refused, note),
                Evidence.of(after, f"sent {_seconds(wait)} later"),
            ]
        previous = (j, wait) if after.status == 429 else None
    if found:
        return failed(
            _pairs(found), f"{len(found)} of {len(refusals)} 429s not waited out with backoff"
        )
    return passed(waits, f"each of {len(refusals)} 429s waited out, waits growing on repeats")


RATE_LIMITS_SECTION = "Rate Limits"
RATE_LIMITS: tuple[Item, ...] = (
    Item(
        "partner.rate_limits.respected",
        RATE_LIMITS_SECTION,
        "Rate limits respected: max 5 requests/second, 2,000 requests/15 minutes",
        AUTOMATIC,
        respected,
        advice="Pace requests on the client: at most 5 in any second and 2,000 in any 15 "
        "minutes for the client id (a sliding-window limiter shared by every process).",
    ),
    Item(
        "partner.rate_limits.backoff",
        RATE_LIMITS_SECTION,
        "429 Too Many Requests handled with exponential backoff retry strategy",
        AUTOMATIC,
        backoff,
        advice="After a 429 send nothing until `Retry-After` has passed; when the retry is "
        "refused again, wait longer each time (exponential backoff, e.g. doubling).",
        exercise="Run the test suite under `bestow certify run --faults`, which makes two "
        "issue requests answer 429 with `Retry-After: 1`.",
    ),
)


# Submission Format.

SUBMISSION_SECTION = "Submission Format"


async def sandbox(ctx: Context) -> Outcome:
    """The client is a demo or UAT (sandbox) client, with Partner traffic in the window."""
    requests = _partner(ctx)
    environment = ctx.client.environment
    if environments.is_production(environment):
        return failed(
            [Evidence.object("client", ctx.client.id, "a production client")],
            "a production client: certify the organisation's UAT or demo client",
        )
    if not requests:
        return not_exercised("no Partner API request in the window")
    return passed(
        (Evidence.of(r, f"sent by a {environment} client") for r in _ends(requests)),
        f"{len(requests)} requests of a {environment} client",
    )


async def logs(ctx: Context) -> Outcome:
    """Bestow's equivalent of Thanx's DataDog logs is its request log: every call of the
    window is in it, and each can be looked up by its own request id. Fail when requests share
    a request id (the client sent the same ``X-Request-Id`` on several)."""
    requests = _partner(ctx)
    if environments.is_production(ctx.client.environment):
        return not_exercised("a production client makes no sandbox calls")
    if not requests:
        return not_exercised("no Partner API request in the window")
    first: dict[str, Req] = {}
    shared: list[tuple[Req, str, Req, str]] = []
    for r in requests:
        if r.request_id in first:
            shared.append((first[r.request_id], "request id", r, "the same request id again"))
        else:
            first[r.request_id] = r
    if shared:
        return failed(
            _pairs(shared),
            f"{len(shared)} of {len(requests)} requests reuse another's request id",
        )
    return passed(
        (Evidence.of(r, "in the request log under its request id") for r in _ends(requests)),
        f"all {len(requests)} requests in the request log, each under its own request id",
    )


SUBMISSION: tuple[Item, ...] = (
    Item(
        "partner.submission.sandbox",
        SUBMISSION_SECTION,
        "Integration tested against Thanx Sandbox environment",
        AUTOMATIC,
        sandbox,
        advice="Test with the organisation's UAT (or demo) client's credentials, never a "
        "production client's.",
        exercise="Run the test suite with the UAT client's credentials.",
    ),
    Item(
        "partner.submission.logs",
        SUBMISSION_SECTION,
        "All sandbox API calls visible in DataDog logs",
        AUTOMATIC,
        logs,
        advice="Send no `X-Request-Id`, or a new one on every request, so that each call can be "
        "found in the request log (`bestow requests`, `GET /admin/requests?request_id=...`).",
        exercise="Run the test suite with the UAT client's credentials.",
    ),
    Item(
        "partner.submission.demo",
        SUBMISSION_SECTION,
        "Ready to demo on a video call: discovery, campaign creation, reward issuance, job "
        "monitoring, error handling, revocation (if applicable)",
        ATTESTED,
        advice="Walk the partner's team through the flow live, then have an admin attest it.",
    ),
)
