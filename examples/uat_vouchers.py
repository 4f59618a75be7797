#!/usr/bin/env python3
"""User acceptance tests of a Voucher API integration (UNIQREWARDS Client API v3 compatible).

The vendor asks every client to pass these before going live (its "integration process"):

1. issue every product of the UAT catalogue, open-value products included (with a face value);
2. read the vouchers' status with ``GET /v3/vouchers?id=...`` (unknown for the products with
   ``is_status_available=false``);
3. recover an issuance after a network failure with its ``Idempotency-Key``: the repeat must
   return the vouchers the first attempt issued, never new ones (production issuance is billed);

and, from the demo phase, it opens a sample voucher as its holder would (``short_url`` and PIN).
Run inside a certification run (``bestow certify run --surface vouchers``), its traffic passes
every automatic item of the Voucher API's checklist (``docs/certification-vouchers.md``).

This is what an integrator writes: it needs only ``httpx`` and the standard library, and talks
to the server over HTTP like any client. Against ``make run``::

    .venv/bin/bestow demo --json > /tmp/demo.json
    python examples/uat_vouchers.py --demo-json /tmp/demo.json

or with the credentials given (``--client-id``/``--client-secret``, or the environment variables
``UAT_CLIENT_ID``/``UAT_CLIENT_SECRET``). It prints a report and exits 0 when every check passed,
1 when one failed, 2 when it could not run at all (bad arguments, server unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import ssl
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

SCOPES = ("read_catalogue", "issue_vouchers", "read_vouchers")
MAX_IDS = 20  # GET /v3/vouchers takes up to 20 ids per request
RECOVERY_QUANTITY = 3
RETRIES = 5


class Stop(Exception):
    """The run cannot go on (no token, no catalogue): reported, then exit 1."""


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
class Issuance:
    """What the integrator saves before sending an issuance: enough to repeat it exactly."""

    key: str
    product: dict[str, Any]
    body: dict[str, Any]
    vouchers: list[dict[str, Any]] = field(default_factory=list)


# --- HTTP ------------------------------------------------------------------------------------


class Api:
    """The Voucher API with a client-credentials token, reused until it nearly expires."""

    def __init__(self, base_url: str, client_id: str, secret: str, token_path: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = urljoin(self.base_url + "/", token_path.lstrip("/"))
        self.credentials = (client_id, secret)
        self.http = httpx.Client(base_url=self.base_url, timeout=30.0)
        self.token: str | None = None
        self.token_expires = 0.0
        self.token_info: dict[str, Any] = {}

    def close(self) -> None:
        self.http.close()

    def authorization(self) -> dict[str, str]:
        if self.token is None or time.monotonic() > self.token_expires - 60:
            response = self.http.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=self.credentials,
            )
            if response.status_code != 200:
                raise Stop(f"token refused: {response.status_code} {response.text}")
            self.token_info = response.json()
            self.token = str(self.token_info["access_token"])
            self.token_expires = time.monotonic() + float(self.token_info.get("expires_in", 300))
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One call, repeated as is after a rate limit (``Retry-After``) or a server error:
        an issuance carries its ``Idempotency-Key``, so repeating it is safe."""
        headers = kw.pop("headers", {})
        for attempt in range(RETRIES):
            try:
                response = self.http.request(
                    method, path, headers={**self.authorization(), **headers}, **kw
                )
            except httpx.TransportError:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.5 * 2**attempt)
                continue
            retry = response.status_code == 429 or response.status_code >= 500
            if retry and attempt < RETRIES - 1:
                time.sleep(float(response.headers.get("Retry-After", 0.5 * 2**attempt)))
                continue
            return response
        raise AssertionError("unreachable")

    def issue(self, order: Issuance) -> httpx.Response:
        return self.request(
            "POST",
            f"/v3/products/{order.product['code']}",
            json=order.body,
            headers={"Idempotency-Key": order.key},
        )

    def issue_and_drop(self, order: Issuance, wait: float = 30.0) -> str:
        """Send an issuance on a raw connection and cut it (TCP reset) once the answer is on its
        way back, without reading a byte of it: the server did the work, the client never learnt
        the outcome. What the client saw, for the report."""
        url = urlsplit(self.base_url)
        secure = url.scheme == "https"
        host = url.hostname or "127.0.0.1"
        port = url.port or (443 if secure else 80)
        body = json.dumps(order.body).encode()
        path = f"{url.path.rstrip('/')}/v3/products/{order.product['code']}"
        head = "\r\n".join(
            [
                f"POST {path} HTTP/1.1",
                f"Host: {url.netloc}",
                f"Authorization: {self.authorization()['Authorization']}",
                f"Idempotency-Key: {order.key}",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                "Connection: close",
                "",
                "",
            ]
        )
        raw = socket.create_connection((host, port), timeout=wait)
        sock: socket.socket = (
            ssl.create_default_context().wrap_socket(raw, server_hostname=host) if secure else raw
        )
        try:
            sock.sendall(head.encode() + body)
            readable, _, _ = select.select([sock], [], [], wait)
            # Drop the connection abruptly (RST, not FIN), the answer unread.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            sock.close()
        if not readable:
            return f"no answer within {wait:.0f} s, connection dropped"
        return "request sent; connection reset as the answer arrived, answer never read"


# --- The steps -------------------------------------------------------------------------------


def product_type(product: dict[str, Any]) -> str:
    if not product["is_value_based"]:
        return "product based"
    if product["is_multiple_use"]:
        return "gift card"
    return "open value" if product["is_open_value"] else "fixed"


def open_face_value(product: dict[str, Any], wanted: int) -> int:
    low = product.get("min_face_value") or 100
    high = product.get("max_face_value") or 100_000
    return min(max(wanted, low), high)


def issue_body(product: dict[str, Any], quantity: int, face_value: int) -> dict[str, Any]:
    body: dict[str, Any] = {"quantity": quantity}
    if product["is_open_value"]:
        body["face_value"] = open_face_value(product, face_value)
    return body


def amount(voucher: dict[str, Any]) -> str:
    if not voucher["is_value_based"]:
        return f"{voucher['remaining_amount']} item(s)"
    cents = int(voucher["remaining_amount"])
    return f"{cents // 100:,}.{cents % 100:02d} {voucher['currency']}"


def voucher_problems(order: Issuance, vouchers: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the vouchers of an issuance, compared with what was asked."""
    product, problems = order.product, []
    if len(vouchers) != order.body["quantity"]:
        problems.append(f"{len(vouchers)} vouchers for {order.body['quantity']} asked")
    for voucher in vouchers:
        if voucher.get("product_code") != product["code"]:
            problems.append(f"voucher of product {voucher.get('product_code')}")
        if not voucher.get("voucher_code") or not voucher.get("voucher_id"):
            problems.append("a voucher without voucher_code or voucher_id")
        if product["is_open_value"]:
            value = order.body["face_value"]
            if voucher.get("remaining_amount") != value:
                problems.append(f"remaining_amount {voucher.get('remaining_amount')} != {value}")
            if f"{value // 100:,}.{value % 100:02d}" not in str(voucher.get("name")):
                problems.append(f"name {voucher.get('name')!r} without its denomination")
        elif product["is_value_based"] and voucher.get("remaining_amount") != product.get(
            "face_value"
        ):
            problems.append(f"remaining_amount {voucher.get('remaining_amount')}")
        if not product["is_value_based"] and voucher.get("currency") != "":
            problems.append("a product-based voucher with a currency")
    return problems


def get_token(api: Api, report: Report) -> None:
    try:
        api.authorization()
    except Stop as exc:
        report.check("token", False, str(exc))
        raise
    info = api.token_info
    granted = set(str(info.get("scope", "")).split())
    missing = set(SCOPES) - granted
    report.check(
        "token",
        info.get("token_type") == "Bearer" and not missing,
        f"{info.get('token_type')} token, scopes {' '.join(sorted(granted))}, "
        f"expires in {info.get('expires_in')} s"
        + (f"; MISSING {' '.join(sorted(missing))}" if missing else ""),
    )


def read_catalogue(api: Api, report: Report) -> list[dict[str, Any]]:
    response = api.request("GET", "/v3/products")
    if response.status_code != 200 or not isinstance(response.json(), list):
        report.check("catalogue", False, f"{response.status_code} {response.text[:200]}")
        raise Stop("no catalogue")
    catalogue: list[dict[str, Any]] = response.json()
    kinds: dict[str, int] = {}
    for product in catalogue:
        kinds[product_type(product)] = kinds.get(product_type(product), 0) + 1
    unknown_status = sum(not p["is_status_available"] for p in catalogue)
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
    report.check(
        "catalogue",
        bool(catalogue),
        f"{len(catalogue)} products ({summary}; status unavailable {unknown_status})",
    )
    for product in catalogue:
        value = (
            f"{product['min_face_value']}-{product['max_face_value']} cents"
            if product["is_open_value"]
            else f"{product['quantity']} item(s)"
            if not product["is_value_based"]
            else f"{product['face_value']} cents"
        )
        report.note(
            f"{product['code']:<20} {product_type(product):<14} {value:<18} {product['name']}"
        )
    open_products = [p for p in catalogue if p["is_open_value"]]
    report.check(
        "catalogue has open-value products",
        bool(open_products),
        ", ".join(p["code"] for p in open_products) or "none: the vendor requires them",
    )
    return catalogue


def issue_everything(
    api: Api, report: Report, catalogue: list[dict[str, Any]], face_value: int
) -> list[Issuance]:
    done: list[Issuance] = []
    for product in catalogue:
        if not product.get("in_stock", True):
            report.note(f"{product['code']}: out of stock, not issued")
            continue
        order = Issuance(str(uuid.uuid4()), product, issue_body(product, 1, face_value))
        response = api.issue(order)
        name = f"issue {product['code']} ({product_type(product)})"
        if response.status_code != 200:
            report.check(name, False, f"{response.status_code} {response.text[:200]}")
            continue
        order.vouchers = response.json()["vouchers"]
        problems = voucher_problems(order, order.vouchers)
        voucher = order.vouchers[0] if order.vouchers else {}
        report.check(
            name,
            not problems,
            "; ".join(problems)
            or f"{voucher['voucher_code']} {voucher['name']!r} {amount(voucher)}, "
            f"expires {voucher['expiration']}",
        )
        done.append(order)
    return done


def batches(items: list[str], size: int = MAX_IDS) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def retrieve(api: Api, ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The vouchers of ``ids`` in batches of 20, and the errors met."""
    found: list[dict[str, Any]] = []
    errors = []
    for batch in batches(ids):
        response = api.request("GET", "/v3/vouchers", params={"id": ",".join(batch)})
        if response.status_code != 200:
            errors.append(f"{response.status_code} {response.text[:200]}")
            continue
        found += response.json()
    return found, errors


def show_statuses(api: Api, report: Report, orders: list[Issuance]) -> None:
    ids = [v["voucher_id"] for order in orders for v in order.vouchers]
    found, errors = retrieve(api, ids)
    in_order = [v.get("voucher_id") for v in found] == ids
    report.check(
        "statuses",
        not errors and in_order,
        f"{len(found)} of {len(ids)} vouchers retrieved in "
        f"{len(list(batches(ids)))} request(s) of at most {MAX_IDS}"
        + (f"; errors: {errors}" if errors else "")
        + ("" if in_order or errors else "; not in the order asked"),
    )
    for voucher in found:
        status = (
            f"{voucher['status']} ({amount(voucher)} left)"
            if voucher["is_status_available"]
            else "unknown (is_status_available=false)"
        )
        report.note(f"{voucher['voucher_code']}  {voucher['product_code']:<20} {status}")
    unavailable = [v for v in found if not v["is_status_available"]]
    if unavailable:
        report.note(
            f"{len(unavailable)} voucher(s) with is_status_available=false: "
            "their status is not shown to recipients"
        )


def open_sample(api: Api, report: Report, orders: list[Issuance]) -> None:
    """Open a sample voucher as its holder would: its ``short_url``, then its PIN (the vendor's
    demo phase: "issue and open sample demo vouchers"). The link's path is opened on the API's
    own address, which a sandbox's public address may not be."""
    vouchers = [v for order in orders for v in order.vouchers]
    if not vouchers:
        report.check("sample voucher opened", False, "no voucher issued to open")
        return
    voucher = vouchers[0]
    path = urlsplit(voucher["short_url"]).path
    form = api.http.get(path)
    opened = api.http.post(path, data={"pin": voucher["short_url_pin"]})
    shown = opened.status_code == 200 and voucher["voucher_code"] in opened.text
    report.check(
        "sample voucher opened",
        form.status_code == 200 and shown,
        f"{path} asked for the PIN and showed the voucher"
        if shown
        else f"PIN form {form.status_code}, with the PIN {opened.status_code}",
    )


def recover(api: Api, report: Report, catalogue: list[dict[str, Any]], face_value: int) -> None:
    """Issue, lose the answer, repeat with the same key: the same vouchers, issued once."""
    candidates = [p for p in catalogue if p.get("in_stock", True)]
    # Open-value products are the majority of the vendor's: recover one of them if there is one.
    candidates.sort(key=lambda p: not p["is_open_value"])
    if not candidates:
        report.check("recovery", False, "no product in stock to issue")
        return
    product = candidates[0]
    order = Issuance(str(uuid.uuid4()), product, issue_body(product, RECOVERY_QUANTITY, face_value))
    # The request is saved (key and body) before it is sent: that is what makes recovery possible.
    report.note(f"recovery: {product['code']} {json.dumps(order.body)} Idempotency-Key {order.key}")
    report.note(f"attempt 1: {api.issue_and_drop(order)}")

    repeat = api.issue(order)
    if repeat.status_code != 200:
        report.check("recovery: repeat", False, f"{repeat.status_code} {repeat.text[:200]}")
        return
    order.vouchers = repeat.json()["vouchers"]
    record = repeat.headers.get("Idempotency-Record")
    report.check(
        "recovery: repeat answered from the first attempt",
        record is not None,
        f"Idempotency-Record: {record}"
        if record
        else "no Idempotency-Record header: the repeat issued anew (the first was lost?)",
    )
    problems = voucher_problems(order, order.vouchers)
    report.check(
        "recovery: vouchers of the request",
        not problems,
        "; ".join(problems)
        or f"{len(order.vouchers)} vouchers: "
        + ", ".join(v["voucher_code"] for v in order.vouchers),
    )

    ids = [v["voucher_id"] for v in order.vouchers]
    found, errors = retrieve(api, ids)
    same = [(v.get("voucher_id"), v.get("voucher_code")) for v in found] == [
        (v["voucher_id"], v["voucher_code"]) for v in order.vouchers
    ]
    report.check(
        "recovery: recorded server-side",
        not errors and same and len(found) == RECOVERY_QUANTITY,
        f"GET /v3/vouchers finds exactly the {len(found)} vouchers of the request"
        if same and not errors
        else f"GET /v3/vouchers disagrees: {errors or found}",
    )

    again = api.issue(order)
    again_ids = [v["voucher_id"] for v in again.json().get("vouchers", [])]
    report.check(
        "recovery: a further repeat issues nothing",
        again.status_code == 200 and again_ids == ids and "Idempotency-Record" in again.headers,
        f"{again.status_code}, the same {len(again_ids)} vouchers"
        if again_ids == ids
        else f"{again.status_code} {again.text[:200]}",
    )

    changed = Issuance(order.key, product, {**order.body, "quantity": RECOVERY_QUANTITY - 1})
    refused = api.issue(changed)
    code = refused.json().get("code") if refused.status_code != 200 else None
    report.check(
        "recovery: the key of another request is refused",
        refused.status_code == 422,
        f"{refused.status_code} {code}: a key is never reused for a different request",
    )


# --- Main ------------------------------------------------------------------------------------


def credentials(args: argparse.Namespace) -> tuple[str, str, str]:
    """(client id, secret, token path) from the options, the demo JSON or the environment."""
    client_id, secret, token_path = args.client_id, args.client_secret, "/oauth2/token"
    if args.demo_json:
        with sys.stdin if args.demo_json == "-" else open(args.demo_json) as handle:
            demo = json.load(handle)["vouchers"]
        client_id = client_id or demo["client_id"]
        secret = secret or demo["client_secret"]
        token_path = demo.get("token_url", token_path)
    client_id = client_id or os.environ.get("UAT_CLIENT_ID")
    secret = secret or os.environ.get("UAT_CLIENT_SECRET")
    if not client_id or not secret:
        raise Usage(
            "no credentials: give --client-id and --client-secret, --demo-json FILE "
            "(the output of `bestow demo --json`), or UAT_CLIENT_ID and UAT_CLIENT_SECRET"
        )
    return client_id, secret, token_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("BESTOW_BASE_URL") or "http://127.0.0.1:8000",
        help="env BESTOW_BASE_URL, else http://127.0.0.1:8000",
    )
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--demo-json", help="the output of `bestow demo --json` ('-': stdin)")
    parser.add_argument(
        "--face-value", type=int, default=1051, help="cents, for open-value products"
    )
    args = parser.parse_args(argv)
    try:
        client_id, secret, token_path = credentials(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read the credentials: {exc!r}", file=sys.stderr)
        return 2
    except Usage as exc:
        print(exc, file=sys.stderr)
        return 2

    print(f"Voucher API UAT against {args.base_url} as {client_id}", flush=True)
    api = Api(args.base_url, client_id, secret, token_path)
    report = Report()
    try:
        get_token(api, report)
        catalogue = read_catalogue(api, report)
        orders = issue_everything(api, report, catalogue, args.face_value)
        show_statuses(api, report, orders)
        open_sample(api, report, orders)
        recover(api, report, catalogue, args.face_value)
    except Stop as exc:
        report.check("run", False, f"stopped: {exc}")
    except httpx.TransportError as exc:
        print(f"cannot reach {args.base_url}: {exc!r}", file=sys.stderr)
        return 2
    finally:
        api.close()

    failed = report.failed
    if failed:
        print(f"UAT result: FAIL ({len(failed)} of {len(report.checks)} checks failed)")
        for check in failed:
            print(f"  - {check.name}: {check.detail}")
        return 1
    print(f"UAT result: PASS ({len(report.checks)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
