#!/usr/bin/env python3
"""The Partner API certification demo, end to end, with the ``bestow_client`` SDK.

What the vendor's pre-certification checklist asks an integration to show on the call, each step
checked and printed:

1. discovery: the merchants granted to the client and each one's reward templates, then the same
   again served from the SDK's cache (no request sent);
2. campaign creation: a treatment variant on a published template and a "Control" variant
   without one, running 30 days, redeemable 60;
3. issuance: demo members by email and by phone (written as a person would, normalised to
   E.164 before sending), an invalid phone caught client-side, an unknown email; the same
   request repeated with its idempotency key answers the same job; hold-outs on the Control;
4. job monitoring: ``wait()`` polls with backoff, printing progress, until ``completed``; the
   success and failure counts, and each failure mapped back to the identifier sent;
5. error handling: typed errors, a ``NotFoundError`` for an unknown campaign, an
   ``UnprocessableEntityError`` for the issue's idempotency key sent with another body;
6. revocation: the completed job revoked (``revoking``) and followed until ``revoked`` (only a
   job read ``completed`` or ``failed`` is revoked: revoking one in another state is a 422).

Its traffic is what the certification judges (``bestow certify report CLIENT --surface
partner``): every header on every request, discovery once and then the cache, a key on every
issue, jobs polled from 1 s with backoff until they finish, their failures read, the revocation
followed.

This is an integrator's program: it uses the SDK (``pip install ./sdk``) and never imports
``bestow``. Against ``make run``::

    .venv/bin/bestow demo --json | .venv/bin/python examples/certification_flow.py --demo-json -

It exits 0 when every check passed, 1 when one failed, 2 when it could not run at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bestow_client import (
    APIConnectionError,
    Bestow,
    BestowError,
    InvalidPhoneNumber,
    NotFoundError,
    UnprocessableEntityError,
)
from bestow_client.partner import Identifier, IssuanceJob, Partner, identifier

APP_NAME = "certification-flow/1.0"
REQUIRED_HEADERS = ("authorization", "x-clientid", "accept-version", "user-agent")


class Usage(Exception):
    """The run cannot start: exit 2."""


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def step(self, title: str) -> None:
        print(f"\n== {title} ==")

    def note(self, text: str) -> None:
        print(f"       {text}")

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"[{'PASS' if ok else 'FAIL'}] {what}" + (f": {detail}" if detail else ""))
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        return ok


class RequestLog:
    """Every request the SDK sends (an httpx event hook): to show that the cache spares
    requests and that each one carries the checklist's headers."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", default=os.environ.get("BESTOW_BASE_URL"))
    parser.add_argument("--demo-json", metavar="FILE", help="`bestow demo --json`; - for stdin")
    parser.add_argument("--client-id", default=os.environ.get("BESTOW_PARTNER_CLIENT_ID"))
    parser.add_argument("--access-token", default=os.environ.get("BESTOW_PARTNER_ACCESS_TOKEN"))
    parser.add_argument("--merchant", help="merchant id (default: the demo's, else the first)")
    parser.add_argument("--email", action="append", default=[], help="a member's email")
    parser.add_argument("--phone", action="append", default=[], help="a member's phone")
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], list[str]]:
    demo: dict[str, Any] = {}
    if args.demo_json:
        try:
            text = sys.stdin.read() if args.demo_json == "-" else Path(args.demo_json).read_text()
            demo = json.loads(text).get("partner") or {}
        except (OSError, ValueError, AttributeError) as error:
            raise Usage(f"--demo-json {args.demo_json}: {error}") from None
    args.client_id = args.client_id or demo.get("client_id")
    args.access_token = args.access_token or demo.get("access_token")
    args.merchant = args.merchant or demo.get("merchant_id")
    if not (args.client_id and args.access_token):
        raise Usage("no credentials: --demo-json, --client-id/--access-token or the environment")
    members = demo.get("members") or []
    emails = args.email or [m["email"] for m in members[:3]] + [m["email"] for m in members[6:8]]
    phones = args.phone or [m["phone"] for m in members[3:6]]
    if len(emails) < 3 or not phones:
        raise Usage("give members: --demo-json, or --email (3 or more) and --phone")
    return demo, emails, phones


def as_a_person_writes(phone: str) -> str:
    """``+14155550003`` as ``(415) 555-0003``: the SDK must normalise it before sending."""
    if phone.startswith("+1") and len(phone) == 12:
        return f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    return phone


def progress(label: str) -> Callable[[IssuanceJob], None]:
    def show(job: IssuanceJob) -> None:
        print(
            f"       {label} {job.id}: {job.state}, {job.processed_count}/{job.total_count} "
            f"({job.progress_percent}%)"
        )

    return show


def run(
    partner: Partner,
    log: RequestLog,
    report: Report,
    args: argparse.Namespace,
    demo: dict[str, Any],
    emails: list[str],
    phones: list[str],
) -> None:
    tag = uuid.uuid4().hex[:8]

    report.step("1. Discovery")
    merchants = partner.merchants()
    report.check(bool(merchants), "merchants", ", ".join(f"{m.id} {m.name}" for m in merchants))
    templates = {}
    for merchant in merchants:
        templates[merchant.id] = partner.reward_templates(merchant.id)
        names = ", ".join(f"{t.name} ({t.id})" for t in templates[merchant.id])
        report.check(bool(templates[merchant.id]), f"reward templates of {merchant.id}", names)
    sent = len(log.requests)
    partner.merchants()
    for merchant in merchants:
        partner.reward_templates(merchant.id)
    report.check(
        len(log.requests) == sent,
        "discovery again is served from the cache",
        f"{len(log.requests) - sent} requests sent (refreshed every 5 minutes)",
    )
    merchant_id = args.merchant or merchants[0].id
    if merchant_id not in templates or not templates[merchant_id]:
        raise Usage(f"merchant {merchant_id} is not granted or has no published template")
    template = next(
        (t for t in templates[merchant_id] if t.id == demo.get("template_id")),
        templates[merchant_id][0],
    )

    report.step("2. Campaign creation")
    start = datetime.now(UTC).replace(microsecond=0)
    campaign = partner.create_campaign(
        merchant_id=merchant_id,
        name=f"Certification demo {tag}",
        objective="Win back lapsed members with a discount",
        fine_print="One per member. Not valid with other offers. Expires 60 days after issue.",
        start_at=start,
        end_at=start + timedelta(days=30),
        redeemable_from=start,
        redeemable_to=start + timedelta(days=60),
        variants=[
            {"name": "Treatment", "reward_template_id": template.id},
            {"name": "Control", "reward_template_id": None},
        ],
    )
    treatment, control = campaign.variant("Treatment"), campaign.variant("Control")
    report.check(
        treatment.reward_template_id == template.id and control.reward_template_id is None,
        f"campaign {campaign.id}",
        f"{campaign.start_at} -> {campaign.end_at}; Treatment on {template.name!r}, "
        "Control without a template (hold-outs)",
    )
    report.note(f"Treatment {treatment.id}, Control {control.id}")

    report.step("3. Issuance")
    wanted: list[str] = [*emails[:3], *(as_a_person_writes(p) for p in phones), "12345"]
    unknown = f"nobody-{tag}@example.org"
    wanted.append(unknown)
    sendable: list[Identifier] = []
    for value in wanted:
        try:
            sendable.append(identifier(value, default_region="US"))
        except InvalidPhoneNumber as error:
            report.check(
                True, "invalid phone caught before sending", f"InvalidPhoneNumber: {error}"
            )
    report.note(", ".join(f"{i.type} {i.value}" for i in sendable))
    report.check(
        all(i.value.startswith("+") for i in sendable if i.type == "phone"),
        "phones normalised to E.164",
        ", ".join(i.value for i in sendable if i.type == "phone"),
    )
    key = f"certification-{tag}"
    [job] = partner.issue(
        merchant_id=merchant_id,
        campaign_id=campaign.id,
        variant_id=treatment.id,
        identifiers=sendable,
        idempotency_key=key,
    )
    report.check(job.state in ("pending", "processing"), f"job {job.id} accepted", job.state)
    issue_posts = sum(1 for r in log.requests if r.url.path == "/partner/campaigns/issue")
    post = next(r for r in reversed(log.requests) if r.url.path == "/partner/campaigns/issue")
    present = [
        h for h in (*REQUIRED_HEADERS, "content-type", "x-idempotency-key") if h in post.headers
    ]
    report.check(
        len(present) == len(REQUIRED_HEADERS) + 2,
        "the issue request's headers",
        ", ".join(present) + f"; Accept-Version {post.headers.get('accept-version')}",
    )
    [replayed] = partner.issue(
        merchant_id=merchant_id,
        campaign_id=campaign.id,
        variant_id=treatment.id,
        identifiers=sendable,
        idempotency_key=key,
    )
    report.check(
        replayed.id == job.id,
        "the same request again with its idempotency key answers the same job",
        f"{replayed.id} ({issue_posts + 1} POSTs, 1 job)",
    )
    [held_out] = partner.issue(
        merchant_id=merchant_id,
        campaign_id=campaign.id,
        variant_id=control.id,
        identifiers=emails[3:5] or emails[:1],
    )
    report.note(f"Control job {held_out.id}: hold-outs, no reward")

    report.step("4. Monitoring")
    job = partner.wait(job, on_progress=progress("treatment"))
    report.check(job.state == "completed", f"job {job.id} {job.state}")
    # One failure is expected (the unknown email); a certification run with --faults makes one
    # more identifier fail: each failure is mapped back to what was sent, whatever its cause.
    report.check(
        job.success_count + job.failure_count == job.total_count and job.failure_count >= 1,
        "counts surfaced",
        f"{job.success_count} rewarded, {job.failure_count} failed of {job.total_count}",
    )
    for failure in job.failures:
        sent = sendable[failure.identifier_index]
        report.check(
            bool(failure.error) and sent.type == failure.identifier_type,
            f"failure #{failure.identifier_index} ({sent.type} {sent.value})",
            failure.error,
        )
    report.check(
        any(sendable[f.identifier_index].value == unknown for f in job.failures),
        "the unknown email is reported",
        unknown,
    )
    held_out = partner.wait(held_out, on_progress=progress("control"))
    report.check(
        held_out.state == "completed" and held_out.failure_count == 0,
        f"Control job {held_out.id} {held_out.state}",
        f"{held_out.success_count} hold-outs recorded",
    )

    report.step("5. Error handling")
    try:
        partner.campaign(f"cmp_{tag}doesnotexist")
        report.check(False, "an unknown campaign is refused")
    except NotFoundError as error:
        report.check(
            error.status_code == 404,
            "an unknown campaign is refused",
            f"NotFoundError {error.status_code} {error.code}: {error.message}",
        )
    # A key names one request: sent again with another body, it is refused, never a new job.
    try:
        partner.issue(
            merchant_id=merchant_id,
            campaign_id=campaign.id,
            variant_id=treatment.id,
            identifiers=sendable[:1],
            idempotency_key=key,
        )
        report.check(False, "the issue's key with another body is refused")
    except UnprocessableEntityError as error:
        report.check(
            error.status_code == 422,
            "the issue's key with another body is refused",
            f"UnprocessableEntityError {error.status_code} {error.code}: {error.message}",
        )

    report.step("6. Revocation")
    # Only a job read completed or failed is revoked: the certification fails a revocation the
    # API answers 422 (a job pending, processing, revoking or revoked).
    if job.state not in ("completed", "failed"):
        report.check(False, f"job {job.id} is {job.state}: not revoked")
        return
    revoking = partner.revoke(job.id, merchant_id=merchant_id)
    report.check(revoking.state == "revoking", f"revoke {job.id}: 202 accepted", revoking.state)
    revoked = partner.wait(
        revoking, until=frozenset({"revoked"}), on_progress=progress("revocation")
    )
    report.check(revoked.state == "revoked", f"job {job.id} {revoked.state}")


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    report = Report()
    log = RequestLog()
    try:
        demo, emails, phones = settings(args)
        base_url = args.base_url or "http://127.0.0.1:8000"
        http = httpx.Client(base_url=base_url, timeout=30.0, event_hooks={"request": [log]})
        print(f"Certification flow against {base_url} as client {args.client_id}")
        with Bestow(base_url=base_url, app_name=APP_NAME, http_client=http) as bestow:
            partner = bestow.partner(client_id=args.client_id, access_token=args.access_token)
            run(partner, log, report, args, demo, emails, phones)
    except Usage as error:
        print(f"certification_flow.py: {error}", file=sys.stderr)
        return 2
    except APIConnectionError as error:
        print(f"certification_flow.py: cannot reach the server: {error}", file=sys.stderr)
        return 2
    except BestowError as error:
        report.check(False, "unexpected error", f"{type(error).__name__}: {error}")
    print()
    if report.failed:
        print(
            f"Certification flow: FAIL ({len(report.failed)} of "
            f"{report.passed + len(report.failed)} checks failed: {'; '.join(report.failed)})"
        )
        return 1
    print(f"Certification flow: PASS ({report.passed} checks, {len(log.requests)} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
