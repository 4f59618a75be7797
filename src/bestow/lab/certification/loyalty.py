"""The Loyalty API's checklist, written by Bestow from ES Loyalty's documents
(exchangesolutionsinc.github.io/es-user-docs): the vendor publishes no certification list.

Each item's rule is in ``docs/certification-loyalty.md``. The judges read the window's requests:
the Loyalty API's (``/client``) and the OAuth token endpoint's, and what the routes noted of
them in ``body.counts`` (``surfaces/loyalty``): whether an award carried an
``externalReferenceId`` (``reference``), and which rule a refusal broke (``refused_amount``,
``refused_reward``, ``refused_business_unit``, ``refused_query``, ``session_unknown``)."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

from bestow.config import get_settings
from bestow.lab.certification.context import Context, Req
from bestow.lab.certification.core import (
    ATTESTED,
    AUTOMATIC,
    CONDITIONAL,
    MAX_EVIDENCE,
    Checklist,
    Evidence,
    FaultSpec,
    Item,
    Outcome,
    failed,
    not_exercised,
    passed,
)
from bestow.lab.certification.judging import each as _each
from bestow.lab.certification.judging import ends as _ends
from bestow.lab.certification.judging import not_json as _not_json
from bestow.lab.certification.judging import plural as _n

AWARD = "POST /client/users/{correlation_id}/adhoc-reward/"
AWARD_ROUTES = (AWARD, "POST /client/users/{correlation_id}/adhoc-reward")
"""The ad hoc reward, with and without its trailing slash (both are served)."""
HISTORY = "GET /client/users/{correlation_id}/transactions/history/v2"
SESSION = "POST /client/users/{identifier}/sessions"
GRANT = "POST /oauth2/token"

RENEW_SECONDS = 60.0
"""A token may be renewed in the last minute of its life (or its last tenth, if longer)."""
WASTED_TOKENS = 2
"""Tokens thrown away while valid after at most one call each, from which the item fails."""
READ_REPEAT_SECONDS = 1.0
"""The same read (method, path, query) sent again sooner than this is needless."""
RETRY_SECONDS = 60.0
"""A request refused with a documented error, sent again unchanged within this, is a retry."""
TOLERANCE_SECONDS = 0.05
"""Of the times in the request log (each taken when the answer was written)."""
BACKOFF_GROWTH = 1.5
"""After the k-th 429 in a row, the wait is at least ``Retry-After`` times this to the k-1."""
DOCUMENTED_ERRORS = frozenset({400, 403, 404, 405, 413, 415, 422})
"""The Loyalty API's refusals a client must not repeat as they are (not 409 or 429: those say
"try again"; 401s are not logged, having named no client)."""

AUTH = "Authentication"
GENERAL = "Headers & General"
SESSIONS = "Sessions & History"
AWARDS = "Ad Hoc Rewards"
RULES = "Reward Rules"
ERRORS = "Errors & Rate Limits"
SUBMISSION = "Submission"


def _loyalty(ctx: Context) -> list[Req]:
    memo = ctx.memo.get("loyalty.requests")
    if memo is None:
        memo = ctx.memo["loyalty.requests"] = list(ctx.of_surface())
    return list(memo)


def _awards(ctx: Context) -> list[Req]:
    return list(ctx.on(*AWARD_ROUTES))


def _start(r: Req) -> float:
    """When the request arrived: its answer's time less its latency."""
    return r.t - r.latency_ms / 1000


def _flagged(
    requests: list[Req], flags: Iterable[str], what: str, proof: str, none: str
) -> Outcome:
    """Fail on the requests a route flagged (one of ``flags``); else pass on the others."""
    if not requests:
        return not_exercised(none)
    names = tuple(flags)
    bad = [r for r in requests if any(r.count(name) for name in names)]
    if bad:
        return failed(_each(bad, what), f"{len(bad)} of {len(requests)} requests {what}")
    good = [r for r in requests if r.ok] or requests
    return passed(
        (Evidence.of(r, proof) for r in _ends(good)),
        f"none of {len(requests)} requests {what}",
    )


# Authentication


async def bearer(ctx: Context) -> Outcome:
    requests = _loyalty(ctx)
    if not requests:
        return not_exercised("no Loyalty API request in the window")
    bad = [r for r in requests if "Authorization" not in r.headers or r.status in (401, 403)]
    if bad:
        return failed(
            (
                Evidence.of(
                    r,
                    "no Authorization header"
                    if "Authorization" not in r.headers
                    else f"refused {r.status}: the token lacks the loyalty.adhoc_reward scope",
                )
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {len(requests)} requests not authenticated as documented",
        )
    grants = [r for r in ctx.on(GRANT) if r.ok]
    proof = [Evidence.of(g, "access token obtained at the token endpoint") for g in grants[:1]]
    proof += [Evidence.of(r, "Authorization: Bearer, accepted") for r in _ends(requests)]
    return passed(proof, f"all {len(requests)} requests carry an accepted bearer token")


async def token_reuse(ctx: Context) -> Outcome:
    requests = _loyalty(ctx)
    if not requests:
        return not_exercised("no Loyalty API request in the window")
    grants = [r for r in ctx.on(GRANT) if r.ok]
    lifetime = float(get_settings().oauth_token_seconds)
    renew = max(RENEW_SECONDS, lifetime / 10)
    times = [r.t for r in requests]  # in order: the window's requests are sorted by time
    wasted: list[Req] = []
    for grant, following in itertools.pairwise(grants):
        still_valid = following.t < grant.t + lifetime - renew
        served = bisect.bisect_left(times, following.t) - bisect.bisect_left(times, grant.t)
        if still_valid and served <= 1:
            wasted.append(following)
    detail = f"{_n(len(grants), 'token')} fetched for {_n(len(requests), 'Loyalty API request')}"
    if len(wasted) >= WASTED_TOKENS:
        return failed(
            (
                Evidence.of(r, "a new token fetched while the previous one was valid, after "
                            "at most one call with it")
                for r in wasted
            ),
            f"{detail}; {len(wasted)} fetched while the previous one was still valid",
        )  # fmt: skip
    proof = [Evidence.of(g, "access token fetched") for g in grants[:2]]
    proof += [Evidence.of(r, "a call on a reused token") for r in requests[-1:]]
    return passed(proof, detail)


# Headers & General


async def content_type(ctx: Context) -> Outcome:
    bodies = [r for r in _loyalty(ctx) if r.has_body]
    if not bodies:
        return not_exercised("no Loyalty API request with a body in the window")
    bad = [r for r in bodies if _not_json(r)]
    what = "have a body without Content-Type: application/json"
    if bad:
        return failed(_each(bad, what), f"{len(bad)} of {len(bodies)} requests {what}")
    return passed(
        (Evidence.of(r, "body sent as application/json") for r in _ends(bodies)),
        f"all {len(bodies)} requests with a body carry Content-Type: application/json",
    )


def _needless(before: Req, again: Req) -> bool:
    """A read sent again within a second of the same one's answer; not a retry after a 429 or
    a 5xx (the backoff item judges those) nor after a lost answer."""
    if before.status == 429 or before.status >= 500 or before.fault is not None:
        return False
    return _start(again) - before.t < READ_REPEAT_SECONDS - TOLERANCE_SECONDS


async def frequency(ctx: Context) -> Outcome:
    requests = _loyalty(ctx)
    if not requests:
        return not_exercised("no Loyalty API request in the window")
    bad: list[tuple[Req, str]] = []
    throttled = 0
    repeated = 0
    last_read: dict[str, Req] = {}
    for r in requests:
        if r.rate_limited and r.fault is None:
            throttled += 1
            bad.append((r, "over the client's rate limit (429 from the rate limiter)"))
        if r.method == "GET" and r.fingerprint is not None:
            before = last_read.get(r.fingerprint)
            if before is not None and _needless(before, r):
                repeated += 1
                gap = max(0.0, _start(r) - before.t)
                bad.append((r, f"the same read again {gap:.2f} s after the last"))
            last_read[r.fingerprint] = r
    if bad:
        return failed(
            (Evidence.of(r, note) for r, note in bad[:MAX_EVIDENCE]),
            f"{throttled} requests over the rate limit, {repeated} reads repeated within 1 s",
        )
    span = requests[-1].t - _start(requests[0])
    return passed(
        (Evidence.of(r, "within the rate limit") for r in _ends(requests)),
        f"{len(requests)} requests in {span:.1f} s, none rate-limited, no read repeated within 1 s",
    )


# Sessions & History


async def sessions(ctx: Context) -> Outcome:
    calls = [r for r in _loyalty(ctx) if r.endpoint in (*AWARD_ROUTES, HISTORY)]
    if not calls:
        return not_exercised("no ad hoc reward nor history read in the window")
    bad = [r for r in calls if r.count("session_unknown")]
    what = "name no open session (Could not find the account)"
    if bad:
        return failed(_each(bad, what), f"{len(bad)} of {len(calls)} requests {what}")
    opened = [r for r in ctx.on(SESSION) if r.ok]
    proof = [Evidence.of(r, "session opened") for r in opened[:1]]
    proof += [Evidence.of(r, "in an open session") for r in _ends(calls)]
    return passed(proof, f"all {len(calls)} awards and reads name an open session")


async def history(ctx: Context) -> Outcome:
    reads = list(ctx.on(HISTORY))
    outcome = _flagged(
        reads,
        ("refused_query",),
        "have a query refused (limit, transactionId, from or to)",
        "history read as documented",
        "no transaction history read in the window",
    )
    if outcome.status != "pass":
        return outcome
    paged = [r for r in reads if r.count("paged") and r.ok]
    proof = [Evidence.of(r, "history read") for r in reads[:1]]
    proof += [Evidence.of(r, "next page read with transactionId") for r in paged[:1]]
    return passed(proof, f"{len(reads)} reads, {len(paged)} of them a next page")


# Ad Hoc Rewards


async def reference(ctx: Context) -> Outcome:
    awards = _awards(ctx)
    if not awards:
        return not_exercised("no ad hoc reward in the window")
    bad = [r for r in awards if not r.count("reference")]
    what = "lack an externalReferenceId"
    if bad:
        return failed(_each(bad, what), f"{len(bad)} of {len(awards)} awards {what}")
    return passed(
        (Evidence.of(r, "carries an externalReferenceId") for r in _ends(awards)),
        f"all {len(awards)} awards carry an externalReferenceId",
    )


async def retry(ctx: Context) -> Outcome:
    awards = _awards(ctx)
    lost = [r for r in awards if r.fault == "lost_answer"]
    if not lost:
        return not_exercised("no award's answer was lost in the window")
    by_key: dict[str, list[Req]] = {}
    for a in awards:
        if a.idempotency_key is not None:
            by_key.setdefault(a.idempotency_key, []).append(a)
    bad: list[Evidence] = []
    proof: list[Evidence] = []
    unkeyed = [r for r in lost if r.idempotency_key is None]
    bad += _each(unkeyed, "answer lost, and no externalReferenceId to retry with")
    for same in by_key.values():
        for j, r in enumerate(same):
            if r.fault != "lost_answer":
                continue
            later = same[j + 1 :]
            recovered = next((a for a in later if a.ok and (a.replayed or not r.ok)), None)
            if not later:
                bad.append(Evidence.of(r, "answer lost, not retried with its externalReferenceId"))
            elif recovered is None:
                bad.append(Evidence.of(later[-1], "retried, but never answered as a replay"))
            elif len(proof) < MAX_EVIDENCE:
                proof.append(Evidence.of(r, "answer lost"))
                proof.append(Evidence.of(recovered, "retried with the same externalReferenceId: "
                                         "replayed, credited once"))  # fmt: skip
    if bad:
        return failed(bad, f"{len(bad)} of {len(lost)} lost answers not recovered")
    return passed(proof, f"{_n(len(lost), 'lost answer')} recovered with the same reference")


# Reward Rules


async def amounts(ctx: Context) -> Outcome:
    return _flagged(
        _awards(ctx),
        ("refused_amount",),
        "were refused for their amount (not a non-zero integer, over the reward's maximum, "
        "or a deduction over the balance)",
        "amount accepted",
        "no ad hoc reward in the window",
    )


async def rewards(ctx: Context) -> Outcome:
    return _flagged(
        _awards(ctx),
        ("refused_reward", "refused_business_unit"),
        "named a reward or business unit the programme does not have",
        "reward and business unit of the programme",
        "no ad hoc reward in the window",
    )


async def reference_unique(ctx: Context) -> Outcome:
    awards = [r for r in _awards(ctx) if r.idempotency_key is not None]
    if not awards:
        return not_exercised("no ad hoc reward with an externalReferenceId in the window")
    bodies: dict[str, set[str]] = {}
    bad = []
    for r in awards:
        assert r.idempotency_key is not None
        seen = bodies.setdefault(r.idempotency_key, set())
        digest = str(r.body.get("sha256", ""))
        if r.replayed and seen and digest not in seen:
            bad.append(r)
        seen.add(digest)
    what = "reused an externalReferenceId for another award: nothing was credited"
    if bad:
        return failed(_each(bad, what), f"{_n(len(bad), 'award')} {what}")
    return passed(
        (Evidence.of(r, "its own externalReferenceId") for r in _ends(awards)),
        f"{len(bodies)} references, each for one award",
    )


# Errors & Rate Limits


async def errors_not_retried(ctx: Context) -> Outcome:
    requests = _loyalty(ctx)
    met = [r for r in requests if r.status in DOCUMENTED_ERRORS and r.fault != "lost_answer"]
    if not met:
        return not_exercised("no documented error (400, 403, 404, 415, 422) met in the window")
    bad = []
    pending: dict[str, Req] = {}
    """The last error met of each fingerprint, until the same request is sent again."""
    for r in requests:
        if r.fingerprint is None:
            continue
        error = pending.get(r.fingerprint)
        if error is not None and r.t > error.t:
            del pending[r.fingerprint]
            if _start(r) - error.t < RETRY_SECONDS:
                bad.append(r)
        if r.status in DOCUMENTED_ERRORS and r.fault != "lost_answer":
            pending[r.fingerprint] = r
    what = "sent again unchanged after a documented error"
    if bad:
        return failed(_each(bad, what), f"{_n(len(bad), 'request')} {what}")
    return passed(
        (
            Evidence.of(r, f"{r.error_code or r.status} met, not repeated unchanged")
            for r in met[:MAX_EVIDENCE]
        ),
        f"{_n(len(met), 'documented error')} met, none retried unchanged",
    )


async def backoff(ctx: Context) -> Outcome:
    requests = _loyalty(ctx)
    limited = [i for i, r in enumerate(requests) if r.status == 429]
    if not limited:
        return not_exercised("no 429 answered in the window")
    bad: list[Evidence] = []
    proof: list[Evidence] = []
    streak: dict[int, int] = {}
    """For a 429 that answered the retry after an earlier 429: how many in a row it makes."""
    for i in limited:
        r = requests[i]
        following = next(
            (
                j
                for j in range(i + 1, len(requests))
                if _start(requests[j]) >= r.t - TOLERANCE_SECONDS
            ),
            None,
        )
        if following is None:
            continue
        n = requests[following]
        wait = _start(n) - r.t
        row = streak.get(i, 1)
        if n.status == 429:
            streak[following] = row + 1
        asked = r.retry_after or 0.0
        needed = asked * BACKOFF_GROWTH ** (row - 1)
        which = f"the 429 no. {row} in a row" if row > 1 else "a 429"
        if wait < needed - TOLERANCE_SECONDS:
            bad.append(
                Evidence.of(
                    n,
                    f"sent {max(wait, 0):.2f} s after {which} (Retry-After {asked:g} s): "
                    f"at least {needed:.2f} s expected",
                )
            )
        else:
            proof.append(Evidence.of(n, f"waited {wait:.2f} s after {which} "
                                     f"(Retry-After {asked:g} s)"))  # fmt: skip
    if bad:
        return failed(bad, f"{len(bad)} of {len(limited)} 429s not waited out as asked")
    if not proof:
        return not_exercised("no request followed a 429 in the window")
    return passed(proof, f"{len(limited)} 429s, each waited out, longer on repeats")


ITEMS: tuple[Item, ...] = (
    Item(
        "loyalty.auth.bearer",
        AUTH,
        "Every request is authenticated with an OAuth 2.0 access token from the token endpoint "
        "(`Authorization: Bearer`, scope `loyalty.adhoc_reward`)",
        AUTOMATIC,
        bearer,
        advice="Obtain a token with the client credentials grant (`POST /oauth2/token`) and send "
        "`Authorization: Bearer <token>` on every Loyalty API request; ask for the "
        "`loyalty.adhoc_reward` scope.",
        exercise="Call the Loyalty API (open a session, award points) in the window.",
    ),
    Item(
        "loyalty.auth.token_reuse",
        AUTH,
        "The access token is reused until it expires, not fetched before every call",
        AUTOMATIC,
        token_reuse,
        advice="Keep the token and its `expires_in`; fetch a new one only shortly before it "
        "expires (or after a 401), not before each request.",
        exercise="Call the Loyalty API in the window.",
    ),
    Item(
        "loyalty.headers.content_type",
        GENERAL,
        "Requests with a body carry `Content-Type: application/json`",
        AUTOMATIC,
        content_type,
        advice="Send `Content-Type: application/json` with every POST (sessions, ad hoc rewards).",
        exercise="Open a session or award points in the window.",
    ),
    Item(
        "loyalty.general.frequency",
        GENERAL,
        "Requests are sent at a reasonable frequency: within the client's rate limit, and the "
        "same read not repeated within a second",
        AUTOMATIC,
        frequency,
        advice="Pace the calls within the client's rate limit, and keep what a read answered "
        "instead of asking again at once (no tight polling of the history).",
        exercise="Call the Loyalty API in the window.",
    ),
    Item(
        "loyalty.sessions.open",
        SESSIONS,
        "A session is started (`POST /client/users/:identifier/sessions`) before the "
        "member's calls (awards, history), which name it by its `correlationId` while it is "
        "open",
        AUTOMATIC,
        sessions,
        advice="Start a session for the member first and use its `correlationId` in the path; "
        "start it again (same `correlationId`) after it has been idle too long.",
        exercise="Start a session and award points (or read the history) in it.",
    ),
    Item(
        "loyalty.history.read",
        SESSIONS,
        "Transaction history is read as documented: `limit` at most 150, the next page asked "
        "with the last `transactionId`, `from`/`to` in epoch milliseconds",
        CONDITIONAL,
        history,
        advice="Send `limit` from 1 to 150, `transactionId` from the previous page "
        "(`nextTransactionId`), and `from`/`to` as epoch milliseconds with `from` before `to`.",
        exercise="Judged only if the integration reads the history "
        "(`GET /client/users/:correlation_id/transactions/history/v2`).",
        feature="history",
    ),
    Item(
        "loyalty.awards.reference",
        AWARDS,
        "Every ad hoc reward carries an `externalReferenceId`",
        AUTOMATIC,
        reference,
        advice="Send your own record's id (an order, a claim) as `externalReferenceId` on every "
        "award and deduction: a repeat then credits nothing more.",
        exercise="Award points in the window.",
    ),
    Item(
        "loyalty.awards.retry",
        AWARDS,
        "An ad hoc reward whose answer was lost is retried with the same "
        "`externalReferenceId`, and credits once",
        AUTOMATIC,
        retry,
        advice="When an award times out or its connection drops, send the same request again "
        "with the same `externalReferenceId` (and body); the answer is the first transaction.",
        exercise="Run with faults (`bestow certify run ... --faults`): an award's answer is "
        "lost, and the integration must retry it.",
    ),
    Item(
        "loyalty.rules.amounts",
        RULES,
        "Award and deduction amounts are valid: a non-zero integer within the reward's "
        "per-transaction maximum, and a deduction no larger than the balance",
        AUTOMATIC,
        amounts,
        advice="Check the amount before sending: an integer, not 0, at most the reward's "
        "maximum either way, and for a deduction at most the balance the session shows.",
        exercise="Award points in the window.",
    ),
    Item(
        "loyalty.rules.rewards",
        RULES,
        "Rewards are awarded per their rules: an enabled `rewardId` of the programme, in a "
        "business unit of the member's programme named literally",
        AUTOMATIC,
        rewards,
        advice="Use the reward identifiers and business unit names agreed with the programme, "
        "exactly as given (case and spaces count).",
        exercise="Award points in the window.",
    ),
    Item(
        "loyalty.rules.reference_unique",
        RULES,
        "An `externalReferenceId` names one award: it is never reused for a different award",
        AUTOMATIC,
        reference_unique,
        advice="Derive the reference from the record the award is for; a new award needs a new "
        "reference (a reused one returns the first transaction and credits nothing).",
        exercise="Award points with an `externalReferenceId` in the window.",
    ),
    Item(
        "loyalty.errors.not_retried",
        ERRORS,
        "Each documented error met is handled: the request is corrected, not retried unchanged",
        AUTOMATIC,
        errors_not_retried,
        advice="Read `errorCode` and `errorMessage`: a 400 `INVALID_REQUEST` will be answered "
        "again to the same request; fix the request or surface the error.",
        exercise="Meet a documented error in the window, for example an award for an inactive "
        "account (`Account is not active`) or a session for an unknown member.",
    ),
    Item(
        "loyalty.errors.backoff",
        ERRORS,
        "429 Too Many Requests is handled: the next request waits at least `Retry-After`, "
        "and longer on each repeat (exponential backoff)",
        AUTOMATIC,
        backoff,
        advice="On a 429, wait `Retry-After` seconds before sending again, and back off "
        "exponentially (1 s, 2 s, 4 s...) while 429s repeat.",
        exercise="Run with faults (`bestow certify run ... --faults`): two 429s are answered.",
    ),
    Item(
        "loyalty.submission.demo",
        SUBMISSION,
        "Ready to demo: a member's session, ad hoc awards and deductions, the transaction "
        "history, error handling and recovery",
        ATTESTED,
        advice="Walk the programme's team through the flow live, then have an admin attest it.",
    ),
)

CHECKLIST = Checklist(
    surface="loyalty",
    title="Loyalty API (ES Loyalty): Bestow's integration checklist",
    source="bestow",
    reference="Written by Bestow from ES Loyalty's user documentation "
    "(exchangesolutionsinc.github.io/es-user-docs)",
    items=ITEMS,
    faults=(
        FaultSpec("rate_limit", 2, None, {"retry_after": 1}),
        FaultSpec("lost_answer", 1, AWARD),
    ),
)
