"""The Voucher API's checklist: UNIQREWARDS's integration process (seed ``001_*``,
documentation.api.uniqrewards.com "Integration process"): the demo exploration, the user
acceptance tests and the go-live requirements, in the vendor's words.

The issue route notes the product code as the request's ``object_id`` and whether a face value
was given (``counts.face_value``, never the value); a single voucher's retrieval notes the
voucher's id. Opening a voucher's page with its PIN sets ``Voucher.opened_at``. The rules and
their thresholds are in ``docs/certification-vouchers.md``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from bestow.lab.certification.context import Context, Req
from bestow.lab.certification.core import (
    ATTESTED,
    AUTOMATIC,
    FAIL,
    MAX_EVIDENCE,
    PASS,
    Checklist,
    Evidence,
    FaultSpec,
    Item,
    Outcome,
    failed,
    not_exercised,
    passed,
)
from bestow.models import Product, Voucher
from bestow.vouchers.products import query as catalogue_query

ISSUE = "POST /v3/products/{code}"
RETRIEVE = ("GET /v3/vouchers", "GET /v3/vouchers/{voucher_id}")
TOKEN_ENDPOINT = "POST /oauth2/token"  # noqa: S105 (a route, not a password)
LOST_ANSWER = "lost_answer"

DEMO = "Exploration of features using the DEMO environment"
AUTH = "Authentication and authorization"
UAT = "Integration with the API and user acceptance tests"
GO_LIVE = "Go-live and production"

TOKENS_PER_CALL = 0.5
"""At most one token for every two API calls (and at most two tokens in all whatever the
calls): more is a token fetched before (nearly) every call."""
TOKENS_FREE = 2


def _issues(ctx: Context) -> list[Req]:
    found: list[Req] | None = ctx.memo.get("vouchers.issues")
    if found is None:
        found = list(ctx.on(ISSUE))
        ctx.memo["vouchers.issues"] = found
    return found


def _issued(req: Req) -> bool:
    """The request issued vouchers (or answered those of its key): a 200, or a 207 partial."""
    return req.ok


async def _catalogue(ctx: Context) -> list[Product]:
    """The client's UAT catalogue as it is now: the products it may issue (``lab.catalogue``:
    those assigned to it, or every product when none is)."""
    found: list[Product] | None = ctx.memo.get("vouchers.catalogue")
    if found is None:
        stmt = catalogue_query(issuable=True, for_client=ctx.client.id).order_by(Product.code)
        found = list(await ctx.session.scalars(stmt))
        ctx.memo["vouchers.catalogue"] = found
    return found


def _first_issue_by_product(ctx: Context) -> dict[str, Req]:
    """Each product code's first issuing request in the window."""
    first: dict[str, Req] | None = ctx.memo.get("vouchers.first_issues")
    if first is None:
        first = {}
        for req in _issues(ctx):
            if _issued(req) and req.object_id is not None:
                first.setdefault(req.object_id, req)
        ctx.memo["vouchers.first_issues"] = first
    return first


def _catalogue_item(products: list[Product], ctx: Context, what: str, exercise: str) -> Outcome:
    """Pass when every product of ``products`` was issued in the window."""
    issues = _issues(ctx)
    if not issues:
        return not_exercised(f"no issuance (`{ISSUE}`) in the window")
    if not products:
        return not_exercised(exercise)
    first = _first_issue_by_product(ctx)
    # A product whose stock is spent cannot be issued: it is not asked for (unless issued).
    spent = [p for p in products if p.code not in first and p.stock == 0]
    products = [p for p in products if p not in spent]
    if not products:
        return not_exercised(f"every {what} of the catalogue is out of stock")
    aside = f" ({len(spent)} out of stock, not asked for)" if spent else ""
    missing = [p for p in products if p.code not in first]
    if missing:
        tried: dict[str | None, Req] = {}
        for r in issues:
            tried.setdefault(r.object_id, r)
        evidence: list[Evidence] = []
        for product in missing[:MAX_EVIDENCE]:
            refused = tried.get(product.code)
            if refused is not None:
                evidence.append(
                    Evidence.of(refused, f"{product.code}: {_refusal(refused, product)}")
                )
            else:
                evidence.append(Evidence.object("product", product.code, f"{what} never issued"))
        refused_count = sum(p.code in tried for p in missing)
        return failed(
            evidence,
            f"{len(missing)} of {len(products)} {what}s never issued"
            + (f" ({refused_count} tried and refused)" if refused_count else "")
            + aside,
        )
    return passed(
        (_issue_evidence(first[p.code], p) for p in products),
        f"all {len(products)} {what}s issued{aside}",
    )


def _refusal(req: Req, product: Product) -> str:
    if product.is_open_value and not req.count("face_value"):
        return f"refused ({req.status}): no face_value given for an open-value product"
    return f"refused ({req.status}{', ' + req.error_code if req.error_code else ''})"


def _issue_evidence(req: Req, product: Product) -> Evidence:
    if product.is_open_value:
        return Evidence.of(req, f"{product.code} issued (open value, with a face value)")
    return Evidence.of(req, f"{product.code} issued")


async def all_products(ctx: Context) -> Outcome:
    return _catalogue_item(
        await _catalogue(ctx),
        ctx,
        "product",
        "the client's catalogue has no product that can be issued now",
    )


async def open_value(ctx: Context) -> Outcome:
    products = [p for p in await _catalogue(ctx) if p.is_open_value]
    return _catalogue_item(
        products,
        ctx,
        "open-value product",
        "the client's catalogue has no open-value product: ask for one in the UAT catalogue",
    )


async def statuses(ctx: Context) -> Outcome:
    issued = [r for r in _issues(ctx) if _issued(r)]
    reads = [r for r in ctx.on(*RETRIEVE)]
    if not issued and not reads:
        return not_exercised("no issuance and no retrieval of vouchers in the window")
    answered = [r for r in reads if r.ok]
    if answered:
        return passed(
            (Evidence.of(r, _read_note(r)) for r in answered[:MAX_EVIDENCE]),
            f"{len(answered)} of {len(reads)} retrievals answered",
        )
    if reads:
        return failed(
            (Evidence.of(r, f"retrieval refused ({r.status})") for r in reads[:MAX_EVIDENCE]),
            f"none of {len(reads)} retrievals answered",
        )
    return failed(
        (
            Evidence.of(r, "vouchers issued, their status never retrieved")
            for r in issued[:MAX_EVIDENCE]
        ),
        f"{len(issued)} issuances, no retrieval of vouchers (`GET /v3/vouchers?id=...`)",
    )


def _read_note(req: Req) -> str:
    if req.route == "/v3/vouchers":
        return f"status of {req.count('ids')} voucher(s) retrieved"
    return "status of one voucher retrieved"


def _recovery(ctx: Context) -> dict[str, Any]:
    """The issuances whose answer was lost, what followed each, and the replays: shared by the
    recovery and duplicate items. Each lost answer looks at the later requests of its key, and
    at the next request of its fingerprint (the client's retry, if it changed the key): indexed,
    so a window of many issuances is judged in one pass."""
    found: dict[str, Any] | None = ctx.memo.get("vouchers.recovery")
    if found is not None:
        return found
    issues = _issues(ctx)
    by_key: dict[str | None, list[int]] = defaultdict(list)
    by_print: dict[str | None, list[int]] = defaultdict(list)
    for index, req in enumerate(issues):
        by_key[req.idempotency_key].append(index)
        by_print[req.fingerprint].append(index)
    lost = [i for i, r in enumerate(issues) if r.fault == LOST_ANSWER and _issued(r)]
    recovered: list[tuple[Req, Req]] = []
    unrecovered: list[tuple[Req, Req | None]] = []
    duplicates: list[tuple[Req, Req]] = []
    for index in lost:
        first = issues[index]
        same_key = by_key[first.idempotency_key]
        again = next(
            (issues[i] for i in same_key[bisect_right(same_key, index) :] if issues[i].replayed),
            None,
        )
        same_print = by_print[first.fingerprint]
        after = bisect_right(same_print, index)
        retry = issues[same_print[after]] if after < len(same_print) else None
        copy = None
        if (
            retry is not None
            and retry.idempotency_key != first.idempotency_key
            and _issued(retry)
            and not retry.replayed
        ):
            copy = retry
            duplicates.append((first, copy))
        if again is not None:
            recovered.append((first, again))
        else:
            unrecovered.append((first, copy))
    lost_keys = {issues[i].idempotency_key for i in lost}
    replays = [r for r in issues if r.replayed and r.idempotency_key not in lost_keys]
    found = {
        "lost": [issues[i] for i in lost],
        "recovered": recovered,
        "unrecovered": unrecovered,
        "duplicates": duplicates,
        "replays": replays,
    }
    ctx.memo["vouchers.recovery"] = found
    return found


async def issue_recovery(ctx: Context) -> Outcome:
    seen = _recovery(ctx)
    lost, unrecovered = seen["lost"], seen["unrecovered"]
    if unrecovered:
        evidence = []
        for first, copy in unrecovered[:MAX_EVIDENCE]:
            evidence.append(Evidence.of(first, "answer lost; never repeated with its key"))
            if copy is not None:
                evidence.append(Evidence.of(copy, "repeated without its key: issued a second time"))
        return failed(
            evidence, f"{len(unrecovered)} of {len(lost)} lost answers not recovered with the key"
        )
    recovered = seen["recovered"]
    if not recovered and not seen["replays"]:
        return not_exercised("no issuance was repeated with its Idempotency-Key in the window")
    evidence = []
    for first, again in recovered[:MAX_EVIDENCE]:
        evidence.append(Evidence.of(first, "answer lost (fault lost_answer)"))
        evidence.append(Evidence.of(again, "repeated with its key: Idempotency-Record"))
    evidence += [
        Evidence.of(r, "repeated with its key: Idempotency-Record")
        for r in seen["replays"][:MAX_EVIDENCE]
    ]
    count = len(recovered) + len(seen["replays"])
    return passed(
        evidence,
        f"{count} issuance(s) recovered with the Idempotency-Key"
        + (f", {len(recovered)} after a lost answer" if lost else ""),
    )


async def no_duplicate(ctx: Context) -> Outcome:
    issues = _issues(ctx)
    if not issues:
        return not_exercised(f"no issuance (`{ISSUE}`) in the window")
    keyless = [r for r in issues if "Idempotency-Key" not in r.headers]
    duplicates = _recovery(ctx)["duplicates"]
    if keyless or duplicates:
        evidence = [
            Evidence.of(r, "issuance without an Idempotency-Key") for r in keyless[:MAX_EVIDENCE]
        ]
        evidence += [
            Evidence.of(copy, "the request of a lost answer sent again with a new key: "
                        "vouchers issued twice")
            for _, copy in duplicates[:MAX_EVIDENCE]
        ]  # fmt: skip
        parts = []
        if keyless:
            parts.append(f"{len(keyless)} of {len(issues)} issuances without an Idempotency-Key")
        if duplicates:
            parts.append(f"{len(duplicates)} duplicate issuance(s) after a lost answer")
        return failed(evidence, "; ".join(parts))
    proof = [issues[0]] if len(issues) == 1 else [issues[0], issues[-1]]
    return passed(
        (Evidence.of(r, "carries an Idempotency-Key") for r in proof),
        f"all {len(issues)} issuances carry an Idempotency-Key; no duplicate issuance",
    )


async def sample_vouchers(ctx: Context) -> Outcome:
    """Vouchers the client issued in the window, and whether their holder's page was opened:
    counted in SQL, the first few of each read for the evidence."""
    window = ctx.window
    issued = (
        Voucher.client_id == ctx.client.id,
        Voucher.issued_at >= window.since,
        Voucher.issued_at < window.until,
    )
    was_opened = (Voucher.opened_at.is_not(None), Voucher.opened_at < window.until)
    total = await ctx.session.scalar(select(func.count()).select_from(Voucher).where(*issued))
    if not total:
        return not_exercised("no voucher issued in the window")
    opened = await ctx.session.scalar(
        select(func.count()).select_from(Voucher).where(*issued, *was_opened)
    )
    first = select(Voucher.id).order_by(Voucher.issued_at, Voucher.id).limit(MAX_EVIDENCE)
    if not opened:
        ids = await ctx.session.scalars(first.where(*issued))
        return failed(
            (Evidence.object("voucher", vid, "issued, its page never opened") for vid in ids),
            f"none of {total} vouchers issued was opened (its short_url with the PIN)",
        )
    ids = await ctx.session.scalars(first.where(*issued, *was_opened))
    return passed(
        (Evidence.object("voucher", vid, "opened by its holder (short_url and PIN)")
         for vid in ids),
        f"{opened} of {total} vouchers issued were opened",
    )  # fmt: skip


async def token_reused(ctx: Context) -> Outcome:
    calls = list(ctx.of_surface())
    if not calls:
        return not_exercised("no Voucher API request in the window")
    tokens = [r for r in ctx.on(TOKEN_ENDPOINT) if r.ok]
    allowed = max(TOKENS_FREE, int(len(calls) * TOKENS_PER_CALL))
    if len(tokens) > allowed:
        return failed(
            (Evidence.of(r, "a new token fetched; the last one was still valid")
             for r in tokens[1 : MAX_EVIDENCE + 1]),
            f"{len(tokens)} tokens for {len(calls)} API requests: a token is fetched before "
            "(nearly) every call",
        )  # fmt: skip
    if tokens:
        last = next((r for r in reversed(calls) if r.ok), calls[-1])
        return passed(
            [Evidence.of(tokens[0], "token obtained"), Evidence.of(last, "token reused")],
            f"{len(tokens)} token(s) for {len(calls)} API requests",
        )
    return passed(
        [Evidence.of(calls[0], "token obtained before the window, reused")],
        f"no token fetched in the window for {len(calls)} API requests",
    )


async def uat_completed(ctx: Context) -> Outcome:
    """Both of the go-live requirements' named tests: open-value issuance and recovery."""
    parts = [await open_value(ctx), await issue_recovery(ctx)]
    names = ("open-value issuance", "issue recovery using idempotency")
    evidence = [e for part in parts for e in part.evidence[:2]]
    failing = [name for name, part in zip(names, parts, strict=True) if part.status == FAIL]
    if failing:
        return failed(evidence, "not passed: " + ", ".join(failing))
    if all(part.status == PASS for part in parts):
        return passed(evidence, "open-value issuance and issue recovery both passed")
    missing = [name for name, part in zip(names, parts, strict=True) if part.status != PASS]
    return not_exercised("not exercised: " + ", ".join(missing))


ITEMS: tuple[Item, ...] = (
    Item(
        "vouchers.demo.sample_vouchers",
        DEMO,
        "Clients should issue and open sample demo vouchers to clarify how digital vouchers can "
        "be integrated into their solution.",
        AUTOMATIC,
        sample_vouchers,
        advice="Open at least one issued voucher as its holder would: its `short_url`, with the "
        "`short_url_pin` of the issuance's answer.",
        exercise="Issue a voucher and open its `short_url` with its PIN.",
    ),
    Item(
        "vouchers.auth.token_reused",
        AUTH,
        "The second step involves attaching the auth token obtained in the first step to all "
        "requests performed on the API.",
        AUTOMATIC,
        token_reused,
        advice="Keep the access token and reuse it on every call until shortly before its "
        "`expires_in`; fetch a new one only then (or after a 401).",
        exercise="Call the Voucher API with a token from `POST /oauth2/token`.",
    ),
    Item(
        "vouchers.uat.all_products",
        UAT,
        "Issuance of all products in the UAT catalogue",
        AUTOMATIC,
        all_products,
        advice="Issue at least one voucher of every product `GET /v3/products` lists for the "
        "client (open-value ones with a `face_value`).",
        exercise="Issue one voucher of each product of `GET /v3/products`.",
    ),
    Item(
        "vouchers.uat.open_value",
        UAT,
        "Please ensure specifically that open-value products are supported. This represents the "
        "majority of the products we offer. The main difference for issuing a open-value "
        "vouchers is the need to specify its expected face value.",
        AUTOMATIC,
        open_value,
        advice="Send `face_value` (in cents, within the product's `min_face_value` and "
        "`max_face_value`) when issuing an open-value product (`is_open_value`).",
        exercise="Have an open-value product in the UAT catalogue and issue it with a "
        "`face_value`.",
    ),
    Item(
        "vouchers.uat.statuses",
        UAT,
        "Obtain voucher status using retrieve vouchers information",
        AUTOMATIC,
        statuses,
        advice="Read the issued vouchers' status with `GET /v3/vouchers?id=...` (up to 20 ids) "
        "or `GET /v3/vouchers/{voucher_id}`.",
        exercise="Issue vouchers, then retrieve them with `GET /v3/vouchers?id=...`.",
    ),
    Item(
        "vouchers.uat.issue_recovery",
        UAT,
        "Implementation of issue recovery using idempotency",
        AUTOMATIC,
        issue_recovery,
        advice="Save each issuance's `Idempotency-Key` with its body before sending it; when the "
        "answer is lost (timeout, dropped connection, 5xx), send the same request again with the "
        "same key: the answer (with `Idempotency-Record`) gives the vouchers already issued.",
        exercise="Run with `--faults` (a lost answer on the issue route) or drop the connection "
        "of one issuance, then repeat it with its key.",
    ),
    Item(
        "vouchers.uat.no_duplicate",
        UAT,
        "To avoid discrepancies with our records of voucher issuances, we require all clients to "
        "implement issue recovery using the idempotency (ability to handle repeated requests "
        "safely) feature of the API.",
        AUTOMATIC,
        no_duplicate,
        advice="Send an `Idempotency-Key` (a UUID) with every issuance and keep it for its "
        "retries: a retry with a new key issues (and in production bills) the vouchers again.",
        exercise="Issue vouchers through the integration.",
    ),
    Item(
        "vouchers.golive.uat_completed",
        GO_LIVE,
        "Clients are expected to complete UAT including the above mentioned issuance of "
        "open-value products and implementation of issue recovery using idempotency before "
        "moving to production.",
        AUTOMATIC,
        uat_completed,
        advice="Pass `vouchers.uat.open_value` and `vouchers.uat.issue_recovery` first.",
        exercise="Exercise open-value issuance and issue recovery in the same window.",
    ),
    Item(
        "vouchers.golive.production_tests",
        GO_LIVE,
        "It is recommended to make a few voucher issuance tests in production before your "
        "official launch with end-users. Please inform us in advance of when you plan to "
        "perform these tests so we can assist to monitor and confirm the issuances from our end.",
        ATTESTED,
        advice="Plan a few production issuances before launch, tell the operator when, and have "
        "an admin attest it.",
    ),
)

CHECKLIST = Checklist(
    surface="vouchers",
    title="Voucher API (UNIQREWARDS): integration process, UAT and go-live",
    source="vendor",
    reference="UNIQREWARDS, Integration process (documentation.api.uniqrewards.com)",
    items=ITEMS,
    faults=(FaultSpec(LOST_ANSWER, 1, ISSUE),),
)
