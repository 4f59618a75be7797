"""Thanx's checklist, the sections judged from the traffic and the client's data: Campaign
Creation, Reward Issuance, Monitoring & Completion, Revocation and Webhooks.

The Partner routes note what these judges read of a body, never a value
(``surfaces/partner/campaigns.py``): which fields a Create Campaign body carries and how its
variants use templates (before validation, so a refused body is judged too), the identifiers of
an issue per type and its phones not in E.164, and the state a Get Issuance Job answered. The
rules and thresholds are in ``docs/certification-partner.md``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from bestow.lab.certification.context import Context, Req
from bestow.lab.certification.core import (
    ATTESTED,
    AUTOMATIC,
    CONDITIONAL,
    MAX_EVIDENCE,
    Evidence,
    Item,
    Outcome,
    failed,
    not_exercised,
    passed,
)
from bestow.lab.certification.judging import plural as _plural
from bestow.lab.certification.judging import proof as _proof
from bestow.models import IssuanceJob, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

CAMPAIGN_SECTION = "Campaign Creation"
ISSUANCE_SECTION = "Reward Issuance"
MONITORING_SECTION = "Monitoring & Completion"
REVOCATION_SECTION = "Revocation (If Applicable)"
WEBHOOKS_SECTION = "Webhooks (If Subscribed)"

CREATE = "POST /partner/campaigns"
ISSUE = "POST /partner/campaigns/issue"
GET_JOB = "GET /partner/issuance_jobs/{job_id}"
REVOKE = "POST /partner/issuance_jobs/{job_id}/revoke"

MAX_BATCH = 10_000
"""Identifiers per job (Thanx: "Batch size does not exceed 10,000 identifiers per job")."""
WEBHOOK_TIMEOUT_MS = 15_000
"""Thanx: "Endpoint responds to POST requests within 15 seconds"."""
ISSUED = "reward.issued"
BATCH_COMPLETED = "reward_batch.completed"
BATCH_REVOKED = "reward_batch.revoked"
PARTNER_EVENTS = (ISSUED, BATCH_COMPLETED)
FINISHED = ("completed", "failed")
TERMINAL = ("completed", "failed", "revoking", "revoked")
"""States a job reaches once its issuance is over (``revoking`` and ``revoked`` come after a
finished job only)."""


def _on(ctx: Context, endpoint: str) -> list[Req]:
    """The window's requests to one endpoint, in order (indexed once per report)."""
    if "by_endpoint" not in ctx.memo:
        index: dict[str, list[Req]] = {}
        for r in ctx.requests:
            index.setdefault(f"{r.method} {r.route}", []).append(r)
        ctx.memo["by_endpoint"] = index
    found: list[Req] = ctx.memo["by_endpoint"].get(endpoint, [])
    return found


def _all(n: int, word: str) -> str:
    """``3 of 3 jobs``: a passing item's count, in the words of a failing one's."""
    return f"{n} of {n} {word}s"


# --- Campaign Creation ---------------------------------------------------------------------------


def _judged_creates(ctx: Context) -> list[Req]:
    """The Create Campaign requests whose body the route could read (a request refused
    before, such as a 401, says nothing of its fields)."""
    if "creates" not in ctx.memo:
        ctx.memo["creates"] = [r for r in _on(ctx, CREATE) if r.count("campaign") == 1]
    found: list[Req] = ctx.memo["creates"]
    return found


def _creates_judge(offends: Callable[[Req], bool], what: str, good: str) -> Any:
    async def judge(ctx: Context) -> Outcome:
        judged = _judged_creates(ctx)
        if not judged:
            return not_exercised("no Create Campaign request with a JSON body in the window")
        bad = [r for r in judged if offends(r)]
        if bad:
            return failed(
                (Evidence.of(r, what) for r in bad[:MAX_EVIDENCE]),
                f"{len(bad)} of {_plural(len(judged), 'Create Campaign request')} {what}",
            )
        created = [r for r in judged if r.status == 201] or judged
        return passed(
            _proof(created, good),
            f"{_all(len(judged), 'Create Campaign request')} {good}",
        )

    return judge


def _lacks(*fields: str) -> Callable[[Req], bool]:
    keys = tuple(f"campaign.{f}" for f in fields)

    def lacks(r: Req) -> bool:
        counts = r.body["counts"]  # judged requests have counts
        return not all(counts.get(k) for k in keys)

    return lacks


def _bad_variants(r: Req) -> bool:
    return not 1 <= r.count("campaign.variants") <= 4


REQUIRED = (
    "merchant_id",
    "name",
    "objective",
    "fine_print",
    "start_at",
    "end_at",
    "redeemable_from",
    "redeemable_to",
)


async def campaign_create(ctx: Context) -> Outcome:
    judged = _judged_creates(ctx)
    if not judged:
        return not_exercised("no Create Campaign request with a JSON body in the window")
    bad = [r for r in judged if _lacks(*REQUIRED)(r) or _bad_variants(r)]
    if bad:
        return failed(
            (
                Evidence.of(r, "lacks a required field or has not 1-4 variants")
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {_plural(len(judged), 'Create Campaign request')} lack a required "
            "field or have not 1-4 variants",
        )
    created = [r for r in judged if r.status == 201]
    if not created:
        return failed(
            (Evidence.of(r, "refused: no campaign created") for r in judged),
            f"none of {_plural(len(judged), 'Create Campaign request')} created a campaign",
        )
    return passed(
        (
            Evidence.of(r, f"created campaign {r.object_id} with every required field")
            for r in created
        ),
        f"{_plural(len(created), 'campaign')} created with every required field",
    )


def _template_offends(r: Req) -> bool:
    if r.count("variants.treatment_without_template"):
        return True
    # A template the API refused, the Control not being the cause.
    return bool(r.count("campaign.template_refused")) and not r.count(
        "variants.control_with_template"
    )


async def campaign_control(ctx: Context) -> Outcome:
    judged = _judged_creates(ctx)
    if not judged:
        return not_exercised("no Create Campaign request with a JSON body in the window")
    bad = [r for r in judged if r.count("variants.control_with_template")]
    if bad:
        return failed(
            (
                Evidence.of(r, "a Control variant carries a reward_template_id")
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {_plural(len(judged), 'Create Campaign request')} give a Control "
            "variant a reward_template_id",
        )
    with_control = [r for r in judged if r.count("variants.control")]
    if not with_control:
        return passed(
            _proof(judged, "no Control variant"),
            "no Control variant sent: none carries a reward_template_id",
        )
    return passed(
        _proof(with_control, "Control variant without reward_template_id"),
        f"the Control variants of {_plural(len(with_control), 'request')} omit reward_template_id",
    )


CAMPAIGN: tuple[Item, ...] = (
    Item(
        "partner.campaign.create",
        CAMPAIGN_SECTION,
        "Create Campaign endpoint called with required fields:",
        AUTOMATIC,
        campaign_create,
        advice="Create campaigns with `POST /partner/campaigns`, sending every field below.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.merchant_id",
        CAMPAIGN_SECTION,
        "`merchant_id`",
        AUTOMATIC,
        _creates_judge(_lacks("merchant_id"), "lack merchant_id", "carry merchant_id"),
        advice="Send the discovered merchant's id in `campaign.merchant_id`.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.name",
        CAMPAIGN_SECTION,
        "`name` — descriptive campaign name",
        AUTOMATIC,
        _creates_judge(_lacks("name"), "lack a name", "carry a name"),
        advice="Give every campaign a descriptive, non-blank `name`.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.objective",
        CAMPAIGN_SECTION,
        "`objective` — campaign purpose",
        AUTOMATIC,
        _creates_judge(_lacks("objective"), "lack an objective", "carry an objective"),
        advice="Say the campaign's purpose in a non-blank `objective` (the API defaults it "
        "to empty).",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.fine_print",
        CAMPAIGN_SECTION,
        "`fine_print` — terms and conditions",
        AUTOMATIC,
        _creates_judge(_lacks("fine_print"), "lack fine_print", "carry fine_print"),
        advice="Send the terms and conditions in a non-blank `fine_print` (the API defaults "
        "it to empty).",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.window",
        CAMPAIGN_SECTION,
        "`start_at` / `end_at` — campaign window in ISO 8601",
        AUTOMATIC,
        _creates_judge(
            _lacks("start_at", "end_at"), "lack start_at or end_at", "carry start_at and end_at"
        ),
        advice="Send `start_at` and `end_at` in ISO 8601 with an offset.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.redemption",
        CAMPAIGN_SECTION,
        "`redeemable_from` / `redeemable_to` — reward redemption window in ISO 8601",
        AUTOMATIC,
        _creates_judge(
            _lacks("redeemable_from", "redeemable_to"),
            "lack redeemable_from or redeemable_to",
            "carry redeemable_from and redeemable_to",
        ),
        advice="Send `redeemable_from` and `redeemable_to` in ISO 8601 with an offset.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.variants",
        CAMPAIGN_SECTION,
        "`variants` — array of 1-4 variants",
        AUTOMATIC,
        _creates_judge(_bad_variants, "have not 1-4 variants", "have 1-4 variants"),
        advice="Send `variants` as an array of 1 to 4 variants.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.template",
        CAMPAIGN_SECTION,
        "Each treatment variant references a valid `reward_template_id`",
        AUTOMATIC,
        _creates_judge(
            _template_offends,
            "have a treatment variant without a valid reward_template_id",
            "reference a valid reward_template_id in each treatment variant",
        ),
        advice="Give each treatment variant the id of a published template discovered with "
        "List Reward Templates for the campaign's merchant.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.control",
        CAMPAIGN_SECTION,
        'Control variants (named "Control") correctly omit `reward_template_id` (for A/B testing)',
        AUTOMATIC,
        campaign_control,
        advice='Leave `reward_template_id` out of the variant named "Control" (or send null).',
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.dates",
        CAMPAIGN_SECTION,
        "`redeemable_from`, `redeemable_to`, `start_at`, and `end_at` are not all set to the "
        "same date — ensure the campaign allows enough time for users to redeem and use the "
        "reward",
        AUTOMATIC,
        _creates_judge(
            lambda r: bool(r.count("campaign.same_date")),
            "set the four dates on the same date",
            "spread the four dates over more than one date",
        ),
        advice="Leave members time to redeem: end the redemption window on a later date than "
        "the campaign starts.",
        exercise="Create a campaign with `POST /partner/campaigns` in the window.",
    ),
    Item(
        "partner.campaign.strategy",
        CAMPAIGN_SECTION,
        "Campaign creation and reuse strategy defined (per use case vs. per event)",
        ATTESTED,
        advice="Write down when the integration creates a campaign and when it reuses one, "
        "then have an admin attest it.",
    ),
)


# --- Reward Issuance -----------------------------------------------------------------------------


def _identifiers(r: Req) -> int:
    counts = r.body.get("counts") or {}
    return sum(int(v) for k, v in counts.items() if k.startswith("identifiers."))


def _issues(ctx: Context) -> list[Req]:
    """The issue requests whose identifiers the route counted."""
    if "issues" not in ctx.memo:
        ctx.memo["issues"] = [r for r in _on(ctx, ISSUE) if _identifiers(r)]
    found: list[Req] = ctx.memo["issues"]
    return found


async def issue_identifiers(ctx: Context) -> Outcome:
    counted = _issues(ctx)
    if not counted:
        return not_exercised("no Issue Rewards request with identifiers in the window")
    bad = [r for r in counted if r.count("identifiers.other")]
    if bad:
        return failed(
            (
                Evidence.of(
                    r, f"{r.count('identifiers.other')} identifiers neither email nor phone"
                )
                for r in bad
            ),
            f"{len(bad)} of {_plural(len(counted), 'Issue Rewards request')} send identifiers "
            "neither email nor phone",
        )
    emails = sum(r.count("identifiers.email") for r in counted)
    phones = sum(r.count("identifiers.phone") for r in counted)
    return passed(
        _proof(counted, "identifiers by email or phone"),
        f"{emails} email and {phones} phone identifiers in {_plural(len(counted), 'request')}",
    )


async def issue_e164(ctx: Context) -> Outcome:
    counted = _issues(ctx)
    if not counted:
        return not_exercised("no Issue Rewards request with identifiers in the window")
    bad = [r for r in counted if r.count("phone.not_e164")]
    if bad:
        return failed(
            (
                Evidence.of(r, f"{r.count('phone.not_e164')} phones not in E.164")
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {_plural(len(counted), 'Issue Rewards request')} send phones not "
            "in E.164",
        )
    with_phones = [r for r in counted if r.count("identifiers.phone")]
    if not with_phones:
        return passed(_proof(counted, "no phone identifier"), "no phone identifier sent")
    phones = sum(r.count("identifiers.phone") for r in with_phones)
    return passed(
        _proof(with_phones, "phones in E.164"),
        f"{phones} of {phones} phone identifiers in E.164",
    )


async def issue_batch_size(ctx: Context) -> Outcome:
    counted = _issues(ctx)
    if not counted:
        return not_exercised("no Issue Rewards request with identifiers in the window")
    bad = [r for r in counted if _identifiers(r) > MAX_BATCH]
    if bad:
        return failed(
            (
                Evidence.of(r, f"{_identifiers(r)} identifiers in one request")
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {_plural(len(counted), 'Issue Rewards request')} exceed "
            f"{MAX_BATCH:,} identifiers",
        )
    largest = max(_identifiers(r) for r in counted)
    return passed(
        _proof(counted, f"at most {MAX_BATCH:,} identifiers"),
        f"the largest of {_plural(len(counted), 'request')} has {largest} identifiers",
    )


async def issue_idempotency_key(ctx: Context) -> Outcome:
    issues = _on(ctx, ISSUE)
    if not issues:
        return not_exercised("no Issue Rewards request in the window")
    bad = [r for r in issues if not r.idempotency_key]
    if bad:
        return failed(
            (Evidence.of(r, "no X-Idempotency-Key") for r in bad[:MAX_EVIDENCE]),
            f"{len(bad)} of {_plural(len(issues), 'Issue Rewards request')} lack X-Idempotency-Key",
        )
    return passed(
        _proof(issues, "carries X-Idempotency-Key"),
        f"{_all(len(issues), 'Issue Rewards request')} carry X-Idempotency-Key",
    )


@dataclass(frozen=True)
class Subscription:
    """The client's enabled webhook endpoints subscribed to the Partner events."""

    endpoints: tuple[WebhookEndpoint, ...]

    def to(self, event_type: str) -> list[WebhookEndpoint]:
        return [e for e in self.endpoints if not e.event_types or event_type in e.event_types]


async def _subscription(ctx: Context) -> Subscription:
    if "subscription" not in ctx.memo:
        rows = await ctx.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.client_id == ctx.client.id, WebhookEndpoint.enabled.is_(True))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        ctx.memo["subscription"] = Subscription(
            tuple(e for e in rows if not e.event_types or set(e.event_types) & set(PARTNER_EVENTS))
        )
    found: Subscription = ctx.memo["subscription"]
    return found


def _accepted(ctx: Context) -> dict[str, Req]:
    """Each job the window's issues started, with the first 202 that answered it."""
    if "accepted" not in ctx.memo:
        jobs: dict[str, Req] = {}
        for r in _on(ctx, ISSUE):
            if r.status == 202 and r.object_id and r.object_id not in jobs:
                jobs[r.object_id] = r
        ctx.memo["accepted"] = jobs
    found: dict[str, Req] = ctx.memo["accepted"]
    return found


def _reads(ctx: Context) -> dict[str, list[Req]]:
    """The successful Get Issuance Job requests of each job, in order."""
    if "reads" not in ctx.memo:
        reads: dict[str, list[Req]] = {}
        for r in _on(ctx, GET_JOB):
            if r.ok and r.object_id:
                reads.setdefault(r.object_id, []).append(r)
        ctx.memo["reads"] = reads
    found: dict[str, list[Req]] = ctx.memo["reads"]
    return found


def _read_in(reads: Iterable[Req], states: Iterable[str]) -> Req | None:
    wanted = tuple(states)
    return next((r for r in reads if any(r.count(f"state.{s}") for s in wanted)), None)


async def issue_accepted(ctx: Context) -> Outcome:
    jobs = _accepted(ctx)
    if not jobs:
        return not_exercised("no Issue Rewards request answered 202 in the window")
    if (await _subscription(ctx)).to(BATCH_COMPLETED):
        return passed(
            _proof(list(jobs.values()), "202: followed by the webhook subscription"),
            f"{_plural(len(jobs), 'job')} followed by a webhook subscription to {BATCH_COMPLETED}",
        )
    reads = _reads(ctx)
    bad = [r for job, r in jobs.items() if not any(g.t >= r.t for g in reads.get(job, ()))]
    if bad:
        return failed(
            (
                Evidence.of(r, f"job {r.object_id} never read after its 202")
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {_plural(len(jobs), 'accepted job')} neither polled nor followed "
            "by a webhook subscription",
        )
    return passed(
        (Evidence.of(reads[job][0], f"job {job} polled after its 202") for job in jobs),
        f"{_all(len(jobs), 'accepted job')} polled after their 202",
    )


ISSUANCE: tuple[Item, ...] = (
    Item(
        "partner.issue.identifiers",
        ISSUANCE_SECTION,
        "Issue Rewards endpoint called with user identifiers (email or phone)",
        AUTOMATIC,
        issue_identifiers,
        advice='Send identifiers as `{"type": "email"|"phone", "value": ...}` only.',
        exercise="Issue rewards with `POST /partner/campaigns/issue` in the window.",
    ),
    Item(
        "partner.issue.e164",
        ISSUANCE_SECTION,
        "Phone numbers in E.164 format (e.g., `+12025551234`)",
        AUTOMATIC,
        issue_e164,
        advice="Normalise phones to E.164 (`+` country code and number, digits only) before "
        "sending them.",
        exercise="Issue rewards with `POST /partner/campaigns/issue` in the window.",
    ),
    Item(
        "partner.issue.batch_size",
        ISSUANCE_SECTION,
        "Batch size does not exceed 10,000 identifiers per job",
        AUTOMATIC,
        issue_batch_size,
        advice="Split the identifiers into jobs of at most 10,000 each.",
        exercise="Issue rewards with `POST /partner/campaigns/issue` in the window.",
    ),
    Item(
        "partner.issue.idempotency_key",
        ISSUANCE_SECTION,
        "`X-Idempotency-Key` header included to prevent duplicate issuance",
        AUTOMATIC,
        issue_idempotency_key,
        advice="Send a unique `X-Idempotency-Key` with every Issue Rewards request, and the "
        "same key when retrying it.",
        exercise="Issue rewards with `POST /partner/campaigns/issue` in the window.",
    ),
    Item(
        "partner.issue.accepted",
        ISSUANCE_SECTION,
        "202 Accepted response handled correctly (asynchronous processing)",
        AUTOMATIC,
        issue_accepted,
        advice="Treat the 202 as a started job: poll `GET /partner/issuance_jobs/{id}` (or "
        "subscribe to webhooks) until it finishes.",
        exercise="Issue rewards with `POST /partner/campaigns/issue` in the window and follow "
        "the job.",
    ),
)


# --- Monitoring & Completion ---------------------------------------------------------------------


async def _delivered_jobs(ctx: Context, event_type: str) -> dict[str, str]:
    """The jobs whose ``event_type`` event reached the client (an attempt answered 2xx in the
    window), with the delivery's id."""
    key = f"delivered:{event_type}"
    if key not in ctx.memo:
        rows = await ctx.session.execute(
            select(WebhookDelivery.id, OutboxEvent.payload)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .join(WebhookAttempt, WebhookAttempt.delivery_id == WebhookDelivery.id)
            .where(
                WebhookDelivery.client_id == ctx.client.id,
                WebhookDelivery.event_type == event_type,
                WebhookAttempt.success.is_(True),
                WebhookAttempt.created_at >= ctx.window.since,
                WebhookAttempt.created_at < ctx.window.until,
            )
        )
        found: dict[str, str] = {}
        for delivery_id, payload in rows:
            job = ((payload or {}).get("data") or {}).get("issuance_job_id")
            if isinstance(job, str):
                found.setdefault(job, delivery_id)
        ctx.memo[key] = found
    delivered: dict[str, str] = ctx.memo[key]
    return delivered


async def monitoring_polled(ctx: Context) -> Outcome:
    jobs = _accepted(ctx)
    reads = [r for rs in _reads(ctx).values() for r in rs]
    if reads:
        reads.sort(key=lambda r: r.seq)
        return passed(
            _proof(reads, "Get Issuance Job"),
            f"{_plural(len(reads), 'Get Issuance Job request')} for "
            f"{_plural(len(_reads(ctx)), 'job')}",
        )
    subscribed = (await _subscription(ctx)).to(BATCH_COMPLETED)
    if subscribed:
        return passed(
            (Evidence.object("webhook_endpoint", e.id, "subscribed") for e in subscribed),
            f"webhook subscription active ({_plural(len(subscribed), 'endpoint')})",
        )
    if not jobs:
        return not_exercised("no job started and no Get Issuance Job request in the window")
    return failed(
        (Evidence.of(r, f"job {job} never polled") for job, r in jobs.items()),
        f"{_plural(len(jobs), 'job')} started, none polled and no webhook subscription",
    )


def _following(states: tuple[str, ...], note: str, what: str, event_type: str) -> Any:
    """A judge: each job the window started was read in one of ``states`` (or its
    ``event_type`` webhook reached the client)."""

    async def judge(ctx: Context) -> Outcome:
        jobs = _accepted(ctx)
        if not jobs:
            return not_exercised("no Issue Rewards request answered 202 in the window")
        reads = _reads(ctx)
        delivered = await _delivered_jobs(ctx, event_type)
        proof: list[Evidence] = []
        bad: list[Evidence] = []
        for job, accepted in jobs.items():
            seen = _read_in(reads.get(job, ()), states)
            if seen is not None:
                proof.append(Evidence.of(seen, f"job {job} {note}"))
            elif job in delivered:
                proof.append(
                    Evidence.object("webhook_delivery", delivered[job], f"job {job} {note}")
                )
            else:
                last = reads.get(job, [accepted])[-1]
                bad.append(Evidence.of(last, f"job {job}: last read, never {note}"))
        if bad:
            return failed(bad, f"{len(bad)} of {_plural(len(jobs), 'job')} {what}")
        return passed(proof, f"{_all(len(jobs), 'job')} {note}")

    return judge


async def monitoring_failures(ctx: Context) -> Outcome:
    jobs = _accepted(ctx)
    if not jobs:
        return not_exercised("no Issue Rewards request answered 202 in the window")
    reads = _reads(ctx)
    delivered = await _delivered_jobs(ctx, BATCH_COMPLETED)
    rows = await ctx.session.execute(
        select(IssuanceJob.id).where(
            IssuanceJob.id.in_(list(jobs)),
            IssuanceJob.client_id == ctx.client.id,
            IssuanceJob.failure_count > 0,
        )
    )
    ids = {job for (job,) in rows}
    failing = [job for job in jobs if job in ids]
    if not failing:
        return not_exercised("no job of the window had a failed identifier")
    proof: list[Evidence] = []
    bad: list[Evidence] = []
    for job in failing:
        seen = _read_in(reads.get(job, ()), TERMINAL)
        if seen is not None:
            proof.append(Evidence.of(seen, f"job {job}: failures read"))
        elif job in delivered:
            proof.append(
                Evidence.object("webhook_delivery", delivered[job], f"job {job}: failures sent")
            )
        else:
            bad.append(Evidence.object("issuance_job", job, "failures never read"))
    if bad:
        return failed(bad, f"{len(bad)} of {_plural(len(failing), 'job')} with failures never read")
    return passed(proof, f"the failures of {_plural(len(failing), 'job')} read")


MONITORING: tuple[Item, ...] = (
    Item(
        "partner.monitoring.polled",
        MONITORING_SECTION,
        "Get Issuance Job endpoint polled for job status (OR webhook subscription active)",
        AUTOMATIC,
        monitoring_polled,
        advice="Poll `GET /partner/issuance_jobs/{id}` for each job (from 1 s, backing off), "
        "or have a webhook endpoint subscribed to `reward_batch.completed`.",
        exercise="Issue rewards and poll the job in the window.",
    ),
    Item(
        "partner.monitoring.states",
        MONITORING_SECTION,
        "Job state transitions handled: `pending` -> `processing` -> `completed` / `failed`",
        AUTOMATIC,
        _following(
            TERMINAL,
            "followed to a terminal state",
            "abandoned before a terminal state",
            BATCH_COMPLETED,
        ),
        advice="Keep polling a job while it is `pending` or `processing`, until `completed` "
        "or `failed`.",
        exercise="Issue rewards and poll the job until it is `completed` or `failed`.",
    ),
    Item(
        "partner.monitoring.counts",
        MONITORING_SECTION,
        "On completion: `success_count` and `failure_count` surfaced",
        AUTOMATIC,
        _following(
            TERMINAL,
            "read once finished (success_count, failure_count)",
            "never read once finished",
            BATCH_COMPLETED,
        ),
        advice="Read the finished job (or its `reward_batch.completed` webhook) and surface "
        "`success_count` and `failure_count`.",
        exercise="Issue rewards and read the job once it is finished.",
    ),
    Item(
        "partner.monitoring.failures",
        MONITORING_SECTION,
        "Failed issuances: error details (identifier\\_index, identifier\\_type, error "
        "message) handled",
        AUTOMATIC,
        monitoring_failures,
        advice="Read the finished job's `summary.failures` (or the batch webhook's `failures`) "
        "and map each back to the identifier sent.",
        exercise="Issue to an identifier that fails (an unknown email), or run with `--faults` "
        "(one identifier of a job fails), and read the finished job.",
    ),
    Item(
        "partner.monitoring.surfaced",
        MONITORING_SECTION,
        "Failure information surfaced to merchants (not silently dropped)",
        ATTESTED,
        advice="Show the merchant each failed identifier and why, then have an admin attest it.",
    ),
)


# --- Revocation ----------------------------------------------------------------------------------


async def revocation_tested(ctx: Context) -> Outcome:
    revokes = _on(ctx, REVOKE)
    if not revokes:
        return not_exercised("no Revoke Issuance Job request in the window")
    accepted = [r for r in revokes if r.status == 202]
    if not accepted:
        return failed(
            (Evidence.of(r, f"revocation refused ({r.status})") for r in revokes),
            f"none of {_plural(len(revokes), 'revocation')} was accepted",
        )
    return passed(
        (Evidence.of(r, f"job {r.object_id} revocation accepted") for r in accepted),
        f"{_plural(len(accepted), 'revocation')} accepted",
    )


async def revocation_states(ctx: Context) -> Outcome:
    revokes = _on(ctx, REVOKE)
    if not revokes:
        return not_exercised("no Revoke Issuance Job request in the window")
    bad = [r for r in revokes if r.status == 422]
    if bad:
        return failed(
            (
                Evidence.of(r, f"job {r.object_id} not completed or failed (422)")
                for r in bad[:MAX_EVIDENCE]
            ),
            f"{len(bad)} of {_plural(len(revokes), 'revocation')} of a job neither completed "
            "nor failed",
        )
    return passed(
        _proof(revokes, "revoked a completed or failed job"),
        f"{_all(len(revokes), 'revocation')} of completed or failed jobs",
    )


async def revocation_async(ctx: Context) -> Outcome:
    accepted: dict[str, Req] = {}
    for r in _on(ctx, REVOKE):
        if r.status == 202 and r.object_id:
            accepted.setdefault(r.object_id, r)
    if not accepted:
        return not_exercised("no revocation accepted (202) in the window")
    reads = _reads(ctx)
    delivered = await _delivered_jobs(ctx, BATCH_REVOKED)
    proof: list[Evidence] = []
    bad: list[Evidence] = []
    for job, revoke in accepted.items():
        later = [g for g in reads.get(job, ()) if g.t >= revoke.t]
        seen = _read_in(later, ("revoked",))
        if seen is not None:
            proof.append(Evidence.of(seen, f"job {job} followed to revoked"))
        elif job in delivered:
            proof.append(Evidence.object("webhook_delivery", delivered[job], f"job {job} revoked"))
        else:
            last = later[-1] if later else revoke
            bad.append(Evidence.of(last, f"job {job}: never read revoked after its 202"))
    if bad:
        return failed(
            bad,
            f"{len(bad)} of {_plural(len(accepted), 'revocation')} not followed to revoked",
        )
    return passed(proof, f"{_all(len(accepted), 'revocation')} followed to revoked")


REVOCATION: tuple[Item, ...] = (
    Item(
        "partner.revocation.tested",
        REVOCATION_SECTION,
        "Revoke Issuance Job endpoint tested for error correction / fraud prevention",
        CONDITIONAL,
        revocation_tested,
        advice="Revoke a completed job with `POST /partner/issuance_jobs/{id}/revoke`.",
        exercise="If the integration revokes, revoke a completed job in the window.",
        feature="revocation",
    ),
    Item(
        "partner.revocation.states",
        REVOCATION_SECTION,
        "Only `completed` or `failed` jobs revoked (422 expected for "
        "pending/processing/revoking/revoked)",
        CONDITIONAL,
        revocation_states,
        advice="Read the job first and revoke it only when it is `completed` or `failed`.",
        exercise="If the integration revokes, revoke a completed job in the window.",
        feature="revocation",
    ),
    Item(
        "partner.revocation.async",
        REVOCATION_SECTION,
        "Asynchronous revocation handled (202 Accepted -> `revoking` state)",
        CONDITIONAL,
        revocation_async,
        advice="After the 202 (`revoking`), poll the job until it is `revoked`.",
        exercise="If the integration revokes, revoke a completed job and poll it until `revoked`.",
        feature="revocation",
    ),
)


# --- Webhooks ------------------------------------------------------------------------------------

LOOPBACK_NAMES = ("localhost",)


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_verdict(url: str, environment: str) -> str | None:
    """Why the URL is not acceptable, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a valid URL"
    if not parts.hostname:
        return "not a valid URL"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and environment != "production" and _loopback(parts.hostname):
        return None
    return f"{parts.scheme or 'no scheme'}, not https"


async def webhooks_https(ctx: Context) -> Outcome:
    endpoints = (await _subscription(ctx)).endpoints
    if not endpoints:
        return not_exercised("no enabled webhook endpoint subscribed to the Partner events")
    bad: list[Evidence] = []
    proof: list[Evidence] = []
    for e in endpoints:
        why = _url_verdict(e.url, ctx.client.environment)
        if why:
            bad.append(Evidence.object("webhook_endpoint", e.id, why))
        elif e.url.startswith("https"):
            proof.append(Evidence.object("webhook_endpoint", e.id, "https"))
        else:
            proof.append(
                Evidence.object(
                    "webhook_endpoint",
                    e.id,
                    "http on loopback: the lab's allowance, https required in production",
                )
            )
    if bad:
        return failed(bad, f"{len(bad)} of {_plural(len(endpoints), 'endpoint')} not https")
    return passed(proof, f"{_all(len(endpoints), 'endpoint')} valid")


async def _attempts(ctx: Context) -> list[tuple[WebhookAttempt, str]]:
    """The window's attempts of the client's Partner deliveries, with their event type."""
    if "attempts" not in ctx.memo:
        rows = await ctx.session.execute(
            select(WebhookAttempt, WebhookDelivery.event_type)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(
                WebhookDelivery.client_id == ctx.client.id,
                WebhookDelivery.event_type.in_(PARTNER_EVENTS),
                WebhookAttempt.created_at >= ctx.window.since,
                WebhookAttempt.created_at < ctx.window.until,
            )
            .order_by(WebhookAttempt.created_at, WebhookAttempt.id)
        )
        ctx.memo["attempts"] = [(a, t) for a, t in rows]
    found: list[tuple[WebhookAttempt, str]] = ctx.memo["attempts"]
    return found


async def webhooks_timely(ctx: Context) -> Outcome:
    attempts = await _attempts(ctx)
    if not attempts:
        return not_exercised("no webhook delivery attempt in the window")
    bad = [a for a, _ in attempts if a.status_code is None or a.latency_ms > WEBHOOK_TIMEOUT_MS]
    if bad:
        return failed(
            (
                Evidence.object(
                    "webhook_delivery",
                    a.delivery_id,
                    f"attempt {a.attempt}: no answer within 15 s ({a.error or a.latency_ms})",
                )
                for a in bad
            ),
            f"{len(bad)} of {_plural(len(attempts), 'attempt')} unanswered within 15 s",
        )
    slowest = max(a.latency_ms for a, _ in attempts)
    return passed(
        (
            Evidence.object("webhook_delivery", a.delivery_id, f"answered in {a.latency_ms} ms")
            for a, _ in attempts[:2]
        ),
        f"{_all(len(attempts), 'attempt')} answered, the slowest in {slowest} ms",
    )


def _event_judge(event_type: str) -> Any:
    async def judge(ctx: Context) -> Outcome:
        attempts = [a for a, t in await _attempts(ctx) if t == event_type]
        if not attempts:
            return not_exercised(f"no {event_type} delivery attempt in the window")
        bad = [a for a in attempts if not a.success]
        if bad:
            return failed(
                (
                    Evidence.object(
                        "webhook_delivery",
                        a.delivery_id,
                        f"attempt {a.attempt}: {a.status_code or a.error}, not 2xx",
                    )
                    for a in bad
                ),
                f"{len(bad)} of {_plural(len(attempts), event_type + ' attempt')} not answered 2xx",
            )
        return passed(
            (
                Evidence.object("webhook_delivery", a.delivery_id, f"answered {a.status_code}")
                for a in attempts[:2]
            ),
            f"{_all(len(attempts), event_type + ' attempt')} answered 2xx",
        )

    return judge


WEBHOOKS: tuple[Item, ...] = (
    Item(
        "partner.webhooks.https",
        WEBHOOKS_SECTION,
        "Webhook endpoint is a valid HTTPS URL",
        CONDITIONAL,
        webhooks_https,
        advice="Register an `https://` URL (plain http is only allowed on loopback for a demo "
        "or UAT client).",
        exercise="If the integration uses webhooks, have its endpoint registered for the client.",
        feature="webhooks",
    ),
    Item(
        "partner.webhooks.timely",
        WEBHOOKS_SECTION,
        "Endpoint responds to POST requests within 15 seconds",
        CONDITIONAL,
        webhooks_timely,
        advice="Answer each webhook at once (2xx) and do the work afterwards; Bestow gives up "
        "after 15 s.",
        exercise="If the integration uses webhooks, issue rewards so that events are sent.",
        feature="webhooks",
    ),
    Item(
        "partner.webhooks.reward_issued",
        WEBHOOKS_SECTION,
        "`reward.issued` webhook handled (individual reward notifications)",
        CONDITIONAL,
        _event_judge(ISSUED),
        advice="Answer every `reward.issued` POST with a 2xx (deduplicate on `webhook-id`).",
        exercise="If the integration uses webhooks, issue rewards so that `reward.issued` is sent.",
        feature="webhooks",
    ),
    Item(
        "partner.webhooks.batch_completed",
        WEBHOOKS_SECTION,
        "`reward.batch_completed` webhook handled (batch completion summary)",
        CONDITIONAL,
        _event_judge(BATCH_COMPLETED),
        advice="Answer every `reward_batch.completed` POST with a 2xx.",
        exercise="If the integration uses webhooks, issue rewards so that a job finishes.",
        feature="webhooks",
    ),
)
