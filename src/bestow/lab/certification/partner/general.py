"""Thanx's checklist, the sections judged from the traffic alone: API Headers & General,
Discovery, Rate Limits and Submission Format."""

from __future__ import annotations

from bestow.lab.certification.context import Context, Req
from bestow.lab.certification.core import (
    ATTESTED,
    AUTOMATIC,
    Evidence,
    Item,
    Outcome,
    failed,
    not_exercised,
    passed,
)

HEADERS_SECTION = "API Headers & General"
ACCEPT_VERSION = "v4.0"


def _every(ctx: Context, wanted: str, offends: object, what: str) -> Outcome:
    """Pass when no Partner request offends; evidence: the first offending requests, or the
    first and last conforming ones."""
    assert callable(offends)
    requests = list(ctx.of_surface())
    if not requests:
        return not_exercised("no Partner API request in the window")
    bad = [r for r in requests if offends(r)]
    if bad:
        return failed(
            (Evidence.of(r, what) for r in bad),
            f"{len(bad)} of {len(requests)} requests {what}",
        )
    proof = [requests[0]] if len(requests) == 1 else [requests[0], requests[-1]]
    return passed(
        (Evidence.of(r, f"carries {wanted}") for r in proof),
        f"all {len(requests)} requests carry {wanted}",
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
    if not r.has_body:
        return False
    media = r.values.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return media != "application/json"


async def content_type(ctx: Context) -> Outcome:
    return _every(
        ctx,
        "Content-Type: application/json (requests with a body)",
        _no_json_type,
        "have a body without Content-Type: application/json",
    )


async def user_agent(ctx: Context) -> Outcome:
    return _every(ctx, "User-Agent", lambda r: not r.values.get("User-Agent"), "lack User-Agent")


HEADERS: tuple[Item, ...] = (
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

DISCOVERY: tuple[Item, ...] = ()
RATE_LIMITS: tuple[Item, ...] = ()
SUBMISSION_SECTION = "Submission Format"
SUBMISSION: tuple[Item, ...] = (
    Item(
        "partner.submission.demo",
        SUBMISSION_SECTION,
        "Ready to demo on a video call: discovery, campaign creation, reward issuance, job "
        "monitoring, error handling, revocation (if applicable)",
        ATTESTED,
        advice="Walk the partner's team through the flow live, then have an admin attest it.",
    ),
)
