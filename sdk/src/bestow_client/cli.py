"""``bestow-client``: Bestow's four API surfaces from the command line, through the SDK.

    bestow-client --demo-json demo.json discover
    bestow-client campaigns create --merchant mch_... --name "Spring" --template rtp_... --control
    bestow-client issue --campaign cmp_... --variant Treatment --merchant mch_... \\
        --file recipients.csv --default-region US --failures failures.csv
    bestow-client jobs watch ijb_... --merchant mch_...
    bestow-client webhooks listen --port 8080 --secret whsec_...

Credentials come from the flags, else from ``--demo-json`` (the output of ``bestow demo --json``,
``-`` for standard input), else from the environment: ``BESTOW_BASE_URL``, ``BESTOW_APP_NAME``,
``BESTOW_PARTNER_CLIENT_ID``, ``BESTOW_PARTNER_ACCESS_TOKEN``, ``BESTOW_VOUCHERS_CLIENT_ID``,
``BESTOW_VOUCHERS_CLIENT_SECRET``, ``BESTOW_LOYALTY_CLIENT_ID``, ``BESTOW_LOYALTY_CLIENT_SECRET``,
``BESTOW_OPERATOR_ID``, ``BESTOW_OPERATOR_SHARED_KEY``. ``--json`` prints JSON instead of short
lines. Exit status: 0 done, 1 the API refused or could not be reached, 2 bad usage.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from bestow_client._errors import APIStatusError, BestowError, InvalidPhoneNumber
from bestow_client.client import Bestow
from bestow_client.loyalty import Loyalty
from bestow_client.operator import Operator, OperatorCampaign
from bestow_client.partner import Identifier, IssuanceJob, Partner, identifier
from bestow_client.vouchers import Voucher, Vouchers

PROG = "bestow-client"
IDENTIFIER_COLUMNS = ("identifier", "email", "phone")
FAILURE_FIELDS = ("line", "identifier", "reason", "job_id", "identifier_index", "identifier_type")
BAR_WIDTH = 30
ACTOR = "bestow-client"


class Usage(Exception):
    """A missing or bad argument: exit 2."""


# --- settings ------------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    demo: dict[str, Any]
    out: TextIO
    err: TextIO

    @property
    def as_json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def value(self, flag: str, demo_path: Sequence[str], env: str | None) -> str | None:
        """The flag, else the demo JSON's ``demo_path``, else the environment variable."""
        given = getattr(self.args, flag, None)
        if given not in (None, ""):
            return str(given)
        found: Any = self.demo
        for part in demo_path:
            found = found.get(part) if isinstance(found, dict) else None
        if found not in (None, ""):
            return str(found)
        return os.environ.get(env) if env else None

    def need(self, flag: str, demo_path: Sequence[str], env: str | None) -> str:
        found = self.value(flag, demo_path, env)
        if not found:
            where = f"--{flag.replace('_', '-')}" + (f" or {env}" if env else "")
            raise Usage(f"{where} is required")
        return found

    def client(self) -> Bestow:
        return Bestow(
            base_url=self.value("base_url", (), "BESTOW_BASE_URL"),
            app_name=self.value("app_name", (), "BESTOW_APP_NAME") or f"{PROG}/cli",
        )

    def partner(self, bestow: Bestow) -> Partner:
        return bestow.partner(
            client_id=self.need("client_id", ("partner", "client_id"), "BESTOW_PARTNER_CLIENT_ID"),
            access_token=self.need(
                "access_token", ("partner", "access_token"), "BESTOW_PARTNER_ACCESS_TOKEN"
            ),
            default_region=getattr(self.args, "default_region", None),
        )

    def merchant(self) -> str:
        return self.need("merchant", ("partner", "merchant_id"), "BESTOW_PARTNER_MERCHANT_ID")

    def vouchers(self, bestow: Bestow) -> Vouchers:
        return bestow.vouchers(
            client_id=self.need(
                "vouchers_client_id", ("vouchers", "client_id"), "BESTOW_VOUCHERS_CLIENT_ID"
            ),
            client_secret=self.need(
                "vouchers_client_secret",
                ("vouchers", "client_secret"),
                "BESTOW_VOUCHERS_CLIENT_SECRET",
            ),
        )

    def loyalty(self, bestow: Bestow) -> Loyalty:
        return bestow.loyalty(
            client_id=self.need(
                "loyalty_client_id", ("loyalty", "client_id"), "BESTOW_LOYALTY_CLIENT_ID"
            ),
            client_secret=self.need(
                "loyalty_client_secret",
                ("loyalty", "client_secret"),
                "BESTOW_LOYALTY_CLIENT_SECRET",
            ),
        )

    def operator(self, bestow: Bestow) -> Operator:
        return bestow.operator(
            operator_id=self.need("operator_id", ("operator", "operator_id"), "BESTOW_OPERATOR_ID"),
            shared_key=self.need(
                "operator_shared_key",
                ("operator", "primary_shared_key"),
                "BESTOW_OPERATOR_SHARED_KEY",
            ),
        )

    def emit(self, data: Any, lines: Sequence[str]) -> None:
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
    template = ctx.need("template", ("partner", "template_id"), None)
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
    ctx.emit(campaign, lines)
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
        if not ctx.as_json:
            ctx.err.write(
                f"{len(good):,} identifiers sent in {len(jobs)} jobs: "
                + ", ".join(j.id for j in jobs)
                + "\n"
            )
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
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=FAILURE_FIELDS)
            writer.writeheader()
            writer.writerows(f.row() for f in failed)
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
            }
            for j in finished
        ],
        "success_count": succeeded,
        "failure_count": len(failed),
        "failures_file": str(path) if failed or args.failures else None,
    }
    lines = [
        f"{len(finished)} jobs, {len(good):,} identifiers sent, {len(bad):,} refused before sending"
    ]
    lines += [
        f"  job {j.id} {j.state}: {j.success_count:,} rewarded, {j.failure_count:,} failed"
        f" of {j.total_count:,}"
        for j in finished
    ]
    lines.append(f"{succeeded:,} rewarded, {len(failed):,} failures")
    if failed or args.failures:
        lines.append(f"failures written to {path}")
    ctx.emit(result, lines)
    return 0


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
    ctx.emit(job, job_lines(job))
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
            account_id=ctx.need("account", ("loyalty", "account", "account_id"), None),
            business_unit=ctx.need("business_unit", ("loyalty", "business_unit"), None),
            reward_id=ctx.need("reward", ("loyalty", "reward_id"), None),
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


def cmd_operator(ctx: Context) -> int:
    args = ctx.args
    with ctx.client() as bestow:
        operator = ctx.operator(bestow)
        if args.operator_command == "list":
            campaigns = operator.campaigns()
            ctx.emit({"campaigns": campaigns}, [operator_line(c) for c in campaigns] or ["none"])
        elif args.operator_command == "create":
            campaign = operator.create_campaign(
                name=args.name,
                start_time=args.start or datetime.now(UTC).replace(microsecond=0),
                end_time=args.end,
                created_by=args.created_by,
                description=args.description,
            )
            ctx.emit(campaign, [operator_line(campaign)])
        else:
            operator.cancel_campaign(args.campaign_id, cancelled_by=args.cancelled_by)
            cancelled = operator.campaign(args.campaign_id)
            ctx.emit(cancelled, [operator_line(cancelled)])
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


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command (``SUPPRESS``: a subcommand's absent
    option does not hide the main parser's)."""
    common = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    group = common.add_argument_group("connection and credentials")
    group.add_argument("--json", action="store_true", default=s, help="print JSON")
    group.add_argument("--base-url", default=s, help="env BESTOW_BASE_URL")
    group.add_argument("--app-name", default=s, help="env BESTOW_APP_NAME (User-Agent)")
    group.add_argument(
        "--demo-json", metavar="FILE", default=s, help="`bestow demo --json` output; - for stdin"
    )
    group.add_argument("--client-id", default=s, help="env BESTOW_PARTNER_CLIENT_ID")
    group.add_argument("--access-token", default=s, help="env BESTOW_PARTNER_ACCESS_TOKEN")
    group.add_argument("--vouchers-client-id", default=s, help="env BESTOW_VOUCHERS_CLIENT_ID")
    group.add_argument(
        "--vouchers-client-secret", default=s, help="env BESTOW_VOUCHERS_CLIENT_SECRET"
    )
    group.add_argument("--loyalty-client-id", default=s, help="env BESTOW_LOYALTY_CLIENT_ID")
    group.add_argument(
        "--loyalty-client-secret", default=s, help="env BESTOW_LOYALTY_CLIENT_SECRET"
    )
    group.add_argument("--operator-id", default=s, help="env BESTOW_OPERATOR_ID")
    group.add_argument("--operator-shared-key", default=s, help="env BESTOW_OPERATOR_SHARED_KEY")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Bestow's Partner, Voucher, Loyalty and Operator APIs from the command line.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, handler: Callable[[Context], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    def merchant(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--merchant", help="merchant id (default: the demo's)")

    command(commands, "discover", cmd_discover, "merchants and their reward templates")

    campaigns = commands.add_parser("campaigns", help="Partner API campaigns")
    campaign_commands = campaigns.add_subparsers(dest="campaigns_command", required=True)
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

    jobs = commands.add_parser("jobs", help="issuance jobs")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
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

    vouchers = commands.add_parser("vouchers", help="Voucher API")
    voucher_commands = vouchers.add_subparsers(dest="vouchers_command", required=True)
    command(voucher_commands, "products", cmd_vouchers, "the catalogue")
    vissue = command(voucher_commands, "issue", cmd_vouchers, "issue vouchers")
    vissue.add_argument("product_code")
    vissue.add_argument("--quantity", type=int, default=1)
    vissue.add_argument("--face-value", type=int, help="cents, for open-value products")
    vshow = command(voucher_commands, "show", cmd_vouchers, "one voucher")
    vshow.add_argument("voucher_id")

    points = commands.add_parser("points", help="Loyalty API")
    point_commands = points.add_subparsers(dest="points_command", required=True)
    award = command(point_commands, "award", cmd_points, "award points")
    award.add_argument("--account", help="account id (default: the demo's)")
    award.add_argument("--business-unit")
    award.add_argument("--reward")
    award.add_argument("--amount", type=int, required=True)

    operator = commands.add_parser("operator", help="Operator API")
    operator_groups = operator.add_subparsers(dest="operator_group", required=True)
    ocampaigns = operator_groups.add_parser("campaigns", help="operator campaigns")
    operator_commands = ocampaigns.add_subparsers(dest="operator_command", required=True)
    command(operator_commands, "list", cmd_operator, "list campaigns")
    ocreate = command(operator_commands, "create", cmd_operator, "create a campaign")
    ocreate.add_argument("--name", required=True)
    ocreate.add_argument("--start", help="ISO 8601 with offset (default: now)")
    ocreate.add_argument("--end", help="ISO 8601 with offset")
    ocreate.add_argument("--created-by", default=ACTOR)
    ocreate.add_argument("--description")
    ocancel = command(operator_commands, "cancel", cmd_operator, "cancel a campaign")
    ocancel.add_argument("campaign_id")
    ocancel.add_argument("--cancelled-by", default=ACTOR)

    webhooks = commands.add_parser("webhooks", help="webhook receiver")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ctx = Context(args, load_demo(getattr(args, "demo_json", None)), sys.stdout, sys.stderr)
        handler: Callable[[Context], int] = args.handler
        return handler(ctx)
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
