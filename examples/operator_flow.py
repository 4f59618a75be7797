#!/usr/bin/env python3
"""An operator's free-bets flow through the Operator API (Gamnify compatible), end to end.

What an operator's back office and game server do, each step checked:

1. authentication: every request is signed as the vendor documents it, a plain SHA-256 of
   ``shared key + relative URL + raw body``; a tampered hash must be refused (401);
2. campaigns: create one with no end, find it in the list, read it (also with a trailing slash
   and with a query string in the URL);
3. the secondary key, when known, signs as well as the primary (key rotation);
4. rewards: a Fixed FreeBets reward of 3 bets of 0.50 EUR for 30 days;
5. enrollments: enrol a player, enrol them again (the same enrollment);
6. free bets: use the 3 bets, repeating one ``betId`` (idempotent: nothing used twice), until
   the enrollment is Completed; a 4th bet is refused (409);
7. bulk enrollment: 200 players (one already enrolled) through the worker, followed once a
   second until Completed, then the reward's enrollments read page by page;
8. cancelling the campaign cancels its reward and the open enrollments; cancelling it again is
   refused (409).

Errors are handled as the Operator API's certification checklist asks
(``docs/certification-operator.md``): a lost answer is sent again unchanged only where that is
safe (a read, an enrollment, a bet with its ``betId``, a bulk), a 429 or 503 after
``Retry-After``, a bulk is read once a second and its failed players enrolled again; so the
flow passes inside ``bestow certify run ... --faults``.

This is what an integrator writes: it needs only ``httpx`` and the standard library, and talks
to the server over HTTP like any client. Against ``make run``::

    .venv/bin/bestow demo --json | python examples/operator_flow.py --demo-json -

or with the credentials given (``--operator-id``/``--key``, or the environment variables
``OPERATOR_ID``/``OPERATOR_KEY``). It prints a report and exits 0 when every check passed, 1
when one failed, 2 when it could not run at all (bad arguments, server unreachable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

RETRIES = 5
BET_COUNT = 3
BET_VALUE = 0.50
BULK_PLAYERS = 200
PAGE_SIZE = 100
POLL_SECONDS = 1.0
POLL_TIMEOUT_SECONDS = 60.0
ACTOR = "examples/operator_flow.py"


class Stop(Exception):
    """The run cannot go on (a campaign, a reward or an enrollment missing): reported, exit 1."""


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


# --- HTTP ------------------------------------------------------------------------------------


def sign(key: str, relative_url: str, body: bytes = b"") -> str:
    """The vendor's request hash: lowercase hex SHA-256 of the shared key, the relative URL
    (the path with its trailing slashes trimmed, plus ``?`` and the query as sent when there is
    one) and the raw body bytes (none for a GET). No separators, no HMAC."""
    path, mark, query = relative_url.partition("?")
    relative = path.rstrip("/") + (mark + query if query else "")
    return hashlib.sha256(key.encode() + relative.encode() + body).hexdigest()


@dataclass
class Answer:
    """An Operator API answer: the HTTP status and the envelope's three fields."""

    status: int
    message: str
    data: Any
    code: str
    text: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == "OK"

    def brief(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def describe(self) -> str:
        """The status and the envelope's message, or the raw text when there is no envelope."""
        return self.brief() if self.code else f"{self.status} {self.text}"


class Api:
    """The Operator API of one operator, every request signed with its shared key."""

    def __init__(self, base_url: str, operator_id: int, key: str) -> None:
        self.base_url = base_url.rstrip("/")
        # Behind a proxy the server may see a path prefix: it is part of the URL it hashes.
        self.prefix = urlsplit(self.base_url).path.rstrip("/")
        self.operator_id = operator_id
        self.key = key
        self.http = httpx.Client(timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        query: dict[str, Any] | None = None,
        key: str | None = None,
        tamper: bool = False,
        idempotent: bool | None = None,
    ) -> Answer:
        """One signed request. ``path`` is sent as given (a trailing slash too) and signed
        without its trailing slashes, as the rule says. A rate limit (429) or an unavailable
        service (503) is waited out (``Retry-After``) and the request sent again: the server did
        not act on it. A lost answer (the connection dropped, a gateway's 504) is sent again
        unchanged when the request is ``idempotent`` (every GET; an enrollment, whose player is
        its key; a bet, whose ``betId`` is; a bulk enrollment, whose players already enrolled
        count as existing): the repeat answers what was done. A campaign or reward creation is
        not: sent twice, it would create two."""
        if idempotent is None:
            idempotent = method == "GET"
        url = path + (f"?{urlencode(query)}" if query else "")
        raw = b"" if body is None else json.dumps(body).encode()
        signature = sign(key or self.key, self.prefix + url, raw)
        if tamper:
            signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        headers = {
            "X-AUTH-OPERATOR-ID": str(self.operator_id),
            "X-AUTH-REQUEST-HASH": signature,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(RETRIES):
            last = attempt == RETRIES - 1
            try:
                response = self.http.request(
                    method, self.base_url + url, content=raw or None, headers=headers
                )
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout):
                if not idempotent or last:
                    raise
                time.sleep(0.5 * 2**attempt)  # the answer was lost: ask again, the same way
                continue
            if response.status_code in (429, 503) and not last:
                # At least Retry-After, longer on each repeat (exponential backoff).
                wait = float(response.headers.get("Retry-After", 0.5))
                time.sleep(max(wait, 0.5 * 2**attempt))
                continue
            if response.status_code == 504 and idempotent and not last:
                time.sleep(0.5 * 2**attempt)
                continue
            break
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            return Answer(response.status_code, "", None, "", response.text[:300])
        return Answer(
            response.status_code,
            str(envelope.get("message", "")),
            envelope.get("data"),
            str(envelope.get("responseCode", "")),
            response.text[:300],
        )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def problems_of(data: Any, expected: dict[str, Any]) -> list[str]:
    """The fields of ``data`` that differ from ``expected``."""
    if not isinstance(data, dict):
        return [f"data is {data!r}, not an object"]
    return [
        f"{name} {data.get(name)!r} != {value!r}"
        for name, value in expected.items()
        if data.get(name) != value
    ]


# --- The steps -------------------------------------------------------------------------------


@dataclass
class Flow:
    """What the run created, for the next steps."""

    tag: str
    products: list[str]
    campaign_id: str = ""
    reward_id: str = ""
    enrollment_id: str = ""
    player: str = ""
    bulk_players: list[str] = field(default_factory=list)


def tampered_hash(api: Api, report: Report) -> None:
    answer = api.call("GET", "/v1/campaigns", tamper=True)
    report.check(
        "auth: a tampered hash is refused",
        answer.status == 401 and answer.code == "Unauthorized" and answer.data == {},
        answer.describe(),
    )


def campaigns(api: Api, report: Report, flow: Flow) -> None:
    body = {
        "name": f"Operator flow {flow.tag}",
        "description": "Created by examples/operator_flow.py",
        "operatorReference": f"FLOW-{flow.tag}",
        "startTimeUtc": iso(datetime.now(UTC) - timedelta(minutes=1)),
        "createdBy": ACTOR,
    }
    created = api.call("POST", "/v1/campaigns", body)
    data = created.data if isinstance(created.data, dict) else {}
    problems = problems_of(
        data,
        {
            "name": body["name"],
            "operatorReference": body["operatorReference"],
            "operatorId": api.operator_id,
            "endTimeUtc": None,
            "status": "Active",
            "createdBy": ACTOR,
        },
    )
    if not created.ok or not data.get("id"):
        report.check("campaign: create", False, created.describe())
        raise Stop("no campaign")
    flow.campaign_id = str(data["id"])
    report.check(
        "campaign: create",
        not problems,
        "; ".join(problems) or f"{flow.campaign_id} Active, no end",
    )

    listed = api.call("GET", "/v1/campaigns")
    ids = [c.get("id") for c in listed.data] if isinstance(listed.data, list) else []
    report.check(
        "campaign: listed",
        listed.ok and flow.campaign_id in ids,
        f"{len(ids)} campaign(s), the new one among them"
        if flow.campaign_id in ids
        else f"not in the list: {listed.describe()}",
    )

    path = f"/v1/campaigns/{flow.campaign_id}"
    for name, answer in (
        ("campaign: get", api.call("GET", path)),
        ("campaign: get with a trailing slash", api.call("GET", path + "/")),
        ("campaign: get with a query string", api.call("GET", path, query={"view": "flow"})),
    ):
        differences = problems_of(answer.data, data) if answer.ok else [answer.describe()]
        report.check(
            name,
            not differences,
            "; ".join(differences) or f"{answer.status} {answer.code}, the campaign as created",
        )


def secondary_shared_key(api: Api, report: Report, flow: Flow, secondary: str | None) -> None:
    if not secondary:
        report.note("no secondary key given: the secondary-key check is skipped")
        return
    # A read of its own (a query the other reads lack): the same read repeated at once would
    # be polling.
    answer = api.call(
        "GET", f"/v1/campaigns/{flow.campaign_id}", query={"key": "secondary"}, key=secondary
    )
    report.check(
        "auth: the secondary key signs too",
        answer.ok and isinstance(answer.data, dict) and answer.data.get("id") == flow.campaign_id,
        answer.describe(),
    )


def reward(api: Api, report: Report, flow: Flow) -> None:
    now = datetime.now(UTC)
    body = {
        "rewardType": "FreeBets",
        "name": f"{BET_COUNT} free bets",
        "description": f"{BET_COUNT} bets of {BET_VALUE:.2f} EUR",
        "operatorReference": f"FLOW-FB-{flow.tag}",
        "products": flow.products,
        "startTimeUtc": iso(now - timedelta(seconds=30)),
        "endTimeUtc": iso(now + timedelta(days=30)),
        "createdBy": ACTOR,
        "freeBetDetails": {
            "freeBetDetailsType": "Fixed",
            "betValue": BET_VALUE,
            "currencyIsoCode": "EUR",
            "betCount": BET_COUNT,
        },
    }
    created = api.call("POST", f"/v1/campaigns/{flow.campaign_id}/rewards", body)
    data = created.data if isinstance(created.data, dict) else {}
    if not created.ok or not data.get("id"):
        report.check("reward: create", False, created.describe())
        raise Stop("no reward")
    flow.reward_id = str(data["id"])
    details = data.get("freeBetDetails") or {}
    problems = problems_of(
        data,
        {
            "campaignId": flow.campaign_id,
            "rewardType": "FreeBets",
            "products": flow.products,
            "status": "Active",
        },
    ) + problems_of(
        details,
        {
            "freeBetDetailsType": "Fixed",
            "betValue": BET_VALUE,
            "betCount": BET_COUNT,
            "currencyIsoCode": "EUR",
            "creditWalletType": "FreeBet",
            "stakeNotReturned": True,
        },
    )
    report.check(
        "reward: create",
        not problems,
        "; ".join(problems)
        or f"{flow.reward_id} Active, {BET_COUNT} x {BET_VALUE:.2f} EUR on "
        + ", ".join(flow.products)
        + f", until {data.get('endTimeUtc')}",
    )
    got = api.call("GET", f"/v1/rewards/{flow.reward_id}")
    differences = problems_of(got.data, data) if got.ok else [got.describe()]
    report.check("reward: get", not differences, "; ".join(differences) or "the reward as created")


def enrol(api: Api, report: Report, flow: Flow) -> None:
    flow.player = f"player-{flow.tag}-0001"
    path = f"/v1/rewards/{flow.reward_id}/enrollments"
    first = api.call("POST", path, {"operatorPlayerId": flow.player}, idempotent=True)
    data = first.data if isinstance(first.data, dict) else {}
    if not first.ok or not data.get("id"):
        report.check("enrol: a player", False, first.describe())
        raise Stop("no enrollment")
    flow.enrollment_id = str(data["id"])
    expected = {
        "rewardId": flow.reward_id,
        "campaignId": flow.campaign_id,
        "operatorPlayerId": flow.player,
        "status": "New",
        "betValue": BET_VALUE,
        "currencyIsoCode": "EUR",
        "totalBetCount": BET_COUNT,
        "remainingBetCount": BET_COUNT,
    }
    problems = problems_of(data, expected)
    report.check(
        "enrol: a player",
        not problems,
        "; ".join(problems) or f"{flow.player} -> {flow.enrollment_id} New, {BET_COUNT} bets",
    )
    again = api.call("POST", path, {"operatorPlayerId": flow.player}, idempotent=True)
    problems = problems_of(again.data, {"id": flow.enrollment_id, **expected})
    report.check(
        "enrol: the same player again answers the same enrollment",
        again.ok and not problems,
        "; ".join(problems) or f"{again.status}, {flow.enrollment_id} New, {BET_COUNT} bets left",
    )


def enrollment(api: Api, flow: Flow, enrollment_id: str | None = None) -> Answer:
    return api.call("GET", f"/v1/enrollments/{enrollment_id or flow.enrollment_id}")


def bets(api: Api, report: Report, flow: Flow) -> None:
    path = f"/v1/enrollments/{flow.enrollment_id}/bets"
    product = flow.products[0]
    bet_ids = [f"bet-{flow.tag}-{n}" for n in range(1, BET_COUNT + 1)]

    def use(bet_id: str) -> Answer:
        return api.call("POST", path, {"betId": bet_id, "product": product}, idempotent=True)

    for number, bet_id in enumerate(bet_ids, start=1):
        answer = use(bet_id)
        left = BET_COUNT - number
        status = "Completed" if left == 0 else "Active"
        problems = problems_of(
            answer.data,
            {
                "betId": bet_id,
                "enrollmentId": flow.enrollment_id,
                "product": product,
                "betValue": BET_VALUE,
                "remainingBetCount": left,
                "enrollmentStatus": status,
            },
        )
        report.check(
            f"bet {number}: {bet_id}",
            answer.ok and not problems,
            "; ".join(problems) or f"{status}, {left} bet(s) left",
        )
        if number == 1:
            # The game server lost the answer and sends the same bet again, before the next.
            repeat = use(bet_id)
            read = enrollment(api, flow)
            remaining = read.data.get("remainingBetCount") if isinstance(read.data, dict) else None
            same = repeat.ok and repeat.data == answer.data
            report.check(
                f"bet 1 repeated: {bet_id}",
                same and remaining == BET_COUNT - 1,
                f"the first answer again, the enrollment still has {remaining} bet(s) left"
                if same
                else f"{repeat.describe()}; enrollment remainingBetCount {remaining}",
            )

    fourth = use(f"bet-{flow.tag}-{BET_COUNT + 1}")
    report.check(
        f"bet {BET_COUNT + 1}: refused, nothing left",
        fourth.status == 409 and fourth.code == "Conflict",
        fourth.describe(),
    )

    listed = api.call("GET", path)
    used = [b.get("betId") for b in listed.data] if isinstance(listed.data, list) else []
    read = enrollment(api, flow)
    problems = problems_of(read.data, {"status": "Completed", "remainingBetCount": 0})
    report.check(
        "bets: listed, enrollment Completed",
        listed.ok and used == bet_ids and not problems,
        "; ".join(problems)
        or (f"{len(used)} bets used: " + ", ".join(map(str, used)) + "; status Completed"),
    )


def follow(
    api: Api, path: str, bulk_id: str, state: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Read a bulk enrollment once a second until it is Completed or Failed (or the timeout):
    its last state and the statuses seen."""
    started = time.monotonic()
    seen = [str(state.get("status"))]
    while state.get("status") not in ("Completed", "Failed"):
        if time.monotonic() - started > POLL_TIMEOUT_SECONDS:
            break
        time.sleep(POLL_SECONDS)
        polled = api.call("GET", f"{path}/{bulk_id}")
        if not polled.ok or not isinstance(polled.data, dict):
            raise Stop(f"bulk {bulk_id} unreadable: {polled.describe()}")
        state = polled.data
        if seen[-1] != state.get("status"):
            seen.append(str(state.get("status")))
    return state, seen


def bulk(api: Api, report: Report, flow: Flow) -> None:
    new_players = [f"player-{flow.tag}-{n:04d}" for n in range(2, BULK_PLAYERS + 1)]
    # The first player is already enrolled: the bulk must count them as existing.
    flow.bulk_players = [*new_players[:99], flow.player, *new_players[99:]]
    path = f"/v1/rewards/{flow.reward_id}/enrollments/bulk"
    body = {"operatorPlayerIds": flow.bulk_players, "createdBy": ACTOR}
    accepted = api.call("POST", path, body, idempotent=True)
    data = accepted.data if isinstance(accepted.data, dict) else {}
    if accepted.status != 202 or not data.get("id"):
        report.check("bulk: accepted", False, accepted.describe())
        return
    bulk_id = str(data["id"])
    report.check(
        "bulk: accepted",
        accepted.code == "OK" and data.get("totalCount") == BULK_PLAYERS,
        f"202, {bulk_id} {data.get('status')}, totalCount {data.get('totalCount')}",
    )

    started = time.monotonic()
    state, seen = follow(api, path, bulk_id, data)
    enrolled = int(state.get("enrolledCount") or 0)
    again = ""
    if state.get("status") == "Completed" and state.get("failedCount"):
        # Some players failed (`error` names the first): the same list again enrols them, the
        # others counting as existing.
        report.note(f"bulk {bulk_id}: {state.get('failedCount')} failed ({state.get('error')})")
        retried = api.call("POST", path, body, idempotent=True)
        if retried.status != 202 or not isinstance(retried.data, dict):
            report.check("bulk: completed", False, f"enrolling again: {retried.describe()}")
            return
        failed_before = state.get("failedCount")
        state, _ = follow(api, path, str(retried.data.get("id")), retried.data)
        enrolled += int(state.get("enrolledCount") or 0)
        state = {**state, "existingCount": BULK_PLAYERS - enrolled}
        again = f" ({failed_before} failed player(s) enrolled by a second bulk)"
    elapsed = time.monotonic() - started
    state = {**state, "enrolledCount": enrolled}
    problems = problems_of(
        state,
        {
            "status": "Completed",
            "processedCount": BULK_PLAYERS,
            "enrolledCount": BULK_PLAYERS - 1,
            "existingCount": 1,
            "failedCount": 0,
        },
    )
    report.check(
        "bulk: completed",
        not problems,
        ("; ".join(problems) + f" after {elapsed:.1f} s" if problems else "")
        or f"{' -> '.join(seen)} in {elapsed:.1f} s: enrolled {state.get('enrolledCount')}, "
        f"existing {state.get('existingCount')}, failed {state.get('failedCount')}{again}",
    )

    found: list[dict[str, Any]] = []
    sizes = []
    for page in (1, 2, 3):
        listed = api.call(
            "GET",
            f"/v1/rewards/{flow.reward_id}/enrollments",
            query={"page": page, "pageSize": PAGE_SIZE},
        )
        if not listed.ok or not isinstance(listed.data, list):
            report.check("bulk: enrollments listed", False, f"page {page}: {listed.describe()}")
            return
        sizes.append(len(listed.data))
        found += listed.data
    players = {e.get("operatorPlayerId") for e in found}
    ids = {e.get("id") for e in found}
    report.check(
        "bulk: enrollments listed",
        len(found) == BULK_PLAYERS
        and len(ids) == BULK_PLAYERS
        and players == set(flow.bulk_players),
        f"{len(found)} enrollments on pages of {PAGE_SIZE} ({' + '.join(map(str, sizes))}), "
        f"{len(ids)} distinct, "
        + ("every player once" if players == set(flow.bulk_players) else "players differ"),
    )


def cancel(api: Api, report: Report, flow: Flow) -> None:
    # An enrollment still open (New) when the campaign is cancelled: one of the bulk's.
    open_id = ""
    if len(flow.bulk_players) > 1:
        listed = api.call(
            "GET",
            f"/v1/rewards/{flow.reward_id}/enrollments",
            query={"operatorPlayerId": flow.bulk_players[0]},
        )
        if listed.ok and isinstance(listed.data, list) and listed.data:
            open_id = str(listed.data[0].get("id", ""))
    path = f"/v1/campaigns/{flow.campaign_id}/cancel"
    cancelled = api.call("POST", path, {"cancelledBy": ACTOR})
    report.check(
        "cancel: the campaign",
        cancelled.ok and cancelled.data == {},
        cancelled.describe(),
    )
    campaign = api.call("GET", f"/v1/campaigns/{flow.campaign_id}")
    got = api.call("GET", f"/v1/rewards/{flow.reward_id}")
    problems = problems_of(campaign.data, {"status": "Cancelled", "cancelledBy": ACTOR})
    problems += problems_of(got.data, {"status": "Cancelled", "cancelledBy": ACTOR})
    report.check(
        "cancel: the campaign and its reward read Cancelled",
        campaign.ok and got.ok and not problems,
        "; ".join(problems) or f"campaign and reward Cancelled by {ACTOR}",
    )
    if open_id:
        opened = enrollment(api, flow, open_id)
        problems = problems_of(opened.data, {"status": "Cancelled", "cancelledBy": ACTOR})
        report.check(
            "cancel: an open enrollment reads Cancelled",
            opened.ok and not problems,
            "; ".join(problems) or f"{open_id} ({flow.bulk_players[0]}) New -> Cancelled",
        )
    else:
        report.check("cancel: an open enrollment reads Cancelled", False, "no open enrollment")
    done = enrollment(api, flow)
    problems = problems_of(done.data, {"status": "Completed", "cancelledBy": None})
    report.check(
        "cancel: the completed enrollment stays Completed",
        done.ok and not problems,
        "; ".join(problems) or f"{flow.enrollment_id} Completed",
    )
    again = api.call("POST", path, {"cancelledBy": ACTOR})
    report.check(
        "cancel: cancelling again is refused",
        again.status == 409 and again.code == "Conflict",
        again.describe(),
    )


# --- Main ------------------------------------------------------------------------------------


@dataclass
class Credentials:
    operator_id: int
    key: str
    secondary: str | None
    products: list[str]


def credentials(args: argparse.Namespace) -> Credentials:
    """The operator's id, keys and products from the options, the demo JSON or the
    environment."""
    operator_id, key, secondary = args.operator_id, args.key, args.secondary_key
    products: list[str] = []
    if args.demo_json:
        with sys.stdin if args.demo_json == "-" else open(args.demo_json) as handle:
            demo = json.load(handle)["operator"]
        operator_id = operator_id or demo["operator_id"]
        key = key or demo["primary_shared_key"]
        secondary = secondary or demo.get("secondary_shared_key")
        products = [str(p) for p in demo.get("products") or []]
    operator_id = operator_id or os.environ.get("OPERATOR_ID")
    key = key or os.environ.get("OPERATOR_KEY")
    if not operator_id or not key:
        raise Usage(
            "no credentials: give --operator-id and --key, --demo-json FILE "
            "(the output of `bestow demo --json`), or OPERATOR_ID and OPERATOR_KEY"
        )
    try:
        number = int(operator_id)
    except ValueError:
        raise Usage(f"the operator id must be an integer, not {operator_id!r}") from None
    return Credentials(number, str(key), secondary, products or ["demo-slots"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("BESTOW_BASE_URL") or "http://127.0.0.1:8000",
        help="env BESTOW_BASE_URL, else http://127.0.0.1:8000",
    )
    parser.add_argument("--operator-id", help="env OPERATOR_ID")
    parser.add_argument("--key", help="the primary shared key; env OPERATOR_KEY")
    parser.add_argument("--secondary-key", help="optional: checked when given")
    parser.add_argument("--demo-json", help="the output of `bestow demo --json` ('-': stdin)")
    args = parser.parse_args(argv)
    try:
        creds = credentials(args)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read the credentials: {exc!r}", file=sys.stderr)
        return 2
    except Usage as exc:
        print(exc, file=sys.stderr)
        return 2

    print(f"Operator API flow against {args.base_url} as operator {creds.operator_id}", flush=True)
    api = Api(args.base_url, creds.operator_id, creds.key)
    report = Report()
    flow = Flow(uuid.uuid4().hex[:8], creds.products)
    try:
        tampered_hash(api, report)
        campaigns(api, report, flow)
        secondary_shared_key(api, report, flow, creds.secondary)
        reward(api, report, flow)
        enrol(api, report, flow)
        bets(api, report, flow)
        bulk(api, report, flow)
        cancel(api, report, flow)
    except Stop as exc:
        report.check("run", False, f"stopped: {exc}")
    except httpx.TransportError as exc:
        print(f"cannot reach {args.base_url}: {exc!r}", file=sys.stderr)
        return 2
    finally:
        api.close()

    failed = report.failed
    if failed:
        print(f"Operator flow result: FAIL ({len(failed)} of {len(report.checks)} checks failed)")
        for check in failed:
            print(f"  - {check.name}: {check.detail}")
        return 1
    print(f"Operator flow result: PASS ({len(report.checks)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
