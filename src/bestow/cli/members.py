"""``bestow members``: the members of a merchant's programme, one at a time or imported from CSV,
through the same domain calls as the Admin API (audited as ``cli:<user>``)."""

from __future__ import annotations

import csv
import io
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    show_page,
    write,
)
from bestow.kit.errors import DomainError
from bestow.members.defaults import CHUNK_SIZE

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.kit.pagination import CursorPage
    from bestow.members import importer
    from bestow.members.history import HistoryPage
    from bestow.models import Member

app = typer.Typer(help="Members: the end users of a merchant's programme.", no_args_is_help=True)

SHOWN_ERRORS = 20


class MemberStatus(StrEnum):
    active = "active"
    inactive = "inactive"


MEMBER_COLUMNS = ("id", "account_id", "email", "phone", "loyalty_id", "status")


def _external_ids(pairs: list[str] | None) -> dict[str, str]:
    external: dict[str, str] = {}
    for pair in pairs or []:
        namespace, sep, value = pair.partition("=")
        if not sep or not namespace.strip() or not value.strip():
            fail("--external takes NAMESPACE=VALUE")
        external[namespace.strip()] = value.strip()
    return external


@app.command("create")
def members_create(
    merchant_id: str,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option(help="E.164, e.g. +14155551234")] = None,
    loyalty_id: Annotated[str | None, typer.Option()] = None,
    account_id: Annotated[str | None, typer.Option(help="A GUID; drawn when not given")] = None,
    first_name: Annotated[str, typer.Option()] = "",
    last_name: Annotated[str, typer.Option()] = "",
    status: Annotated[MemberStatus, typer.Option()] = MemberStatus.active,
    external: Annotated[
        list[str] | None,
        typer.Option("--external", help="An external id as NAMESPACE=VALUE; repeat for more"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a member of a merchant's programme."""
    from bestow.members import service as members
    from bestow.views.members import MemberOut

    external_ids = _external_ids(external)

    async def work(_: Runtime, session: WriteSession) -> Member:
        return await members.create_member(
            session,
            merchant_id=merchant_id,
            actor=cli_actor(),
            email=email,
            phone=phone,
            loyalty_id=loyalty_id,
            account_id=account_id,
            first_name=first_name,
            last_name=last_name,
            status=status.value,
            external_ids=external_ids,
        )

    show(dump(MemberOut, write(work)), as_json)


@app.command("show")
def members_show(member_id: str, as_json: AsJson = False) -> None:
    """One member."""
    from bestow.members import service as members
    from bestow.views.members import MemberOut

    async def work(_: Runtime, session: AsyncSession) -> Member:
        return await members.get_member(session, member_id)

    show(dump(MemberOut, read(work)), as_json)


@app.command("status")
def members_status(member_id: str, status: MemberStatus, as_json: AsJson = False) -> None:
    """Activate or deactivate a member."""
    from bestow.members import service as members
    from bestow.views.members import MemberOut

    async def work(_: Runtime, session: WriteSession) -> Member:
        return await members.set_status(
            session, member_id=member_id, status=status.value, actor=cli_actor()
        )

    show(dump(MemberOut, write(work)), as_json)


@app.command("list")
def members_list(
    merchant_id: str,
    status: Annotated[MemberStatus | None, typer.Option(help="Only members in this status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """A merchant's members, oldest first."""
    from bestow.members import service as members
    from bestow.views.members import MemberOut

    async def work(_: Runtime, session: AsyncSession) -> CursorPage[Member]:
        return await members.list_members(
            session,
            merchant_id=merchant_id,
            status=status.value if status else None,
            cursor=cursor,
            limit=limit,
        )

    show_page(read(work), MemberOut, MEMBER_COLUMNS, as_json=as_json, empty="no members")


@app.command("history")
def members_history(
    member_id: str, limit: Limit = 50, cursor: Cursor = None, as_json: AsJson = False
) -> None:
    """A member's issued rewards, vouchers and points transactions, newest first; with --json,
    as GET /admin/members/{member_id}/history answers."""
    from bestow.members import history
    from bestow.views.history import COLUMNS, history_json, summary

    async def work(_: Runtime, session: AsyncSession) -> HistoryPage:
        return await history.member_history(session, member_id, cursor=cursor, limit=limit)

    page = history_json(read(work))
    rows = page["data"] if as_json else [{**row, "summary": summary(row)} for row in page["data"]]
    show_list(rows, COLUMNS, as_json=as_json, empty="no history", next_cursor=page["next_cursor"])


@app.command("import")
def members_import(
    merchant_id: str,
    file: Annotated[Path, typer.Argument(help="CSV with a header row", show_default=False)],
    errors: Annotated[
        Path | None, typer.Option(help="Write every refused row (line, reason) to this CSV")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, max=50_000, help="Rows per transaction")
    ] = CHUNK_SIZE,
    as_json: AsJson = False,
) -> None:
    """Import members from CSV: email, phone, loyalty_id, account_id, first_name, last_name,
    status and external:<namespace> columns. Good rows are imported, bad ones reported."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bestow.members import importer

    try:
        text = importer.decode_csv(file.read_bytes())
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    except DomainError as exc:
        fail(f"{file}: {exc.message}")
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    # Validation is the costly part: large files spread it over the cores.
    workers = min(os.cpu_count() or 1, 8)
    pool = importer.validation_pool(workers) if lines > chunk_size else None
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("import", total=max(lines - 1, 0))

    def advance(done: int) -> None:
        # Started on the first chunk, so that a refused file prints its error alone.
        progress.start()
        progress.update(task, completed=done)

    async def main() -> importer.ImportReport:
        async with runtime() as rt:
            return await importer.import_members(
                rt.db,
                merchant_id=merchant_id,
                source=io.StringIO(text, newline=""),
                actor=cli_actor(),
                chunk_size=chunk_size,
                on_progress=advance,
                executor=pool,
                lookahead=workers + 1 if pool else 2,
            )

    try:
        report = run(main)
    except importer.ImportFailed as exc:
        fail(str(exc))
    finally:
        progress.stop()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if errors is not None:
        _write_errors(errors, report)
    _import_summary(merchant_id, report, errors, as_json)


def _write_errors(path: Path, report: importer.ImportReport) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("line", "reason"))
            writer.writerows(report.errors)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def _import_summary(
    merchant_id: str, report: importer.ImportReport, errors: Path | None, as_json: bool
) -> None:
    if as_json:
        print_json(
            {
                "merchant_id": merchant_id,
                "rows": report.rows,
                "imported": report.imported,
                "failed": report.failed,
                "errors": [e._asdict() for e in report.errors],
            }
        )
        return
    typer.echo(
        f"imported {report.imported:,} of {report.rows:,} rows into merchant {merchant_id}; "
        f"{report.failed:,} refused"
    )
    for error in report.errors[:SHOWN_ERRORS]:
        typer.echo(f"  line {error.line}: {error.reason}")
    hidden = report.failed - SHOWN_ERRORS
    if hidden > 0:
        where = f"all are in {errors}" if errors else "--errors FILE writes them all"
        typer.echo(f"  ... and {hidden:,} more ({where})")
