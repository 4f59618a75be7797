"""``bestow vouchers``: list, show, redeem, void (audited as the CLI's user), the usage report and
the expiry sweep, in process with Typer's runner, on each test database."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select
from typer.testing import Result

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.models import AuditEntry
from tests.cli.helpers import CLI_ACTOR, Invoke, failed, ok
from tests.vouchers.helpers import MARCH, create, dashed, fixed, issue_vouchers, issued_at, stored


def vouchers(cli: Invoke) -> Callable[..., Awaitable[Result]]:
    """``bestow vouchers ...`` in a thread: the runtime fixture's engine keeps the event loop."""

    async def run(*args: str) -> Result:
        return await asyncio.to_thread(cli, "vouchers", *args)

    return run


async def test_cli_looks_up_redeems_and_voids_vouchers(cli: Invoke, runtime: Runtime) -> None:
    client_id = f"cli_{uuid.uuid4().hex[:20]}"
    run = vouchers(cli)
    gift = await create(runtime, **fixed(is_multiple_use=True))
    first, second = [
        v.code for v in await issue_vouchers(runtime, gift, quantity=2, client_id=client_id)
    ]

    listed = ok(await run("list", "--client-id", client_id, "--json"))
    assert sorted(v["code"] for v in listed["data"]) == sorted([first, second])
    assert listed["next_cursor"] is None
    paged = ok(await run("list", "--client-id", client_id, "--limit", "1", "--json"))
    cursor = paged["next_cursor"]
    rest = ok(await run("list", "--client-id", client_id, "--cursor", cursor, "--json"))
    assert {paged["data"][0]["code"], rest["data"][0]["code"]} == {first, second}

    redeem = ("redeem", dashed(first), "--amount", "400", "--reference", "T1", "--json")
    redeemed = ok(await run(*redeem))
    assert (redeemed["voucher"]["remaining_amount"], redeemed["redemption"]["actor"]) == (
        600,
        CLI_ACTOR,
    )
    again = ok(await run(*redeem))
    assert again["redemption"]["id"] == redeemed["redemption"]["id"]
    plain = await run("redeem", first)
    assert (plain.exit_code, plain.stdout) == (0, f"{first} redeemed 600: 0 left, used\n")

    voided = ok(await run("void", second, "--reason", "duplicate", "--json"))
    assert voided["voucher"]["status"] == "voided"
    assert "is voided" in failed(await run("redeem", second))
    assert "not found" in failed(await run("show", "NOPE"))
    assert "--status" in failed(await run("list", "--status", "gone"))

    shown = ok(await run("show", first, "--json"))
    assert [r["amount"] for r in shown["redemptions"]] == [400, 600]
    table = await run("show", first)
    assert table.exit_code == 0 and first in table.stdout and "redeem" in table.stdout
    used = ok(await run("list", "--client-id", client_id, "--status", "used", "--json"))
    assert [v["code"] for v in used["data"]] == [first]

    async with runtime.db.session() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.target_id.in_([shown["id"], voided["voucher"]["id"]]))
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    assert [tuple(row) for row in rows] == [
        ("voucher.redeem", CLI_ACTOR),
        ("voucher.redeem", CLI_ACTOR),
        ("voucher.void", CLI_ACTOR),
    ]


async def test_cli_prints_the_usage_report(cli: Invoke, runtime: Runtime) -> None:
    client_id = f"cli_{uuid.uuid4().hex[:20]}"
    run = vouchers(cli)
    product = await create(runtime, **fixed(validity_days=3650))
    await issued_at(runtime, product, MARCH, count=2, billable=True, client_id=client_id)
    await issued_at(runtime, product, MARCH, count=5, billable=False, client_id=client_id)
    code = product.code
    scope = ("--client-id", client_id, "--month", "2031-03")
    assert ok(await run("usage", *scope, "--json")) == [
        {
            "month": "2031-03",
            "client_id": client_id,
            "product_code": code,
            "currency": "SGD",
            "count": 2,
            "face_value_total": 2000,
        }
    ]
    assert ok(await run("usage", *scope, "--all", "--json"))[0]["count"] == 7
    as_csv = await run("usage", *scope, "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["month", "client_id", "product_code", "currency", "count", "face_value_total"],
        ["2031-03", client_id, code, "SGD", "2", "2000"],
    ]
    table = await run("usage", *scope)
    assert table.exit_code == 0 and code in table.stdout and "2000" in table.stdout
    assert "YYYY-MM" in failed(await run("usage", "--month", "2031-3"))


async def test_cli_expires_every_past_due_voucher(cli: Invoke, runtime: Runtime) -> None:
    run = vouchers(cli)
    product = await create(runtime, **fixed(validity_days=1))
    codes = await issued_at(runtime, product, utcnow() - timedelta(days=3), count=3)
    expired = ok(await run("expire", "--json"))["expired"]
    assert expired >= 3

    assert [(await stored(runtime, code)).status for code in codes] == ["expired"] * 3
    assert ok(await run("expire", "--json")) == {"expired": 0}
    assert (await run("expire")).stdout == "expired 0 vouchers\n"
