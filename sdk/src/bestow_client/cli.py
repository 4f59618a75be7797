"""``bestow-client``: Bestow's four API surfaces from the command line, through the SDK.

    bestow-client --demo-json demo.json discover
    bestow-client campaigns create --name "Spring" --control -q
    bestow-client issue --campaign cmp_... --variant Treatment \\
        --file recipients.csv --default-region US --failures failures.csv
    bestow-client jobs watch job_... --failures-csv job-failures.csv
    bestow-client operator rewards create --name "Spins" --bet-value 0.50 --bet-count 3
    bestow-client webhooks listen --port 8080 --secret whsec_...

Each connection and credential setting (``Setting``) comes from its flag, else from
``--demo-json`` (the output of ``bestow demo --json``, ``-`` for standard input; only the scalar
at the setting's path), else from the environment: ``BESTOW_BASE_URL`` (default
``http://127.0.0.1:8000``), ``BESTOW_APP_NAME``, ``BESTOW_PARTNER_CLIENT_ID``,
``BESTOW_PARTNER_ACCESS_TOKEN``, ``BESTOW_VOUCHERS_CLIENT_ID``, ``BESTOW_VOUCHERS_CLIENT_SECRET``,
``BESTOW_LOYALTY_CLIENT_ID``, ``BESTOW_LOYALTY_CLIENT_SECRET``, ``BESTOW_OPERATOR_ID``,
``BESTOW_OPERATOR_SHARED_KEY``. They are listed once, by ``bestow-client --help``, and accepted
before or after the command. ``--json`` prints JSON, ``-q`` only the ids. Exit status: 0 done,
1 the API refused or could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from bestow_client._errors import APIStatusError, BestowError, InvalidPhoneNumber
from bestow_client._version import VERSION
from bestow_client.client import DEFAULT_BASE_URL, Bestow
from bestow_client.loyalty import Loyalty
from bestow_client.operator import (
    Bet,
    BulkEnrollment,
    Enrollment,
    Operator,
    OperatorCampaign,
    OperatorReward,
)
from bestow_client.partner import Identifier, IssuanceJob, Partner, identifier
from bestow_client.vouchers import Voucher, Vouchers

PROG = "bestow-client"
IDENTIFIER_COLUMNS = ("identifier", "email", "phone")
FAILURE_FIELDS = ("line", "identifier", "reason", "job_id", "identifier_index", "identifier_type")
BAR_WIDTH = 30
ACTOR = "bestow-client"
PLAYER_HEADERS = frozenset({"player", "player_id", "operatorplayerid"})


class Usage(Exception):
    """A missing or bad argument: exit 2."""


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """Where a connection or credential setting comes from, first found wins: its flag
    (``--flag``), the ``--demo-json`` document at ``demo`` (a string or a number only; the
    demo has no such setting when ``demo`` is empty), the environment variable ``env``, then
    ``default``."""

    flag: str
    env: str | None = None
    demo: tuple[str, ...] = ()
    default: str | None = None

    @property
    def where(self) -> str:
        return f"--{self.flag.replace('_', '-')}" + (f" or {self.env}" if self.env else "")


BASE_URL = Setting("base_url", "BESTOW_BASE_URL", default=DEFAULT_BASE_URL)
APP_NAME = Setting("app_name", "BESTOW_APP_NAME", default=f"{PROG}-cli")
PARTNER_CLIENT_ID = Setting("client_id", "BESTOW_PARTNER_CLIENT_ID", ("partner", "client_id"))
PARTNER_TOKEN = Setting("access_token", "BESTOW_PARTNER_ACCESS_TOKEN", ("partner", "access_token"))
MERCHANT = Setting("merchant", "BESTOW_PARTNER_MERCHANT_ID", ("partner", "merchant_id"))
TEMPLATE = Setting("template", None, ("partner", "template_id"))
VOUCHERS_CLIENT_ID = Setting(
    "vouchers_client_id", "BESTOW_VOUCHERS_CLIENT_ID", ("vouchers", "client_id")
)
VOUCHERS_SECRET = Setting(
    "vouchers_client_secret", "BESTOW_VOUCHERS_CLIENT_SECRET", ("vouchers", "client_secret")
)
LOYALTY_CLIENT_ID = Setting(
    "loyalty_client_id", "BESTOW_LOYALTY_CLIENT_ID", ("loyalty", "client_id")
)
LOYALTY_SECRET = Setting(
    "loyalty_client_secret", "BESTOW_LOYALTY_CLIENT_SECRET", ("loyalty", "client_secret")
)
ACCOUNT = Setting("account", None, ("loyalty", "account", "account_id"))
BUSINESS_UNIT = Setting("business_unit", None, ("loyalty", "business_unit"))
REWARD_ID = Setting("reward", None, ("loyalty", "reward_id"))
OPERATOR_ID = Setting("operator_id", "BESTOW_OPERATOR_ID", ("operator", "operator_id"))
OPERATOR_KEY = Setting(
    "operator_shared_key", "BESTOW_OPERATOR_SHARED_KEY", ("operator", "primary_shared_key")
)
OPERATOR_CAMPAIGN = Setting("campaign", None, ("operator", "campaign_id"))
OPERATOR_REWARD = Setting("reward", None, ("operator", "reward_id"))


def demo_value(demo: dict[str, Any], path: Sequence[str]) -> str | None:
    """The scalar at ``path`` in the demo document; never a part of the document itself."""
    if not path:
        return None
    found: Any = demo
    for part in path:
        found = found.get(part) if isinstance(found, dict) else None
    if isinstance(found, bool) or not isinstance(found, str | int):
        return None
    return str(found)


@dataclass
class Context:
    args: argparse.Namespace
    demo: dict[str, Any]
    out: TextIO
    err: TextIO
    opened: list[Bestow] = dataclasses.field(default_factory=list)

    @property
    def as_json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def quiet(self) -> bool:
        return bool(getattr(self.args, "quiet", False))

    def value(self, setting: Setting) -> str | None:
        given = getattr(self.args, setting.flag, None)
        if given not in (None, ""):
            return str(given)
        found = demo_value(self.demo, setting.demo)
        if found not in (None, ""):
            return found
        from_env = os.environ.get(setting.env) if setting.env else None
        return from_env or setting.default

    def need(self, setting: Setting) -> str:
        found = self.value(setting)
        if not found:
            raise Usage(f"{setting.where} is required")
        return found

    def client(self) -> Bestow:
        bestow = Bestow(base_url=self.need(BASE_URL), app_name=self.need(APP_NAME))
        self.opened.append(bestow)
        return bestow

    def show_environment(self) -> None:
        """Which environment the credentials talked to (the server's ``X-Bestow-Environment``),
        on standard error, so that a demo or UAT run is never mistaken for production."""
        seen = sorted({b.environment for b in self.opened if b.environment})
        if seen:
            self.err.write(f"{PROG}: environment: {', '.join(seen)}\n")
            self.err.flush()

    def partner(self, bestow: Bestow) -> Partner:
        return bestow.partner(
            client_id=self.need(PARTNER_CLIENT_ID),
            access_token=self.need(PARTNER_TOKEN),
            default_region=getattr(self.args, "default_region", None),
        )

    def merchant(self) -> str:
        return self.need(MERCHANT)

    def vouchers(self, bestow: Bestow) -> Vouchers:
        return bestow.vouchers(
            client_id=self.need(VOUCHERS_CLIENT_ID), client_secret=self.need(VOUCHERS_SECRET)
        )

    def loyalty(self, bestow: Bestow) -> Loyalty:
        return bestow.loyalty(
            client_id=self.need(LOYALTY_CLIENT_ID), client_secret=self.need(LOYALTY_SECRET)
        )

    def operator(self, bestow: Bestow) -> Operator:
        return bestow.operator(
            operator_id=self.need(OPERATOR_ID), shared_key=self.need(OPERATOR_KEY)
        )

    def emit(self, data: Any, lines: Sequence[str], ids: Sequence[str] | None = None) -> None:
        """``data`` as JSON with ``--json``; ``ids``, one a line, with ``--quiet`` (for
        ``$(...)`` in a shell); else ``lines``."""
        if self.quiet and ids is not None and not self.as_json:
            lines = ids
        if self.as_json:
            json.dump(plain(data), self.out, indent=2, default=str)
            self.out.write("\n")
        else:
            for line in lines:
                self.out.write(line + "\n")
        self.out.flush()


def load_demo(source: str | None) -> dict[str, Any]:
    if not source:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        demo = json.loads(text)
    except (OSError, ValueError) as error:
        raise Usage(f"--demo-json {source}: {error}") from None
    if not isinstance(demo, dict):
        raise Usage(f"--demo-json {source}: not a JSON object")
    return demo


def plain(value: Any) -> Any:
    """JSON-ready: a dataclass becomes the server's body when it kept it (``raw``), else a dict."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        raw = getattr(value, "raw", None)
        if isinstance(raw, dict) and raw:
            return raw
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "raw"
        }
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


# --- partner: discovery and campaigns -------------------------------------------------------------


def cmd_discover(ctx: Context) -> int:
    with ctx.client() as bestow:
        partner = ctx.partner(bestow)
        found = []
        lines = []
        for merchant in partner.merchants():
            templates = partner.reward_templates(merchant.id)
            found.append(
                {
                    "id": merchant.id,
                    "name": merchant.name,
                    "handle": merchant.handle,
                    "reward_templates": [
                        {"id": t.id, "name": t.name, "type": t.type, "description": t.description}
                        for t in templates
                    ],
                }
            )
            lines.append(f"merchant {merchant.id} {merchant.name} ({merchant.handle})")
            lines += [f"  template {t.id} {t.name} [{t.type}]" for t in templates]
            if not templates:
                lines.append("  no published reward templates")
    ctx.emit({"merchants": found}, lines or ["no merchants granted to this client"])
    return 0


def cmd_campaigns_create(ctx: Context) -> int:
    args = ctx.args
    if args.days < 1:
        raise Usage("--days must be at least 1")
    template = ctx.need(TEMPLATE)
    start = datetime.now(UTC).replace(microsecond=0)
    end = start + timedelta(days=args.days)
    variants: list[dict[str, str | None]] = [
        {"name": args.variant_name, "reward_template_id": template}
    ]
    if args.control:
        variants.append({"name": "Control", "reward_template_id": None})
    with ctx.client() as bestow:
        campaign = ctx.partner(bestow).create_campaign(
            merchant_id=ctx.merchant(),
            name=args.name,
            objective=args.objective,
            fine_print=args.fine_print,
            start_at=start,
            end_at=end,
            redeemable_from=start,
            redeemable_to=end + timedelta(days=args.redeem_days),
            variants=variants,
        )
    lines = [f"campaign {campaign.id} {campaign.name} {campaign.start_at} -> {campaign.end_at}"]
    lines += [f"  variant {v.id} {v.name}" for v in campaign.variants]
    ctx.emit(campaign, lines, [campaign.id])
    return 0


def cmd_campaigns_list(ctx: Context) -> int:
    with ctx.client() as bestow:
        campaigns = ctx.partner(bestow).campaigns(ctx.merchant())
    lines = [f"campaign {c.id} {c.name} {c.start_at} -> {c.end_at}" for c in campaigns]
    ctx.emit({"campaigns": campaigns}, lines or ["no active campaigns"])
    return 0


def cmd_campaigns_show(ctx: Context) -> int:
    with ctx.client() as bestow:
        campaign = ctx.partner(bestow).campaign(ctx.args.campaign_id)
    lines = [f"campaign {campaign.id} {campaign.name} {campaign.start_at} -> {campaign.end_at}"]
    lines += [f"  variant {v.id} {v.name}" for v in campaign.variants]
    ctx.emit(campaign, lines)
    return 0


# --- partner: issuance ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    number: int
    value: str
    identifier: Identifier


@dataclass(frozen=True)
class FailedLine:
    line: int | None
    identifier: str
    reason: str
    job_id: str = ""
    identifier_index: int | None = None
    identifier_type: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "line": "" if self.line is None else self.line,
            "identifier": self.identifier,
            "reason": self.reason,
            "job_id": self.job_id,
            "identifier_index": "" if self.identifier_index is None else self.identifier_index,
            "identifier_type": self.identifier_type,
        }


def read_identifiers(
    rows: Iterator[list[str]], line_number: Callable[[], int]
) -> Iterator[tuple[int, str]]:
    """``(line number, value)`` of every non-blank line: the first cell, or the first non-empty
    ``identifier``/``email``/``phone`` column when the first line names one."""
    columns: list[int] | None = None
    for row in rows:
        cells = [cell.strip() for cell in row]
        if columns is None:
            named = [c.lower() for c in cells]
            columns = [named.index(n) for n in IDENTIFIER_COLUMNS if n in named] or [0]
            if named and any(n in IDENTIFIER_COLUMNS for n in named):
                continue
        value = next((cells[i] for i in columns if i < len(cells) and cells[i]), "")
        if value:
            yield line_number(), value


def load_lines(
    source: TextIO, default_region: str | None
) -> tuple[list[Line], list[FailedLine], int]:
    """The input's identifiers, normalised; the lines refused before sending; the lines read."""
    reader = csv.reader(source)
    good: list[Line] = []
    bad: list[FailedLine] = []
    for number, value in read_identifiers(iter(reader), lambda: reader.line_num):
        try:
            good.append(Line(number, value, identifier(value, default_region)))
        except InvalidPhoneNumber as error:
            bad.append(FailedLine(number, value, str(error), identifier_type="phone"))
    return good, bad, reader.line_num


def derived_key(merchant: str, campaign: str, variant: str, lines: Sequence[Line]) -> str:
    """The same file issued again to the same variant gets the same key: the server answers
    with the jobs it already created instead of rewarding everyone twice."""
    digest = hashlib.sha256(f"{merchant}\n{campaign}\n{variant}\n".encode())
    for line in lines:
        digest.update(f"{line.identifier.type}:{line.identifier.value}\n".encode())
    return f"{PROG}:{digest.hexdigest()}"


class ProgressBar:
    """A plain-text bar on one line of ``stream``, redrawn in place, across several jobs."""

    def __init__(self, stream: TextIO, jobs: Sequence[IssuanceJob], enabled: bool = True):
        self.stream = stream
        self.enabled = enabled
        self.total = sum(j.total_count for j in jobs) or 1
        self.processed = {j.id: j.processed_count for j in jobs}
        self.done = {j.id: j.done for j in jobs}
        self.count = len(jobs)
        self.shown = ""

    def update(self, job: IssuanceJob) -> None:
        self.processed[job.id] = job.processed_count
        self.done[job.id] = job.done
        self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        processed = sum(self.processed.values())
        filled = BAR_WIDTH * processed // self.total
        finished = sum(self.done.values())
        text = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {processed:,}/{self.total:,} "
            f"{processed * 100 // self.total:3d}%  jobs {finished}/{self.count} done"
        )
        if text != self.shown:
            self.stream.write("\r" + text)
            self.stream.flush()
            self.shown = text

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def resolve_variant(partner: Partner, campaign_id: str, variant: str) -> str:
    """A variant id, given its id or its name."""
    campaign = partner.campaign(campaign_id)
    for candidate in campaign.variants:
        if candidate.id == variant:
            return candidate.id
    try:
        return campaign.variant(variant).id
    except KeyError:
        names = ", ".join(f"{v.name} ({v.id})" for v in campaign.variants)
        raise Usage(f"campaign {campaign_id} has no variant {variant!r}: {names}") from None


def failures_path(args: argparse.Namespace) -> Path:
    if args.failures:
        return Path(args.failures)
    if args.file == "-":
        return Path("failures.csv")
    source = Path(args.file)
    return source.with_name(f"{source.stem}-failures.csv")


def server_failures(jobs: Sequence[IssuanceJob], lines: Sequence[Line]) -> list[FailedLine]:
    """Each job's failures, their index mapped back to the input line (jobs hold consecutive
    slices of the identifiers sent, in order)."""
    found = []
    offset = 0
    for job in jobs:
        for failure in job.failures:
            position = offset + failure.identifier_index
            line = lines[position] if 0 <= position < len(lines) else None
            found.append(
                FailedLine(
                    line.number if line else None,
                    line.value if line else "",
                    failure.error,
                    job.id,
                    failure.identifier_index,
                    failure.identifier_type,
                )
            )
        offset += job.total_count
    return found


def cmd_issue(ctx: Context) -> int:
    args = ctx.args
    merchant = ctx.merchant()
    try:
        if args.file == "-":
            good, bad, read = load_lines(sys.stdin, args.default_region)
        else:
            with open(args.file, newline="", encoding="utf-8-sig") as source:
                good, bad, read = load_lines(source, args.default_region)
    except OSError as error:
        raise Usage(f"--file {args.file}: {error}") from None
    path = failures_path(args)
    with ctx.client() as bestow:
        partner = ctx.partner(bestow)
        variant = resolve_variant(partner, args.campaign, args.variant)
        jobs: list[IssuanceJob] = []
        if good:
            key = args.idempotency_key or derived_key(merchant, args.campaign, variant, good)
            jobs = partner.issue(
                merchant_id=merchant,
                campaign_id=args.campaign,
                variant_id=variant,
                identifiers=[line.identifier for line in good],
                idempotency_key=key,
            )
        replayed = {j.id for j in jobs if j.replayed}
        if not ctx.as_json:
            ctx.err.write(
                f"{len(good):,} identifiers sent in {len(jobs)} jobs: "
                + ", ".join(j.id for j in jobs)
                + "\n"
            )
            if replayed and ctx.quiet:
                ctx.err.write(replay_notice(len(replayed), len(jobs)) + "\n")
        bar = ProgressBar(ctx.err, jobs, enabled=bool(jobs) and not args.no_progress)
        bar.draw()
        finished = []
        for job in jobs:
            finished.append(
                partner.wait(job, timeout=args.timeout, on_progress=bar.update)
                if not job.done
                else job
            )
            bar.update(finished[-1])
        bar.close()
    failed = sorted(
        [*bad, *server_failures(finished, good)],
        key=lambda f: (f.line is None, f.line or 0),
    )
    if failed or args.failures:
        write_failures(path, failed)
    succeeded = sum(j.success_count for j in finished)
    result = {
        "lines_read": read,
        "identifiers_sent": len(good),
        "refused_client_side": len(bad),
        "jobs": [
            {
                "id": j.id,
                "state": j.state,
                "total_count": j.total_count,
                "success_count": j.success_count,
                "failure_count": j.failure_count,
                "replayed": j.id in replayed,
            }
            for j in finished
        ],
        "replayed": bool(replayed),
        "success_count": succeeded,
        "failure_count": len(failed),
        "failures_file": str(path) if failed or args.failures else None,
    }
    lines = [
        f"{len(finished)} jobs, {len(good):,} identifiers sent, {len(bad):,} refused before sending"
    ]
    lines += [
        f"  job {j.id} {j.state}: {j.success_count:,} rewarded, {j.failure_count:,} failed"
        f" of {j.total_count:,}" + (" (replayed)" if j.id in replayed else "")
        for j in finished
    ]
    lines.append(f"{succeeded:,} rewarded, {len(failed):,} failures")
    if replayed:
        lines.append(replay_notice(len(replayed), len(finished)))
    if failed or args.failures:
        lines.append(f"failures written to {path}")
    ctx.emit(result, lines, [j.id for j in finished])
    return 0


def replay_notice(replayed: int, jobs: int) -> str:
    which = "all" if replayed == jobs else f"{replayed} of {jobs}"
    return (
        f"replayed: {which} jobs answered from an earlier identical request (same idempotency"
        " key); nobody was rewarded again. Give --idempotency-key to issue anew."
    )


def write_failures(path: Path, failed: Sequence[FailedLine]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=FAILURE_FIELDS)
        writer.writeheader()
        writer.writerows(f.row() for f in failed)


# --- partner: jobs -------------------------------------------------------------------------------


def job_lines(job: IssuanceJob) -> list[str]:
    return (
        [
            f"job {job.id} {job.state}: {job.processed_count:,}/{job.total_count:,} processed "
            f"({job.progress_percent}%), {job.success_count:,} succeeded, "
            f"{job.failure_count:,} failed"
        ]
        + [
            f"  failure #{f.identifier_index} ({f.identifier_type}): {f.error}"
            for f in job.failures[:20]
        ]
        + ([f"  ... {len(job.failures) - 20} more"] if len(job.failures) > 20 else [])
    )


def cmd_jobs(ctx: Context) -> int:
    args = ctx.args
    merchant = ctx.merchant()
    with ctx.client() as bestow:
        partner = ctx.partner(bestow)
        job = partner.job(args.job_id, merchant_id=merchant)
        if args.jobs_command == "watch" and not job.done:
            bar = ProgressBar(ctx.err, [job], enabled=not args.no_progress)
            bar.draw()
            job = partner.wait(job, timeout=args.timeout, on_progress=bar.update)
            bar.close()
        elif args.jobs_command == "revoke":
            job = partner.revoke(args.job_id, merchant_id=merchant)
            if args.wait:
                job = partner.wait(job, timeout=args.timeout, until=frozenset({"revoked"}))
    lines = job_lines(job)
    failures_csv = getattr(args, "failures_csv", None)
    if failures_csv:
        write_failures(
            Path(failures_csv),
            [
                FailedLine(None, "", f.error, job.id, f.identifier_index, f.identifier_type)
                for f in job.failures
            ],
        )
        lines.append(f"{len(job.failures):,} failures written to {failures_csv}")
    ctx.emit(job, lines, [job.id])
    return 0


# --- vouchers, loyalty, operator ----------------------------------------------------------------


def voucher_line(voucher: Voucher) -> str:
    return (
        f"voucher {voucher.id} {voucher.code} {voucher.status} {voucher.product_code} "
        f"{voucher.remaining_amount} {voucher.currency} expires {voucher.expiration}"
    ).replace("  ", " ")


def cmd_vouchers(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        vouchers = ctx.vouchers(bestow)
        if args.vouchers_command == "products":
            products = vouchers.products()
            ctx.emit(
                {"products": products},
                [
                    f"product {p.code} {p.name}" + ("" if p.in_stock else " (out of stock)")
                    for p in products
                ]
                or ["no products"],
            )
        elif args.vouchers_command == "issue":
            orders = vouchers.issue(
                args.product_code, quantity=args.quantity, face_value=args.face_value
            )
            issued = [v for order in orders for v in order.vouchers]
            notes = [
                f"order {o.idempotency_key} replayed (first issued {o.recorded_at})"
                for o in orders
                if o.replayed
            ] + [f"order {o.idempotency_key} partial: {o.error}" for o in orders if o.partial]
            ctx.emit(
                {
                    "vouchers": issued,
                    "orders": [
                        {
                            "idempotency_key": o.idempotency_key,
                            "replayed": o.replayed,
                            "quantity": o.quantity,
                            "error": o.error,
                        }
                        for o in orders
                    ],
                },
                [voucher_line(v) for v in issued] + notes,
            )
        else:
            voucher = vouchers.voucher(args.voucher_id)
            ctx.emit(voucher, [voucher_line(voucher)])
    return 0


def cmd_points(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        award = ctx.loyalty(bestow).award(
            account_id=ctx.need(ACCOUNT),
            business_unit=ctx.need(BUSINESS_UNIT),
            reward_id=ctx.need(REWARD_ID),
            amount=args.amount,
        )
    verb = "awarded" if award.points >= 0 else "deducted"
    ctx.emit(
        award,
        [f"{verb} {abs(award.points)} points: transaction {award.transaction_id} {award.message}"],
    )
    return 0


def operator_line(campaign: OperatorCampaign) -> str:
    return (
        f"campaign {campaign.id} {campaign.name} {campaign.status} "
        f"{campaign.start_time} -> {campaign.end_time or 'no end'}"
    )


def reward_line(reward: OperatorReward) -> str:
    details = reward.raw.get("freeBetDetails") or {}
    if reward.details_type == "Ranged":
        bets = (
            f"{details.get('minBetCount')}-{details.get('maxBetCount')} bets of "
            f"{details.get('minBetValue')}-{details.get('maxBetValue')}"
        )
    else:
        bets = f"{reward.bet_count} bets of {reward.bet_value}"
    return (
        f"reward {reward.id} {reward.name} {reward.status} {reward.details_type}: {bets} "
        f"{reward.currency} on {', '.join(reward.products)} {reward.start_time} -> "
        f"{reward.end_time}"
    )


def enrollment_line(enrollment: Enrollment) -> str:
    return (
        f"enrollment {enrollment.id} player {enrollment.player_id} {enrollment.status}: "
        f"{enrollment.remaining_bet_count}/{enrollment.total_bet_count} bets of "
        f"{enrollment.bet_value} {enrollment.currency} left"
    )


def bulk_line(bulk: BulkEnrollment) -> str:
    return (
        f"bulk {bulk.id} {bulk.status}: {bulk.processed_count:,}/{bulk.total_count:,} processed, "
        f"{bulk.enrolled_count:,} enrolled, {bulk.existing_count:,} existing, "
        f"{bulk.failed_count:,} failed" + (f" ({bulk.error})" if bulk.error else "")
    )


def bet_line(bet: Bet) -> str:
    return (
        f"bet {bet.bet_id} ({bet.id}) on {bet.product}: {bet.bet_value}, "
        f"{bet.remaining_bet_count} left, enrollment {bet.enrollment_status}"
    )


def demo_products(demo: dict[str, Any]) -> list[str]:
    operator = demo.get("operator")
    found = operator.get("products") if isinstance(operator, dict) else None
    return [p for p in found if isinstance(p, str)] if isinstance(found, list) else []


def player_cells(rows: Iterator[list[str]]) -> Iterator[str]:
    """The first cell of each non-blank row; a first row naming a player column is a header."""
    for number, row in enumerate(rows):
        cell = row[0].strip() if row else ""
        if number == 0 and cell.lower() in PLAYER_HEADERS:
            continue
        if cell:
            yield cell


def read_players(args: argparse.Namespace) -> list[str]:
    """``--player`` values, then the players of ``--file`` (``-``: standard input)."""
    players: list[str] = list(args.player or [])
    if args.file == "-":
        players += player_cells(csv.reader(sys.stdin))
    elif args.file:
        try:
            with open(args.file, newline="", encoding="utf-8-sig") as source:
                players += player_cells(csv.reader(source))
        except OSError as error:
            raise Usage(f"--file {args.file}: {error}") from None
    if not players:
        raise Usage("give --player or --file with at least one player id")
    return players


def cmd_operator_campaigns(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        operator = ctx.operator(bestow)
        if args.operator_command == "list":
            campaigns = operator.campaigns()
            ctx.emit(
                {"campaigns": campaigns},
                [operator_line(c) for c in campaigns] or ["none"],
                [c.id for c in campaigns],
            )
            return 0
        if args.operator_command == "create":
            campaign = operator.create_campaign(
                name=args.name,
                start_time=args.start or datetime.now(UTC).replace(microsecond=0),
                end_time=args.end,
                created_by=args.created_by,
                description=args.description,
            )
        elif args.operator_command == "show":
            campaign = operator.campaign(args.campaign_id)
        else:
            operator.cancel_campaign(args.campaign_id, cancelled_by=args.cancelled_by)
            campaign = operator.campaign(args.campaign_id)
    ctx.emit(campaign, [operator_line(campaign)], [campaign.id])
    return 0


def cmd_operator_rewards(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        operator = ctx.operator(bestow)
        if args.operator_command == "list":
            rewards = operator.rewards(ctx.need(OPERATOR_CAMPAIGN))
            ctx.emit(
                {"rewards": rewards},
                [reward_line(r) for r in rewards] or ["none"],
                [r.id for r in rewards],
            )
            return 0
        if args.operator_command == "create":
            reward = create_reward(ctx, operator)
        elif args.operator_command == "show":
            reward = operator.reward(args.reward_id)
        else:
            operator.cancel_reward(args.reward_id, cancelled_by=args.cancelled_by)
            reward = operator.reward(args.reward_id)
    ctx.emit(reward, [reward_line(reward)], [reward.id])
    return 0


def create_reward(ctx: Context, operator: Operator) -> OperatorReward:
    args = ctx.args
    if args.days < 1:
        raise Usage("--days must be at least 1")
    products = args.product or demo_products(ctx.demo)
    if not products:
        raise Usage("--product is required (repeat it for several)")
    start = args.start or datetime.now(UTC).replace(microsecond=0)
    end = args.end or (
        (datetime.fromisoformat(start) if isinstance(start, str) else start)
        + timedelta(days=args.days)
    )
    common: dict[str, Any] = {
        "name": args.name,
        "products": products,
        "start_time": start,
        "end_time": end,
        "created_by": args.created_by,
        "currency": args.currency,
        "description": args.description,
    }
    ranged = (args.min_bet_value, args.max_bet_value, args.min_bet_count, args.max_bet_count)
    if any(v is not None for v in ranged):
        if any(v is None for v in ranged):
            raise Usage(
                "a Ranged reward needs --min-bet-value, --max-bet-value, --min-bet-count"
                " and --max-bet-count"
            )
        return operator.create_ranged_reward(
            ctx.need(OPERATOR_CAMPAIGN),
            min_bet_value=args.min_bet_value,
            max_bet_value=args.max_bet_value,
            min_bet_count=args.min_bet_count,
            max_bet_count=args.max_bet_count,
            **common,
        )
    if args.bet_value is None or args.bet_count is None:
        raise Usage("a Fixed reward needs --bet-value and --bet-count")
    return operator.create_reward(
        ctx.need(OPERATOR_CAMPAIGN), bet_value=args.bet_value, bet_count=args.bet_count, **common
    )


def cmd_operator_enrollments(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        operator = ctx.operator(bestow)
        if args.operator_command == "list":
            reward = ctx.value(OPERATOR_REWARD) if args.player is None or args.reward else None
            enrollments = operator.enrollments(
                reward_id=reward, player_id=args.player, status=args.status
            )
            ctx.emit(
                {"enrollments": enrollments},
                [enrollment_line(e) for e in enrollments] or ["none"],
                [e.id for e in enrollments],
            )
            return 0
        if args.operator_command == "create":
            enrollment = operator.enrol(
                ctx.need(OPERATOR_REWARD),
                args.player_id,
                bet_value=args.bet_value,
                bet_count=args.bet_count,
            )
        elif args.operator_command == "show":
            enrollment = operator.enrollment(args.enrollment_id)
        else:
            operator.cancel_enrollment(args.enrollment_id, cancelled_by=args.cancelled_by)
            enrollment = operator.enrollment(args.enrollment_id)
    ctx.emit(enrollment, [enrollment_line(enrollment)], [enrollment.id])
    return 0


def cmd_operator_bulk(ctx: Context) -> int:
    args = ctx.args
    reward = ctx.need(OPERATOR_REWARD)
    with ctx.client() as bestow:
        operator = ctx.operator(bestow)
        if args.operator_command == "create":
            bulks = operator.enrol_bulk(
                reward,
                read_players(args),
                bet_value=args.bet_value,
                bet_count=args.bet_count,
                created_by=args.created_by,
            )
        else:
            bulks = [operator.bulk(reward, args.bulk_id)]
        if args.operator_command == "watch" or getattr(args, "wait", False):
            bulks = [
                operator.wait_bulk(
                    b,
                    timeout=args.timeout,
                    on_progress=None
                    if ctx.as_json
                    else lambda b: ctx.err.write(bulk_line(b) + "\n"),
                )
                for b in bulks
            ]
    data: Any = bulks[0] if len(bulks) == 1 else {"bulks": bulks}
    ctx.emit(data, [bulk_line(b) for b in bulks], [b.id for b in bulks])
    return 0


def cmd_operator_bets(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        operator = ctx.operator(bestow)
        if args.operator_command == "place":
            product = args.product or next(iter(demo_products(ctx.demo)), None)
            if not product:
                raise Usage("--product is required")
            bet = operator.place_bet(args.enrollment_id, bet_id=args.bet_id, product=product)
            ctx.emit(bet, [bet_line(bet)], [bet.id])
            return 0
        bets = operator.bets(args.enrollment_id)
    ctx.emit({"bets": bets}, [bet_line(b) for b in bets] or ["none"], [b.id for b in bets])
    return 0


# --- webhooks -----------------------------------------------------------------------------------


def serve_webhooks(ctx: Context) -> int:
    args = ctx.args
    secrets: list[str] = args.secret or [s for s in (os.environ.get("BESTOW_WEBHOOK_SECRET"),) if s]
    if not secrets:
        raise Usage("--secret (or BESTOW_WEBHOOK_SECRET) is required")
    from bestow_client.webhooks import verify_any  # only this command needs it

    lock = threading.Lock()
    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = verify_any(payload, headers, secrets)
            except (BestowError, ValueError) as error:
                self.answer(401, {"error": "invalid signature"})
                ctx_print(f"refused {headers.get('webhook-id', '?')}: {error}", error=True)
                return
            kind = event.get("event") or event.get("type") or "?"
            event_id = headers.get("webhook-id", "?")
            self.answer(200, {"ok": True})
            if ctx.as_json:
                ctx_print(json.dumps({"id": event_id, "type": kind, "payload": event}))
            else:
                ctx_print(f"{kind} {event_id}")
            with lock:
                received[0] += 1
                if args.count and received[0] >= args.count:
                    threading.Thread(target=server.shutdown, daemon=True).start()

        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *log_args: Any) -> None:
            return

    def ctx_print(text: str, error: bool = False) -> None:
        stream = ctx.err if error else ctx.out
        with lock:
            stream.write(text + "\n")
            stream.flush()

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    ctx_print(f"listening on http://{host!s}:{port} ({len(secrets)} secrets)", error=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --- the parser ----------------------------------------------------------------------------------


CONNECTION_OPTIONS = (
    ("--base-url", "env BESTOW_BASE_URL, else " + DEFAULT_BASE_URL),
    ("--app-name", "env BESTOW_APP_NAME: the User-Agent's first word"),
    ("--demo-json", "`bestow demo --json` output (- for stdin): every credential"),
    ("--client-id", "env BESTOW_PARTNER_CLIENT_ID"),
    ("--access-token", "env BESTOW_PARTNER_ACCESS_TOKEN"),
    ("--vouchers-client-id", "env BESTOW_VOUCHERS_CLIENT_ID"),
    ("--vouchers-client-secret", "env BESTOW_VOUCHERS_CLIENT_SECRET"),
    ("--loyalty-client-id", "env BESTOW_LOYALTY_CLIENT_ID"),
    ("--loyalty-client-secret", "env BESTOW_LOYALTY_CLIENT_SECRET"),
    ("--operator-id", "env BESTOW_OPERATOR_ID"),
    ("--operator-shared-key", "env BESTOW_OPERATOR_SHARED_KEY"),
)
SUBCOMMAND_EPILOG = (
    "Connection and credential options (--base-url, --demo-json, --client-id, ...) are listed"
    f" once, by `{PROG} --help`; they may be given before or after the command."
)


def connection_options(*, shown: bool) -> argparse.ArgumentParser:
    """The connection and credential options: listed in the main parser's help (``shown``),
    accepted but not listed after each command. ``SUPPRESS`` as default: a command's absent
    option does not hide the main parser's."""
    parent = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    group = parent.add_argument_group("connection and credentials") if shown else parent
    for flag, help_text in CONNECTION_OPTIONS:
        metavar = "FILE" if flag == "--demo-json" else None
        group.add_argument(flag, metavar=metavar, default=s, help=help_text if shown else s)
    return parent


def output_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    parent.add_argument("--json", action="store_true", default=s, help="print JSON")
    parent.add_argument(
        "-q", "--quiet", action="store_true", default=s, help="print only the ids, one a line"
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    hidden = connection_options(shown=False)
    output = output_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Bestow's Partner, Voucher, Loyalty and Operator APIs from the command line.",
        epilog="Settings come from the flags, else --demo-json, else the environment.",
        parents=[connection_options(shown=True), output],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, handler: Callable[[Context], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name,
            parents=[hidden, output],
            help=help_text,
            description=help_text,
            epilog=SUBCOMMAND_EPILOG,
        )
        sub.set_defaults(handler=handler)
        return sub

    def group(parent: Any, name: str, help_text: str, dest: str | None = None) -> Any:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest=dest or f"{name}_command", required=True, metavar="COMMAND")

    def merchant(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--merchant", help="merchant id (default: the demo's)")

    command(commands, "discover", cmd_discover, "merchants and their reward templates")

    campaign_commands = group(commands, "campaigns", "Partner API campaigns")
    create = command(campaign_commands, "create", cmd_campaigns_create, "create a campaign")
    merchant(create)
    create.add_argument("--name", required=True)
    create.add_argument("--template", help="reward template of the treatment variant")
    create.add_argument("--control", action="store_true", help="add a Control variant")
    create.add_argument("--days", type=int, default=30, help="campaign length (default 30)")
    create.add_argument(
        "--redeem-days", type=int, default=30, help="redeemable this long after the end"
    )
    create.add_argument("--variant-name", default="Treatment")
    create.add_argument("--objective", default="Reward members")
    create.add_argument("--fine-print", default="One per member. Not valid with other offers.")
    listing = command(campaign_commands, "list", cmd_campaigns_list, "active campaigns")
    merchant(listing)
    show = command(campaign_commands, "show", cmd_campaigns_show, "one campaign")
    show.add_argument("campaign_id")

    issue = command(commands, "issue", cmd_issue, "issue rewards to a CSV of identifiers")
    merchant(issue)
    issue.add_argument("--campaign", required=True)
    issue.add_argument("--variant", required=True, help="variant id or name")
    issue.add_argument("--file", required=True, help="CSV of identifiers; - for stdin")
    issue.add_argument("--default-region", help="region of phones without +, e.g. US")
    issue.add_argument("--failures", help="failures CSV (default: FILE-failures.csv)")
    issue.add_argument("--idempotency-key", help="default: derived from the request")
    issue.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait per job")
    issue.add_argument("--no-progress", action="store_true")

    job_commands = group(commands, "jobs", "issuance jobs")
    for name, help_text in (
        ("show", "a job's state and failures"),
        ("watch", "wait for a job to finish, with progress"),
        ("revoke", "revoke a completed or failed job"),
    ):
        sub = command(job_commands, name, cmd_jobs, help_text)
        sub.add_argument("job_id")
        merchant(sub)
        sub.add_argument("--timeout", type=float, default=3600.0)
        sub.add_argument("--no-progress", action="store_true")
        if name == "revoke":
            sub.add_argument("--wait", action="store_true", help="until it is revoked")
        else:
            sub.add_argument(
                "--failures-csv",
                metavar="FILE",
                help="write every failure of the job to FILE (" + ",".join(FAILURE_FIELDS) + ")",
            )

    voucher_commands = group(commands, "vouchers", "Voucher API")
    command(voucher_commands, "products", cmd_vouchers, "the catalogue")
    vissue = command(voucher_commands, "issue", cmd_vouchers, "issue vouchers")
    vissue.add_argument("product_code")
    vissue.add_argument("--quantity", type=int, default=1)
    vissue.add_argument("--face-value", type=int, help="cents, for open-value products")
    vshow = command(voucher_commands, "show", cmd_vouchers, "one voucher")
    vshow.add_argument("voucher_id")

    point_commands = group(commands, "points", "Loyalty API")
    award = command(point_commands, "award", cmd_points, "award points")
    award.add_argument("--account", help="account id (default: the demo's)")
    award.add_argument("--business-unit", help="default: the demo's")
    award.add_argument("--reward", help="reward id (default: the demo's)")
    award.add_argument("--amount", type=int, required=True)

    operator_groups = group(commands, "operator", "Operator API", dest="operator_group")
    add_operator_commands(operator_groups, command)

    webhook_commands = group(commands, "webhooks", "webhook receiver")
    listen = command(webhook_commands, "listen", serve_webhooks, "receive and verify webhooks")
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    listen.add_argument(
        "--secret",
        action="append",
        help="whsec_... (repeat while rotating); env BESTOW_WEBHOOK_SECRET",
    )
    listen.add_argument("--count", type=int, default=0, help="stop after this many events")
    return parser


def add_operator_commands(groups: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """``operator campaigns|rewards|enrollments|bulk|bets ...``; the campaign and the reward
    default to the demo's."""

    def subgroup(name: str, help_text: str) -> Any:
        sub = groups.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest="operator_command", required=True, metavar="COMMAND")

    def actor(sub: argparse.ArgumentParser, flag: str) -> None:
        sub.add_argument(flag, default=ACTOR, help=f"default {ACTOR}")

    campaigns = subgroup("campaigns", "operator campaigns")
    command(campaigns, "list", cmd_operator_campaigns, "the operator's campaigns")
    create = command(campaigns, "create", cmd_operator_campaigns, "create a campaign")
    create.add_argument("--name", required=True)
    create.add_argument("--start", help="ISO 8601 with offset (default: now)")
    create.add_argument("--end", help="ISO 8601 with offset (default: no end)")
    actor(create, "--created-by")
    create.add_argument("--description")
    show = command(campaigns, "show", cmd_operator_campaigns, "one campaign")
    show.add_argument("campaign_id")
    cancel = command(campaigns, "cancel", cmd_operator_campaigns, "cancel a campaign")
    cancel.add_argument("campaign_id")
    actor(cancel, "--cancelled-by")

    rewards = subgroup("rewards", "free-bet rewards of a campaign")
    listing = command(rewards, "list", cmd_operator_rewards, "a campaign's rewards")
    listing.add_argument("--campaign", help="campaign id (default: the demo's)")
    create = command(rewards, "create", cmd_operator_rewards, "create a Fixed or Ranged reward")
    create.add_argument("--campaign", help="campaign id (default: the demo's)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--product", action="append", help="a product (repeat for several; default: the demo's)"
    )
    create.add_argument("--currency", default="EUR", help="ISO 4217 (default EUR)")
    create.add_argument("--bet-value", type=Decimal, help="Fixed: each bet's value, e.g. 0.50")
    create.add_argument("--bet-count", type=int, help="Fixed: bets per player")
    create.add_argument("--min-bet-value", type=Decimal, help="Ranged")
    create.add_argument("--max-bet-value", type=Decimal, help="Ranged")
    create.add_argument("--min-bet-count", type=int, help="Ranged")
    create.add_argument("--max-bet-count", type=int, help="Ranged")
    create.add_argument("--start", help="ISO 8601 with offset (default: now)")
    create.add_argument("--end", help="ISO 8601 with offset (default: --days after the start)")
    create.add_argument("--days", type=int, default=30, help="length without --end (default 30)")
    actor(create, "--created-by")
    create.add_argument("--description")
    show = command(rewards, "show", cmd_operator_rewards, "one reward")
    show.add_argument("reward_id")
    cancel = command(rewards, "cancel", cmd_operator_rewards, "cancel a reward")
    cancel.add_argument("reward_id")
    actor(cancel, "--cancelled-by")

    enrollments = subgroup("enrollments", "players enrolled in a reward")
    create = command(enrollments, "create", cmd_operator_enrollments, "enrol a player")
    create.add_argument("player_id")
    create.add_argument("--reward", help="reward id (default: the demo's)")
    create.add_argument("--bet-value", type=Decimal, help="Ranged rewards")
    create.add_argument("--bet-count", type=int, help="Ranged rewards")
    listing = command(
        enrollments, "list", cmd_operator_enrollments, "a reward's or a player's enrollments"
    )
    listing.add_argument("--reward", help="reward id (default: the demo's unless --player)")
    listing.add_argument(
        "--player", help="a player's enrollments (across rewards without --reward)"
    )
    listing.add_argument("--status", help="New, Active, Completed, Cancelled, Expired")
    show = command(enrollments, "show", cmd_operator_enrollments, "one enrollment")
    show.add_argument("enrollment_id")
    cancel = command(enrollments, "cancel", cmd_operator_enrollments, "cancel an enrollment")
    cancel.add_argument("enrollment_id")
    actor(cancel, "--cancelled-by")

    bulk = subgroup("bulk", "bulk enrollments (done by the worker)")
    create = command(bulk, "create", cmd_operator_bulk, "enrol many players")
    create.add_argument("--reward", help="reward id (default: the demo's)")
    create.add_argument("--player", action="append", help="a player id (repeatable)")
    create.add_argument("--file", help="CSV, a player id a line (first cell); - for stdin")
    create.add_argument("--bet-value", type=Decimal, help="Ranged rewards")
    create.add_argument("--bet-count", type=int, help="Ranged rewards")
    create.add_argument("--created-by", default=ACTOR, help=f"default {ACTOR}")
    create.add_argument("--wait", action="store_true", help="until it is Completed or Failed")
    create.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    for name, help_text in (("show", "a bulk's state"), ("watch", "wait for a bulk to finish")):
        sub = command(bulk, name, cmd_operator_bulk, help_text)
        sub.add_argument("bulk_id")
        sub.add_argument("--reward", help="reward id (default: the demo's)")
        sub.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")

    bets = subgroup("bets", "free bets of an enrollment")
    place = command(bets, "place", cmd_operator_bets, "use one free bet")
    place.add_argument("enrollment_id")
    place.add_argument("--bet-id", required=True, help="your bet's id: repeating it uses nothing")
    place.add_argument("--product", help="default: the demo's first product")
    listing = command(bets, "list", cmd_operator_bets, "the bets used")
    listing.add_argument("enrollment_id")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ctx = Context(args, load_demo(getattr(args, "demo_json", None)), sys.stdout, sys.stderr)
        handler: Callable[[Context], int] = args.handler
        try:
            return handler(ctx)
        finally:
            ctx.show_environment()
    except Usage as error:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # a setting missing in the SDK's own checks
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except APIStatusError as error:
        print(f"{PROG}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except BestowError as error:
        print(f"{PROG}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
