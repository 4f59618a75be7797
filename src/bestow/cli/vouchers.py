"""``bestow vouchers``: issued vouchers, redemption on a holder's behalf, the usage report and
the expiry sweep, through the vouchers domain and the views the Admin API shows (audited as the
CLI's user)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import (
    AsJson,
    Cursor,
    Limit,
    cli_actor,
    dump,
    fail,
    print_json,
    read,
    run,
    runtime,
    show,
    show_list,
    write,
)

# The domain and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.vouchers.usage import UsageLine

app = typer.Typer(
    help="Issued vouchers: look up, redeem, void, usage report, expiry.", no_args_is_help=True
)

COLUMNS = ("code", "id", "client_id", "product_code", "status", "remaining_amount", "expires_at")
REDEMPTION_COLUMNS = ("created_at", "kind", "amount", "remaining_after", "reference", "actor")


def _show_detail(detail: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(detail)
        return
    show({k: v for k, v in detail.items() if k != "redemptions"}, as_json=False)
    typer.echo("")
    show_list(
        detail["redemptions"],
        REDEMPTION_COLUMNS,
        as_json=False,
        empty="no redemptions",
        paginated=False,
    )


@app.command("list")
def list_vouchers(
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    product_code: Annotated[str | None, typer.Option("--product-code")] = None,
    status: Annotated[
        str | None, typer.Option(help="active, inactive, expired, voided or used")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Issued vouchers, in id order; filtered by client, product and (true) status."""
    from bestow.views.vouchers import AdminVoucherOut, voucher_list
    from bestow.vouchers import lookup
    from bestow.vouchers.status import STATUSES

    if status is not None and status not in STATUSES:
        fail(f"--status is one of {', '.join(STATUSES)}")

    async def work(_: Runtime, session: AsyncSession) -> tuple[list[dict[str, Any]], str | None]:
        found = voucher_list(
            await lookup.filtered_page(
                session,
                client_id=client_id,
                product_code=product_code,
                status=status,
                cursor=cursor,
                limit=limit,
            )
        )
        return [dump(AdminVoucherOut, row) for row in found["data"]], found["next_cursor"]

    rows, next_cursor = read(work)
    show_list(rows, COLUMNS, as_json=as_json, empty="no vouchers", next_cursor=next_cursor)


@app.command("show")
def show_voucher(code: str, as_json: AsJson = False) -> None:
    """One voucher by its code (any case, hyphens and spaces allowed), with its redemptions."""
    from bestow.views.vouchers import AdminVoucherDetailOut, voucher_detail
    from bestow.vouchers import lookup

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        voucher = await lookup.by_code(session, code)
        return dump(AdminVoucherDetailOut, await voucher_detail(session, voucher))

    _show_detail(read(work), as_json)


def _show_redeemed(redeemed: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(redeemed)
        return
    redemption, voucher = redeemed["redemption"], redeemed["voucher"]
    done = "voided" if redemption["kind"] == "void" else f"redeemed {redemption['amount']}"
    typer.echo(
        f"{voucher['code']} {done}: {redemption['remaining_after']} left, {voucher['status']}"
    )


@app.command("redeem")
def redeem(
    code: str,
    amount: Annotated[
        int | None, typer.Option(min=1, help="Cents or items (default: all that is left)")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="A transaction id: a repeat returns the first redemption")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Redeem a voucher on its holder's behalf (audited)."""
    from bestow.views.vouchers import AdminRedeemedOut, redeemed_out
    from bestow.vouchers.redemption import redeem_as

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        done = await redeem_as(session, cli_actor(), code=code, amount=amount, reference=reference)
        return dump(AdminRedeemedOut, await redeemed_out(session, done))

    _show_redeemed(write(work), as_json)


@app.command("void")
def void(
    code: str,
    reason: Annotated[str, typer.Option(help="Why, for the record")] = "",
    as_json: AsJson = False,
) -> None:
    """Void a voucher: what is left can no longer be used (audited)."""
    from bestow.views.vouchers import AdminRedeemedOut, redeemed_out
    from bestow.vouchers.redemption import void_as

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        done = await void_as(session, cli_actor(), code=code, reason=reason)
        return dump(AdminRedeemedOut, await redeemed_out(session, done))

    _show_redeemed(write(work), as_json)


@app.command("usage")
def usage(
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: every month)")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    include_all: Annotated[
        bool, typer.Option("--all", help="Count demo and UAT issuances too")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV")] = False,
    as_json: AsJson = False,
) -> None:
    """Vouchers issued per month, client and product, with their total face value: the billable
    ones (issued in production) unless --all."""
    from bestow.views.vouchers import USAGE_COLUMNS, usage_csv, usage_rows
    from bestow.vouchers.usage import MONTH
    from bestow.vouchers.usage import usage as usage_lines

    if month is not None and not re.match(MONTH, month):
        fail("--month is YYYY-MM")
    if as_csv and as_json:
        fail("give --csv or --json, not both")

    async def work(_: Runtime, session: AsyncSession) -> list[UsageLine]:
        return await usage_lines(
            session, month=month, client_id=client_id, billable_only=not include_all
        )

    lines = read(work)
    if as_csv:
        typer.echo(usage_csv(lines), nl=False)
        return
    show_list(
        usage_rows(lines), USAGE_COLUMNS, as_json=as_json, empty="no vouchers", paginated=False
    )


@app.command("expire")
def expire(as_json: AsJson = False) -> None:
    """Mark every voucher past its expiry `expired` now (workers do it every minute)."""
    from bestow.worker.housekeeping import expire_vouchers

    async def main() -> int:
        async with runtime() as rt:
            return await expire_vouchers(rt.db, max_batches=None)

    count = run(main)
    if as_json:
        print_json({"expired": count})
        return
    typer.echo(f"expired {count} voucher{'' if count == 1 else 's'}")
