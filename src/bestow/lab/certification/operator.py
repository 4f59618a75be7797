"""The Operator API's checklist, written by Bestow from Gamnify's documents
(docs.gamnify.tech: the Operator Utils API's overview, rewards campaigns, rewards and reward
enrollments pages, and the rewards playbook): the vendor publishes no certification list.

Each item's rule is in ``docs/certification-operator.md``. What the judges read beyond the
request log's columns, the Operator API's routes note (``surfaces.common.note``): the campaign,
reward, enrollment, free bet or bulk enrollment a request created or read (``object_id``), a
replayed enrollment or bet (``replayed``), the bet's ``betId`` (``idempotency_key``), and
whether a bulk enrollment's answer showed its end and how many players failed
(``body.counts``: ``terminal``, ``failedCount``). Never a player id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select

from bestow.lab.certification import judging
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
from bestow.lab.certification.judging import proof as _proof
from bestow.models import Campaign, OperatorEnrollment, OperatorEnrollmentBatch, OperatorReward

AUTH = "Authentication"
REQUESTS = "Requests & errors"
CAMPAIGNS = "Campaigns & rewards"
ENROLLMENTS = "Enrollments & free bets"
BULK = "Bulk enrollment"
SUBMISSION = "Submission"

OPERATOR_ID = "X-AUTH-OPERATOR-ID"
REQUEST_HASH = "X-AUTH-REQUEST-HASH"
BYPASS = "X-AUTH-REQUEST-HASH-BYPASS"
JSON = "application/json"

CREATE_CAMPAIGN = "POST /v1/campaigns"
CREATE_REWARD = "POST /v1/campaigns/{campaign_id}/rewards"
ENROL = "POST /v1/rewards/{reward_id}/enrollments"
BULK_ENROL = "POST /v1/rewards/{reward_id}/enrollments/bulk"
BULK_READ = "GET /v1/rewards/{reward_id}/enrollments/bulk/{bulk_id}"
BET = "POST /v1/enrollments/{enrollment_id}/bets"

POLL_SECONDS = 1.0
"""The same read (an unchanged GET) repeated sooner than this, with no write between, is
polling too fast: Thanx's limit for job polling, which Gamnify does not state."""
LOST_ANSWER = "lost_answer"
RETRIED_STATUSES = (429, 503)
"""Answers that say "nothing was done, repeat after Retry-After": not errors to give up on."""


def endpoint(r: Req) -> str:
    """``METHOD /template`` with the template's trailing slash trimmed: every Operator API
    route also answers with one (``surfaces.operator.routing``)."""
    return f"{r.method} {r.route.rstrip('/') or '/'}"


def _surface(ctx: Context) -> list[Req]:
    """The window's Operator API requests, listed once per report (``ctx.memo``)."""
    found: list[Req] | None = ctx.memo.get("operator.requests")
    if found is None:
        found = ctx.memo["operator.requests"] = list(ctx.of_surface())
    return found


def _on(ctx: Context, wanted: str) -> list[Req]:
    """The requests to an endpoint, in order (grouped once per report)."""
    grouped: dict[str, list[Req]] | None = ctx.memo.get("operator.endpoints")
    if grouped is None:
        grouped = {}
        for r in _surface(ctx):
            grouped.setdefault(endpoint(r), []).append(r)
        ctx.memo["operator.endpoints"] = grouped
    return grouped.get(wanted, [])


def _next_same(requests: list[Req], key: Callable[[Req], str | None]) -> dict[int, Req]:
    """For each request with a key, the next request with the same key (by ``seq``): one pass
    from the end, so that a window of 100,000 requests is judged in linear time."""
    after: dict[int, Req] = {}
    latest: dict[str, Req] = {}
    for r in reversed(requests):
        k = key(r)
        if not k:
            continue
        found = latest.get(k)
        if found is not None:
            after[r.seq] = found
        latest[k] = r
    return after


def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    """Ids in groups small enough for an ``IN`` list on either database."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _every(
    ctx: Context, wanted: str, offends: Callable[[Req], bool], what: str, *, among: str = ""
) -> Outcome:
    """Pass when no Operator API request offends (``judging.every``). ``among`` narrows the
    requests judged (``body``)."""
    requests = _surface(ctx)
    if among == "body":
        requests = [r for r in requests if r.has_body]
    kind = "Operator API request with a body" if among == "body" else "Operator API request"
    return judging.every(requests, offends, what=what, held=wanted, none=f"no {kind} in the window")


# --- Authentication ------------------------------------------------------------------------


async def auth_headers(ctx: Context) -> Outcome:
    return _every(
        ctx,
        f"carry {OPERATOR_ID} and {REQUEST_HASH}",
        lambda r: OPERATOR_ID not in r.headers or REQUEST_HASH not in r.headers,
        f"lack {OPERATOR_ID} or {REQUEST_HASH}",
    )


async def no_bypass(ctx: Context) -> Outcome:
    return _every(ctx, f"carry no {BYPASS}", lambda r: BYPASS in r.headers, f"send {BYPASS}")


# --- Requests & errors ---------------------------------------------------------------------


async def content_type(ctx: Context) -> Outcome:
    return _every(
        ctx,
        f"with a body carry Content-Type: {JSON}",
        judging.not_json,
        f"have a body without Content-Type: {JSON}",
        among="body",
    )


async def errors_not_repeated(ctx: Context) -> Outcome:
    """A request answered 4xx (not 429) is not sent again unchanged (same fingerprint)."""
    requests = _surface(ctx)
    refused: dict[str, Req] = {}
    met: list[Req] = []
    repeats: list[tuple[Req, Req]] = []
    for r in requests:
        first = refused.get(r.fingerprint or "")
        if first is not None:
            repeats.append((r, first))
        if 400 <= r.status < 500 and r.status not in RETRIED_STATUSES and r.fingerprint:
            met.append(r)
            refused.setdefault(r.fingerprint, r)
    if not met:
        return not_exercised("no request of the window was refused with a 4xx error")
    if repeats:
        return failed(
            (
                Evidence.of(
                    r, f"sent again unchanged after its {first.status} ({first.request_id})"
                )
                for r, first in repeats[:MAX_EVIDENCE]
            ),
            f"{len(repeats)} requests repeat one refused with a 4xx error",
        )
    statuses = sorted({r.status for r in met})
    return passed(
        (
            Evidence.of(r, f"refused {r.status}; not sent again unchanged")
            for r in met[:MAX_EVIDENCE]
        ),
        f"{len(met)} refused requests (status {', '.join(map(str, statuses))}), none repeated",
    )


async def retry_after(ctx: Context) -> Outcome:
    """After a 429 or 503, the same request comes back no sooner than its ``Retry-After``."""
    requests = _surface(ctx)
    asked = [r for r in requests if r.status in RETRIED_STATUSES]
    if not asked:
        return not_exercised("no 429 or 503 answered in the window")
    early: list[tuple[Req, Req]] = []
    waited: list[tuple[Req, Req]] = []
    following = _next_same(requests, lambda r: r.fingerprint)
    for r in asked:
        wait = r.retry_after if r.retry_after is not None else 1.0
        later = following.get(r.seq)
        if later is None:
            continue
        (waited if later.t - r.t >= wait else early).append((later, r))
    if early:
        return failed(
            (
                Evidence.of(
                    x,
                    f"sent {x.t - r.t:.2f} s after its {r.status}, which asked "
                    f"{r.retry_after if r.retry_after is not None else 1.0:g} s ({r.request_id})",
                )
                for x, r in early[:MAX_EVIDENCE]
            ),
            f"{len(early)} of {len(asked)} requests answered 429/503 repeated before Retry-After",
        )
    if not waited:
        return not_exercised("no request answered 429 or 503 was repeated in the window")
    return passed(
        (
            Evidence.of(x, f"sent {x.t - r.t:.2f} s after its {r.status}")
            for x, r in waited[:MAX_EVIDENCE]
        ),
        f"{len(waited)} repeats after 429/503, each after Retry-After",
    )


async def frequency(ctx: Context) -> Outcome:
    """No read repeated unchanged sooner than ``POLL_SECONDS`` with no write between."""
    requests = _surface(ctx)
    if not requests:
        return not_exercised("no Operator API request in the window")
    last_read: dict[str, Req] = {}
    fast: list[tuple[Req, Req]] = []
    polls: list[Req] = []
    for r in requests:
        if r.method != "GET":
            last_read.clear()  # a write may change what the next read answers
            continue
        key = r.fingerprint or ""
        before = last_read.get(key)
        if before is not None:
            polls.append(r)
            if r.t - before.t < POLL_SECONDS:
                fast.append((r, before))
        last_read[key] = r
    if fast:
        return failed(
            (
                Evidence.of(r, f"the same read {r.t - b.t:.2f} s after the last ({b.request_id})")
                for r, b in fast[:MAX_EVIDENCE]
            ),
            f"{len(fast)} of {len(polls)} repeated reads came sooner than {POLL_SECONDS:g} s",
        )
    if polls:
        return passed(
            (
                Evidence.of(r, f"repeated read, at least {POLL_SECONDS:g} s apart")
                for r in polls[:MAX_EVIDENCE]
            ),
            f"{len(polls)} repeated reads, none sooner than {POLL_SECONDS:g} s",
        )
    return passed(_proof(requests, "no repeated read"), f"{len(requests)} requests, no polling")


# --- Campaigns & rewards -------------------------------------------------------------------


def _ended_on_creation(end_at: datetime | None, created_at: datetime) -> bool:
    return end_at is not None and end_at <= created_at


async def _created(
    ctx: Context, route: str, what: str, ended: dict[str, datetime | None]
) -> Outcome:
    """Creations on ``route``: refused ones (4xx other than 429) and objects already ended
    when created (``ended``: object id to its end, for those) fail the item."""
    tried = [r for r in _on(ctx, route) if r.status not in RETRIED_STATUSES]
    if not tried:
        return not_exercised(f"no {what} created in the window")
    refused = [r for r in tried if 400 <= r.status < 500]
    made = [r for r in tried if r.ok and r.object_id]
    bad: list[Evidence] = [
        Evidence.of(r, f"refused {r.status}: the {what} was sent invalid") for r in refused
    ]
    stale = [r for r in made if r.object_id in ended]
    bad += [Evidence.object(what, r.object_id or "", "already ended when created") for r in stale]
    if bad:
        return failed(
            bad,
            f"{len(refused)} of {len(tried)} {what} creations refused, "
            f"{len(stale)} {what}s already ended when created",
        )
    return passed(
        (Evidence.of(r, f"{what} {r.object_id} created valid") for r in made[:MAX_EVIDENCE]),
        f"{len(made)} {what}s created valid, none refused",
    )


async def campaigns_valid(ctx: Context) -> Outcome:
    ids = [r.object_id for r in _on(ctx, CREATE_CAMPAIGN) if r.ok and r.object_id]
    ended: dict[str, datetime | None] = {}
    for chunk in _chunks(ids):
        result = await ctx.session.execute(
            select(Campaign.id, Campaign.end_at, Campaign.created_at).where(
                Campaign.client_id == ctx.client.id, Campaign.id.in_(chunk)
            )
        )
        ended |= {i: end for i, end, made in result if _ended_on_creation(end, made)}
    return await _created(ctx, CREATE_CAMPAIGN, "campaign", ended)


async def rewards_valid(ctx: Context) -> Outcome:
    ids = [r.object_id for r in _on(ctx, CREATE_REWARD) if r.ok and r.object_id]
    ended: dict[str, datetime | None] = {}
    for chunk in _chunks(ids):
        result = await ctx.session.execute(
            select(OperatorReward.id, OperatorReward.end_at, OperatorReward.created_at).where(
                OperatorReward.id.in_(chunk)
            )
        )
        ended |= {i: end for i, end, made in result if _ended_on_creation(end, made)}
    return await _created(ctx, CREATE_REWARD, "reward", ended)


# --- Enrollments & free bets ---------------------------------------------------------------


def _repeat(following: dict[int, Req], r: Req) -> Req | None:
    """The next request with ``r``'s key that was answered (a 429 or 503 on the way is waited
    out and sent again: the one after it counts)."""
    again = following.get(r.seq)
    while again is not None and again.status in RETRIED_STATUSES:
        again = following.get(again.seq)
    return again


def _lost(requests: list[Req]) -> list[Req]:
    """Requests whose answer the lab lost after they were done (and done well)."""
    return [r for r in requests if r.fault == LOST_ANSWER and r.ok]


async def enrollments_idempotent(ctx: Context) -> Outcome:
    """Each enrollment whose answer was lost is sent again unchanged and answered with the
    same enrollment (replayed)."""
    requests = _on(ctx, ENROL)
    lost = _lost(requests)
    if not lost:
        detail = "no enrollment's answer was lost in the window"
        return not_exercised(detail if requests else "no enrollment in the window")
    bad: list[Evidence] = []
    good: list[Evidence] = []
    following = _next_same(requests, lambda r: r.fingerprint)
    for r in lost:
        again = _repeat(following, r)
        if again is None:
            bad.append(Evidence.of(r, "answer lost; the enrollment was never sent again"))
        elif not (again.ok and again.replayed and again.object_id == r.object_id):
            bad.append(Evidence.of(again, "sent again but not answered with the same enrollment"))
        else:
            good += [
                Evidence.of(r, "answer lost"),
                Evidence.of(again, f"sent again unchanged: the same enrollment {r.object_id}"),
            ]
    if bad:
        return failed(bad, f"{len(bad)} of {len(lost)} lost enrollment answers not recovered")
    return passed(good, f"{len(lost)} lost enrollment answers recovered by the same request")


async def bets_idempotent(ctx: Context) -> Outcome:
    """Each bet whose answer was lost is sent again with the same ``betId`` (replayed, the same
    free bet); none is sent again under a new one."""
    requests = _on(ctx, BET)
    if not requests:
        return not_exercised("no free bet used in the window")
    lost = _lost(requests)
    if not lost:
        return not_exercised("no bet's answer was lost in the window")
    bad: list[Evidence] = []
    good: list[Evidence] = []
    following = _next_same(requests, lambda r: r.idempotency_key)
    for r in lost:
        again = _repeat(following, r)
        if again is None:
            bad.append(Evidence.of(r, "answer lost; its betId was never sent again"))
        elif not (again.ok and again.replayed and again.object_id == r.object_id):
            bad.append(Evidence.of(again, f"the same betId answered {again.status}, not a replay"))
        else:
            good += [
                Evidence.of(r, "answer lost"),
                Evidence.of(again, f"the same betId again: the same bet {r.object_id}, replayed"),
            ]
    if bad:
        return failed(bad, f"{len(bad)} of {len(lost)} lost bet answers not recovered")
    return passed(good, f"{len(lost)} lost bet answers recovered with the same betId")


# --- Bulk enrollment -----------------------------------------------------------------------


def _bulks(ctx: Context) -> list[Req]:
    return [r for r in _on(ctx, BULK_ENROL) if r.status == 202 and r.object_id]


def _terminal_reads(ctx: Context) -> dict[str, Req]:
    """Each bulk's first read that showed it ended, by bulk id (once per report)."""
    found: dict[str, Req] | None = ctx.memo.get("operator.bulk_ends")
    if found is None:
        found = ctx.memo["operator.bulk_ends"] = {}
        for r in _on(ctx, BULK_READ):
            if r.ok and r.object_id and r.count("terminal"):
                found.setdefault(r.object_id, r)
    return found


async def bulk_followed(ctx: Context) -> Outcome:
    bulks = _bulks(ctx)
    if not bulks:
        return not_exercised("no bulk enrollment accepted in the window")
    ends = _terminal_reads(ctx)
    unfollowed = [r for r in bulks if r.object_id not in ends]
    if unfollowed:
        return failed(
            (Evidence.of(r, f"bulk {r.object_id} never read Completed or Failed")
             for r in unfollowed),
            f"{len(unfollowed)} of {len(bulks)} bulk enrollments not followed to their end",
        )  # fmt: skip
    evidence = []
    for r in bulks[:MAX_EVIDENCE]:
        evidence += [
            Evidence.of(r, f"bulk {r.object_id} accepted"),
            Evidence.of(ends[r.object_id or ""], "read Completed or Failed"),
        ]
    return passed(evidence, f"{len(bulks)} bulk enrollments followed to their end")


async def _batches(ctx: Context, ids: list[str]) -> list[tuple[str, str, int]]:
    """``(bulk id, reward id, failed count)`` of the client's bulks among ``ids``."""
    rows: list[tuple[str, str, int]] = []
    for chunk in _chunks(ids):
        result = await ctx.session.execute(
            select(
                OperatorEnrollmentBatch.id,
                OperatorEnrollmentBatch.reward_id,
                OperatorEnrollmentBatch.failed_count,
            ).where(
                OperatorEnrollmentBatch.client_id == ctx.client.id,
                OperatorEnrollmentBatch.id.in_(chunk),
            )
        )
        rows += [(i, reward, count) for i, reward, count in result]
    return rows


async def _enrollments_of(ctx: Context, reward_ids: list[str]) -> dict[str, str]:
    """The client's enrollments in these rewards: enrollment id to reward id."""
    found: dict[str, str] = {}
    for chunk in _chunks(reward_ids):
        result = await ctx.session.execute(
            select(OperatorEnrollment.id, OperatorEnrollment.reward_id).where(
                OperatorEnrollment.client_id == ctx.client.id,
                OperatorEnrollment.reward_id.in_(chunk),
            )
        )
        found |= {i: reward for i, reward in result}
    return found


async def bulk_failures(ctx: Context) -> Outcome:
    """A bulk that ended with failed players: its end read, then the reward enrolled again
    (a single or bulk enrollment on the same reward after that read)."""
    bulks = _bulks(ctx)
    if not bulks:
        return not_exercised("no bulk enrollment accepted in the window")
    rows = await _batches(ctx, [r.object_id for r in bulks if r.object_id])
    reward_of = {batch_id: reward_id for batch_id, reward_id, _ in rows}
    with_failures = {batch_id for batch_id, _, count in rows if count > 0}
    if not with_failures:
        return not_exercised("no bulk enrollment of the window ended with failed players")
    rewards = sorted({reward_of[b] for b in with_failures})
    in_rewards = await _enrollments_of(ctx, rewards)
    # Enrollments of those rewards, single or bulk, in the window's order, by reward.
    enrolled: dict[str, list[Req]] = {}
    for r in _surface(ctx):
        reward_id: str | None = None
        if endpoint(r) == ENROL and r.ok:
            reward_id = in_rewards.get(r.object_id or "")
        elif endpoint(r) == BULK_ENROL and r.status == 202:
            reward_id = reward_of.get(r.object_id or "")
        if reward_id is not None:
            enrolled.setdefault(reward_id, []).append(r)
    ends = _terminal_reads(ctx)
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for r in bulks:
        if r.object_id not in with_failures:
            continue
        end = ends.get(r.object_id or "")
        if end is None:
            bad.append(Evidence.of(r, f"bulk {r.object_id} had failed players; never read"))
            continue
        after = enrolled.get(reward_of[r.object_id or ""], [])
        retry = next((x for x in after if x.t >= end.t and x.seq > r.seq), None)
        read = f"failedCount {end.count('failedCount')} read"
        if retry is None:
            bad.append(Evidence.of(end, f"{read}; the failed players were not enrolled again"))
        else:
            good += [
                Evidence.of(end, read),
                Evidence.of(retry, "the reward's players enrolled again"),
            ]
    if bad:
        return failed(
            bad, f"{len(bad)} of {len(with_failures)} bulks with failed players not handled"
        )
    return passed(good, f"{len(with_failures)} bulks with failed players read and enrolled again")


ITEMS: tuple[Item, ...] = (
    Item(
        "operator.auth.headers",
        AUTH,
        "Every request carries `X-AUTH-OPERATOR-ID` and `X-AUTH-REQUEST-HASH` (SHA-256 of the "
        "shared key, the relative URL and the raw body)",
        AUTOMATIC,
        auth_headers,
        advice="Sign every request: send the operator id in `X-AUTH-OPERATOR-ID` and the "
        "lowercase hex SHA-256 of shared key + relative URL (trailing slashes trimmed) + raw "
        "body in `X-AUTH-REQUEST-HASH`.",
    ),
    Item(
        "operator.auth.no_bypass",
        AUTH,
        "No request relies on `X-AUTH-REQUEST-HASH-BYPASS`: every request is verified by its hash",
        AUTOMATIC,
        no_bypass,
        advice="Remove `X-AUTH-REQUEST-HASH-BYPASS` from your client: production ignores it, "
        "so an integration that needs it fails there. Compute the hash instead.",
    ),
    Item(
        "operator.requests.content_type",
        REQUESTS,
        "Every request with a body carries `Content-Type: application/json`",
        AUTOMATIC,
        content_type,
        advice="Send `Content-Type: application/json` with every POST body.",
        exercise="Create a campaign, enrol a player or use a bet: requests with a body.",
    ),
    Item(
        "operator.errors.not_repeated",
        REQUESTS,
        "The documented errors (`ValidationError`, `NotFound`, `Conflict`) are met and "
        "handled: a refused request is not sent again unchanged",
        AUTOMATIC,
        errors_not_repeated,
        advice="Read the envelope's `responseCode` and `message` on a 4xx and fix the request "
        "(or give up) instead of sending it again as it was: it will be refused again.",
        exercise="Meet the documented errors in your tests: read an unknown campaign "
        "(`NotFound`), send a bet on a product the reward does not cover (`ValidationError`), "
        "use a bet once none is left (`Conflict`).",
    ),
    Item(
        "operator.errors.retry_after",
        REQUESTS,
        "`429 RateLimited` and `503 ServiceUnavailable` are retried only after `Retry-After`",
        AUTOMATIC,
        retry_after,
        advice="On a 429 or 503, wait at least the seconds of `Retry-After` before sending the "
        "request again, and back off further on repeats.",
        exercise="Run with faults (`bestow certify run ... --faults`): the run answers a "
        "campaign creation 429 once.",
    ),
    Item(
        "operator.requests.frequency",
        REQUESTS,
        "API requests issued at a reasonable frequency (no rapid polling: the same read at "
        "most once a second)",
        AUTOMATIC,
        frequency,
        advice="Poll a bulk enrollment (or any state) at most once a second, backing off while "
        "it has not changed; use the `freebets.enrolled` webhooks instead where you can.",
    ),
    Item(
        "operator.campaigns.valid",
        CAMPAIGNS,
        "Campaigns created valid: accepted as sent (no `ValidationError`: `name` and "
        "`createdBy` not blank, `endTimeUtc` after `startTimeUtc`), and not already ended",
        AUTOMATIC,
        campaigns_valid,
        advice="Check the campaign's fields before sending it (the vendor's validation rules) "
        "and give it an end in the future, or none (it runs until cancelled).",
        exercise="Create a campaign (`POST /v1/campaigns`).",
    ),
    Item(
        "operator.rewards.valid",
        CAMPAIGNS,
        "Rewards created valid within their campaign: accepted as sent (no `ValidationError`, "
        "no `Conflict`), and not already ended",
        AUTOMATIC,
        rewards_valid,
        advice="Give each reward `rewardType: FreeBets`, at least one product, its "
        "`freeBetDetails`, and a window inside its campaign's that ends in the future; add "
        "rewards only to Scheduled or Active campaigns.",
        exercise="Create a reward (`POST /v1/campaigns/{campaignId}/rewards`).",
    ),
    Item(
        "operator.enrollments.idempotent",
        ENROLLMENTS,
        "Enrollment idempotency: an enrollment whose answer was lost is sent again unchanged "
        "and answered with the same enrollment (no player enrolled twice)",
        AUTOMATIC,
        enrollments_idempotent,
        advice="When an enrollment's answer is lost (a timeout, a dropped connection, a 504), "
        "send the same request again: enrolling a player again answers the enrollment they "
        "have.",
        exercise="Run with faults (`bestow certify run ... --faults`): the answer of one "
        "enrollment is lost. Or send `X-Bestow-Fault: lost_answer` on one enrollment.",
    ),
    Item(
        "operator.bets.idempotent",
        ENROLLMENTS,
        "Bet idempotency: a free bet whose answer was lost is sent again with the same "
        "`betId` (no bet used twice)",
        CONDITIONAL,
        bets_idempotent,
        advice="Give each bet its own `betId` and keep it: when the answer is lost, send the "
        "bet again with the same `betId`; it answers the first result and uses nothing.",
        exercise="Run with faults (`bestow certify run ... --faults`): the answer of one bet "
        "is lost.",
        feature="free bets",
    ),
    Item(
        "operator.bulk.followed",
        BULK,
        "Each bulk enrollment is followed to its end (`Completed` or `Failed`)",
        CONDITIONAL,
        bulk_followed,
        advice="After the 202, read `GET /v1/rewards/{rewardId}/enrollments/bulk/{bulkId}` "
        "(at most once a second) until its status is `Completed` or `Failed`.",
        feature="bulk enrollment",
    ),
    Item(
        "operator.bulk.failures",
        BULK,
        "A bulk enrollment's failures are read (`failedCount`, `error`) and its failed players "
        "enrolled again",
        CONDITIONAL,
        bulk_failures,
        advice="When a bulk ends with `failedCount` above 0, enrol its players again (a new "
        "bulk of the same list is safe: players already enrolled count as existing) and "
        "surface the failures that remain.",
        exercise="Run with faults (`bestow certify run ... --faults`): one player of the next "
        "bulk enrollment fails.",
        feature="bulk enrollment",
    ),
    Item(
        "operator.submission.backend",
        SUBMISSION,
        "The API is called from the operator's back end only: the shared keys never reach a "
        "player's device, and both keys (primary and secondary) sign, for rotation",
        ATTESTED,
        advice="Show where the shared keys are kept and a request signed with each, then have "
        "an admin attest it.",
    ),
    Item(
        "operator.submission.demo",
        SUBMISSION,
        "Ready to demo: campaign and reward set-up, single and bulk enrollment, free bets, "
        "error handling and cancellation",
        ATTESTED,
        advice="Walk the operator's team through the flow live, then have an admin attest it.",
    ),
)

CHECKLIST = Checklist(
    surface="operator",
    title="Operator API (Gamnify): Bestow's integration checklist",
    source="bestow",
    reference="Written by Bestow from Gamnify's documentation (docs.gamnify.tech): the "
    "Operator Utils API's overview, rewards campaigns, rewards and reward enrollments pages, "
    "and the rewards playbook",
    items=ITEMS,
    faults=(
        FaultSpec("rate_limit", 1, CREATE_CAMPAIGN, {"retry_after": 1}),
        FaultSpec("lost_answer", 1, ENROL),
        FaultSpec("lost_answer", 1, BET),
        FaultSpec("partial_failure", 1, BULK_ENROL),
    ),
)
