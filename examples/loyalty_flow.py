#!/usr/bin/env python3
"""A loyalty partner's ad hoc rewards flow through the Loyalty API (ES Loyalty compatible).

What a partner's back office does to award and deduct a member's points, written the way
Bestow's loyalty checklist asks (``docs/certification-loyalty.md``):

1. an OAuth client-credentials token, kept and reused until shortly before it expires;
2. a session for the member (``POST /client/users/{account id}/sessions``), its
   ``correlationId`` naming it in every later call;
3. an award of the programme's reward in one of its business units, with the partner's own
   ``externalReferenceId``; when its answer is lost (a dropped connection, a 5xx) the same
   request is sent again, and the reference makes it credit once;
4. an amount over the reward's per-transaction maximum, caught before it is sent;
5. a deduction, with a reference of its own;
6. the transaction history, a page of one and the next page with its ``transactionId``: the
   award and the deduction are there, each once;
7. a documented error met (an award for an inactive account: ``Account is not active``),
   reported and not retried.

Every call waits out a 429 (``Retry-After``, doubled on each repeat) and repeats a request whose
answer was lost. It needs only ``httpx`` and the standard library. Against ``make run``::

    .venv/bin/bestow demo --json | python examples/loyalty_flow.py --demo-json -

It prints a report and exits 0 when every check passed, 1 when one failed, 2 when it could not
run at all (bad arguments, server unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

SCOPE = "loyalty.adhoc_reward"
ATTEMPTS = 6
FIRST_BACKOFF = 1.0
RENEW_BEFORE_SECONDS = 60
AWARD_POINTS = 100
DEDUCT_POINTS = 40


class Stop(Exception):
    """The run cannot go on (no token, no session): reported, then exit 1."""


class Usage(Exception):
    """The run cannot start (no credentials): exit 2."""


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(Check(name, passed, detail))
        print(f"[{'PASS' if passed else 'FAIL'}] {name}: {detail}", flush=True)
        return passed

    def note(self, text: str) -> None:
        print(f"       {text}", flush=True)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


@dataclass
class Programme:
    """What the programme agreed with the partner (here: from ``bestow demo --json``)."""

    business_unit: str
    reward_id: str
    reward_max: int
    account_id: str
    inactive_account_id: str | None


# --- HTTP ------------------------------------------------------------------------------------


class Api:
    """The Loyalty API with a client-credentials token, reused until it nearly expires. Every
    request waits out 429s with exponential backoff and is repeated, unchanged, when its answer
    is lost: each write it sends can be repeated safely (a session by its ``correlationId``, an
    award by its ``externalReferenceId``)."""

    def __init__(self, base_url: str, client_id: str, secret: str, token_path: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_path = token_path
        self.credentials = (client_id, secret)
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=30.0,
            headers={"User-Agent": "loyalty-flow-example/1.0"},
        )
        self.token: str | None = None
        self.token_expires = 0.0
        self.tokens_fetched = 0
        self.rate_limited = 0
        self.lost = 0

    def close(self) -> None:
        self.http.close()

    def authorization(self) -> dict[str, str]:
        if self.token is None or time.monotonic() > self.token_expires - RENEW_BEFORE_SECONDS:
            response = self.http.post(
                self.token_path,
                data={"grant_type": "client_credentials", "scope": SCOPE},
                auth=self.credentials,
            )
            if response.status_code != 200:
                raise Stop(f"token refused: {response.status_code} {response.text[:200]}")
            body = response.json()
            self.token = str(body["access_token"])
            self.token_expires = time.monotonic() + float(body.get("expires_in", 300))
            self.tokens_fetched += 1
        return {"Authorization": f"Bearer {self.token}"}

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, int]:
        """The answer, and how many times the request was sent. 429: wait ``Retry-After``,
        at least the backoff, which doubles on each repeat. A lost answer (no answer, 502,
        503, 504): send the same request again."""
        content = None if body is None else json.dumps(body).encode()
        backoff = FIRST_BACKOFF
        for attempt in range(1, ATTEMPTS + 1):
            sent = {**self.authorization(), **(headers or {})}
            if content is not None:
                sent["Content-Type"] = "application/json"
            try:
                response = self.http.request(
                    method, path, content=content, params=params, headers=sent
                )
            except httpx.TransportError:
                self.lost += 1
                time.sleep(backoff)
                backoff *= 2
                continue
            if response.status_code == 429:
                self.rate_limited += 1
                time.sleep(max(_retry_after(response), backoff))
                backoff *= 2
                continue
            if response.status_code in (502, 503, 504) and attempt < ATTEMPTS:
                self.lost += 1
                time.sleep(max(_retry_after(response), backoff))
                backoff *= 2
                continue
            if response.status_code == 401 and attempt == 1:
                self.token = None  # expired early (a rotated secret): one fresh token
                continue
            return response, attempt
        raise Stop(f"{method} {path}: no answer after {ATTEMPTS} attempts")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body['errorCode']}: {body['errorMessage']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"


# --- The flow --------------------------------------------------------------------------------


def start_session(api: Api, report: Report, account_id: str, label: str) -> dict[str, Any]:
    correlation_id = str(uuid.uuid4())
    response, _ = api.call(
        "POST",
        f"/client/users/{account_id}/sessions",
        body={"correlationId": correlation_id, "channel": "APP"},
        headers={"X-Identifier-Type": "ACCOUNT_ID"},
    )
    if response.status_code != 200:
        report.check(f"session: {label}", False, _error(response))
        raise Stop("no session")
    session: dict[str, Any] = response.json()
    report.check(
        f"session: {label}",
        session["correlationId"] == correlation_id,
        f"{session['status']}, {session['pointsBalance']} points, until {session['expiresAt']}",
    )
    return session


def award(
    api: Api, correlation_id: str, programme: Programme, amount: int, reference: str
) -> tuple[httpx.Response, int]:
    """An award (or a deduction, ``amount`` < 0) of the programme's reward, checked against its
    rules before it is sent."""
    if amount == 0 or abs(amount) > programme.reward_max:
        raise ValueError(
            f"{amount} points: an amount must be non-zero and at most {programme.reward_max} "
            f"points either way for {programme.reward_id}"
        )
    return api.call(
        "POST",
        f"/client/users/{correlation_id}/adhoc-reward/",
        body={
            "channel": "APP",
            "businessUnit": programme.business_unit,
            "issuerId": "loyalty-flow-example",
            "rewardId": programme.reward_id,
            "rewardAmount": amount,
            "externalReferenceId": reference,
        },
    )


def run_flow(api: Api, report: Report, programme: Programme, tag: str) -> None:
    api.authorization()
    report.check("token", True, f"{SCOPE}, reused until {RENEW_BEFORE_SECONDS} s before it expires")

    session = start_session(api, report, programme.account_id, "the member")
    correlation_id = session["correlationId"]
    before = int(session["pointsBalance"])

    reference = f"loyalty-flow-{tag}-award"
    response, attempts = award(api, correlation_id, programme, AWARD_POINTS, reference)
    again = f" (sent {attempts} times: the answer was lost, retried with {reference})"
    report.check(
        "award",
        response.status_code == 200,
        f"{AWARD_POINTS} points of {programme.reward_id} in {programme.business_unit}: "
        + (response.json()["transactionId"] if response.status_code == 200 else _error(response))
        + (again if attempts > 1 else ""),
    )
    awarded = response.json().get("transactionId") if response.status_code == 200 else None

    try:
        award(api, correlation_id, programme, programme.reward_max + 1, f"{reference}-over")
        report.check("rules: over the maximum", False, "the amount was not checked")
    except ValueError as exc:
        report.check("rules: over the maximum", True, f"caught before sending: {exc}")

    deduction = f"loyalty-flow-{tag}-deduction"
    response, _ = award(api, correlation_id, programme, -DEDUCT_POINTS, deduction)
    report.check(
        "deduction",
        response.status_code == 200,
        f"{DEDUCT_POINTS} points: "
        + (response.json()["message"] if response.status_code == 200 else _error(response)),
    )
    deducted = response.json().get("transactionId") if response.status_code == 200 else None

    history = f"/client/users/{correlation_id}/transactions/history/v2"
    first, _ = api.call("GET", history, params={"limit": 1})
    page = first.json() if first.status_code == 200 else {}
    cursor = page.get("nextTransactionId")
    seen = list(page.get("transactions", []))
    if cursor:
        second, _ = api.call("GET", history, params={"limit": 1, "transactionId": cursor})
        seen += second.json().get("transactions", []) if second.status_code == 200 else []
    ids = [t["transactionId"] for t in seen]
    report.check(
        "history",
        first.status_code == 200 and ids == [deducted, awarded],
        f"2 pages of 1: {', '.join(str(i) for i in ids)} (newest first)",
    )
    balance = seen[0]["balanceAfter"] if seen else None
    report.check(
        "history: credited once",
        balance == before + AWARD_POINTS - DEDUCT_POINTS,
        f"balance {before} + {AWARD_POINTS} - {DEDUCT_POINTS} = {balance}",
    )

    if programme.inactive_account_id is None:
        report.note("no inactive account given: the documented error is not met")
        return
    inactive = start_session(api, report, programme.inactive_account_id, "an inactive member")
    response, attempts = award(
        api, inactive["correlationId"], programme, AWARD_POINTS, f"loyalty-flow-{tag}-inactive"
    )
    report.check(
        "error: an inactive account",
        response.status_code == 400 and attempts == 1,
        f"{_error(response)}; reported, not retried",
    )


# --- Main ------------------------------------------------------------------------------------


def settings(args: argparse.Namespace) -> tuple[str, str, str, Programme]:
    """(client id, secret, token path, programme) from the options, the demo JSON or the
    environment."""
    demo: dict[str, Any] = {}
    if args.demo_json:
        with sys.stdin if args.demo_json == "-" else open(args.demo_json) as handle:
            demo = json.load(handle)["loyalty"]
    client_id = args.client_id or demo.get("client_id") or os.environ.get("LOYALTY_CLIENT_ID")
    secret = (
        args.client_secret or demo.get("client_secret") or os.environ.get("LOYALTY_CLIENT_SECRET")
    )
    account = args.account_id or demo.get("member", {}).get("account_id")
    if not client_id or not secret or not account:
        raise Usage(
            "no credentials or member: give --client-id, --client-secret and --account-id, or "
            "--demo-json FILE (the output of `bestow demo --json`)"
        )
    reward_id = args.reward_id or demo.get("reward_id") or demo["reward_ids"][0]
    programme = Programme(
        business_unit=args.business_unit or demo.get("business_unit") or demo["business_units"][0],
        reward_id=reward_id,
        reward_max=args.reward_max or int(demo.get("reward_max_amount", 1000)),
        account_id=account,
        inactive_account_id=args.inactive_account_id
        or demo.get("inactive_member", {}).get("account_id"),
    )
    return client_id, secret, demo.get("token_url", "/oauth2/token"), programme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("BESTOW_BASE_URL") or "http://127.0.0.1:8000",
        help="env BESTOW_BASE_URL, else http://127.0.0.1:8000",
    )
    parser.add_argument("--client-id", help="env LOYALTY_CLIENT_ID")
    parser.add_argument("--client-secret", help="env LOYALTY_CLIENT_SECRET")
    parser.add_argument("--demo-json", help="the output of `bestow demo --json` ('-': stdin)")
    parser.add_argument("--account-id", help="the member to award (its account GUID)")
    parser.add_argument("--inactive-account-id", help="an inactive member: the error met")
    parser.add_argument("--business-unit")
    parser.add_argument("--reward-id")
    parser.add_argument("--reward-max", type=int, help="the reward's per-transaction maximum")
    args = parser.parse_args(argv)
    try:
        client_id, secret, token_path, programme = settings(args)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(f"cannot read the settings: {exc!r}", file=sys.stderr)
        return 2
    except Usage as exc:
        print(exc, file=sys.stderr)
        return 2

    print(f"Loyalty flow against {args.base_url} as {client_id}", flush=True)
    api = Api(args.base_url, client_id, secret, token_path)
    report = Report()
    tag = uuid.uuid4().hex[:8]
    try:
        run_flow(api, report, programme, tag)
    except Stop as exc:
        report.check("run", False, f"stopped: {exc}")
    except httpx.TransportError as exc:
        print(f"cannot reach {args.base_url}: {exc!r}", file=sys.stderr)
        return 2
    finally:
        api.close()
    report.note(
        f"{api.tokens_fetched} token(s) fetched, {api.rate_limited} 429(s) waited out, "
        f"{api.lost} lost answer(s) retried"
    )

    failed = report.failed
    if failed:
        print(f"Loyalty flow result: FAIL ({len(failed)} of {len(report.checks)} checks failed)")
        for check in failed:
            print(f"  - {check.name}: {check.detail}")
        return 1
    print(f"Loyalty flow result: PASS ({len(report.checks)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
