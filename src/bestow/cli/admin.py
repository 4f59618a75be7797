"""Administration commands: the same services as the Admin API, straight on the database.

Each command runs one service call in one transaction on the configured database, as the CLI
user (``cli:<user>`` in the audit trail). Objects print as the Admin API returns them, with
``--json``; errors print one line and exit 1.
"""

from __future__ import annotations

import csv
import io
import os
from enum import StrEnum
from pathlib import Path
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
    print_table,
    read,
    run,
    runtime,
    show,
    show_list,
    switch,
    write,
)
from bestow.clients.kinds import CredentialKind
from bestow.clients.scopes import SCOPES
from bestow.kit.errors import Conflict, DomainError, Invalid, NotFound
from bestow.members.defaults import CHUNK_SIZE

# The services, the models and the Admin API's schemas are imported by the commands that use
# them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.clients import service as clients
    from bestow.deps import Runtime
    from bestow.kit.actor import Actor
    from bestow.members import importer
    from bestow.models import AdminToken, BusinessUnit, Client, Location, Member, Merchant

clients_app = typer.Typer(
    help="Clients (integrating partners): credentials, scopes, tiers, merchants.",
    no_args_is_help=True,
)
merchants_app = typer.Typer(
    help="Merchants, their locations and business units.", no_args_is_help=True
)
members_app = typer.Typer(
    help="Members: the end users of a merchant's programme.", no_args_is_help=True
)
admin_tokens_app = typer.Typer(help="Bearer tokens for the Admin API.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail of admin actions.", no_args_is_help=True)

SHOWN_ERRORS = 20


class ClientStatus(StrEnum):
    active = "active"
    suspended = "suspended"


class MemberStatus(StrEnum):
    active = "active"
    inactive = "inactive"


def register(app: typer.Typer) -> None:
    """Attach the administration command groups to the main app."""
    app.add_typer(clients_app, name="clients")
    app.add_typer(merchants_app, name="merchants")
    app.add_typer(members_app, name="members")
    app.add_typer(admin_tokens_app, name="admin-tokens")
    app.add_typer(audit_app, name="audit")


def _issued(issued: clients.IssuedSecret, as_json: bool) -> None:
    from bestow.surfaces.admin.schemas import CredentialOut, IssuedCredentialOut

    data = {**dump(CredentialOut, issued.credential), "secret": issued.secret}
    if as_json:
        print_json(dump(IssuedCredentialOut, data))
        return
    show({k: v for k, v in data.items() if k != "secret"}, as_json=False)
    typer.secho(f"secret (shown once, store it now): {issued.secret}", fg=typer.colors.YELLOW)


# Clients ------------------------------------------------------------------------------------

CLIENT_COLUMNS = ("id", "name", "status", "scopes", "rate_limit_tier", "operator_id")
CREDENTIAL_COLUMNS = ("id", "kind", "label", "hint", "created_at", "expires_at", "revoked_at")
SCOPE_HELP = f"A scope; repeat for more. Known: {', '.join(SCOPES)}"


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Display name")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help=SCOPE_HELP)] = None,
    tier: Annotated[str, typer.Option(help="Rate-limit tier")] = "default",
    operator_id: Annotated[
        int | None, typer.Option(help="Integer id of an Operator API client")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a client (an integrating partner)."""
    from bestow.clients import service as clients
    from bestow.surfaces.admin.schemas import ClientOut

    async def work(rt: Runtime, session: AsyncSession) -> Client:
        return await clients.create_client(
            session,
            name=name,
            scopes=scope or [],
            rate_limit_tier=tier,
            known_tiers=rt.rate_limiter.tier_names(),
            operator_id=operator_id,
            actor=cli_actor(),
        )

    show(dump(ClientOut, write(work)), as_json)


@clients_app.command("list")
def clients_list(
    status: Annotated[ClientStatus | None, typer.Option(help="Only clients in this status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """List clients, oldest first."""
    from bestow.clients import service as clients
    from bestow.kit.pagination import cursor_paginate
    from bestow.models import Client
    from bestow.surfaces.admin.schemas import ClientOut

    async def work(_: Runtime, session: AsyncSession) -> Any:
        stmt = clients.list_query(status=status.value if status else None)
        return await cursor_paginate(session, stmt, Client.id, cursor=cursor, limit=limit)

    page = read(work)
    rows = [dump(ClientOut, c) for c in page.items]
    show_list(
        rows, CLIENT_COLUMNS, as_json=as_json, empty="no clients", next_cursor=page.next_cursor
    )


@clients_app.command("show")
def clients_show(client_id: str, as_json: AsJson = False) -> None:
    """One client and the merchants it may act for."""
    from bestow.clients import service as clients
    from bestow.surfaces.admin.schemas import ClientOut

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        client = await clients.get_client(session, client_id)
        granted = await clients.granted_merchant_ids(session, client_id)
        return {**dump(ClientOut, client), "merchant_ids": sorted(granted)}

    show(read(work), as_json)


@clients_app.command("update")
def clients_update(
    client_id: str,
    name: Annotated[str | None, typer.Option(help="New display name")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Replace the scopes; repeat for more")
    ] = None,
    clear_scopes: Annotated[
        bool, typer.Option("--clear-scopes", help="Remove every scope")
    ] = False,
    tier: Annotated[str | None, typer.Option(help="Rate-limit tier")] = None,
    status: Annotated[ClientStatus | None, typer.Option(help="active or suspended")] = None,
    as_json: AsJson = False,
) -> None:
    """Rename a client, set its scopes, rate-limit tier or status."""
    from bestow.clients import service as clients
    from bestow.surfaces.admin.schemas import ClientOut

    if scope and clear_scopes:
        fail("--scope and --clear-scopes contradict each other")
    scopes = [] if clear_scopes else scope
    if name is None and scopes is None and tier is None and status is None:
        fail("nothing to change: give --name, --scope, --clear-scopes, --tier or --status")

    async def work(rt: Runtime, session: AsyncSession) -> Client:
        return await clients.update_client(
            session,
            client_id=client_id,
            actor=cli_actor(),
            known_tiers=rt.rate_limiter.tier_names(),
            name=name,
            scopes=scopes,
            rate_limit_tier=tier,
            status=status.value if status else None,
        )

    show(dump(ClientOut, write(work)), as_json)


@clients_app.command("credentials")
def clients_credentials(client_id: str, as_json: AsJson = False) -> None:
    """A client's credentials (never their secrets)."""
    from bestow.clients import service as clients
    from bestow.surfaces.admin.schemas import CredentialOut

    async def work(_: Runtime, session: AsyncSession) -> list[Any]:
        return await clients.credentials(session, client_id)

    rows = [dump(CredentialOut, c) for c in read(work)]
    show_list(rows, CREDENTIAL_COLUMNS, as_json=as_json, empty="no credentials", paginated=False)


@clients_app.command("issue-credential")
def clients_issue_credential(
    client_id: str,
    kind: Annotated[CredentialKind, typer.Option(help="What the credential is for")],
    label: Annotated[
        str, typer.Option(help="A name; for an operator key, its slot: primary or secondary")
    ] = "",
    as_json: AsJson = False,
) -> None:
    """Issue a credential; its secret is printed this once."""
    from bestow.clients import service as clients

    async def work(rt: Runtime, session: AsyncSession) -> clients.IssuedSecret:
        return await clients.issue_credential(
            session, rt.sealer, client_id=client_id, kind=kind.value, label=label, actor=cli_actor()
        )

    _issued(write(work), as_json)


@clients_app.command("rotate-credential")
def clients_rotate_credential(
    client_id: str,
    credential_id: str,
    grace_seconds: Annotated[
        int,
        typer.Option(min=0, max=30 * 24 * 3600, help="How long the old secret keeps working"),
    ] = 0,
    as_json: AsJson = False,
) -> None:
    """Replace a credential with a new one of the same kind; prints the new secret once."""
    from bestow.clients import service as clients

    async def work(rt: Runtime, session: AsyncSession) -> clients.IssuedSecret:
        return await clients.rotate_credential(
            session,
            rt.sealer,
            client_id=client_id,
            credential_id=credential_id,
            actor=cli_actor(),
            grace_seconds=grace_seconds,
        )

    _issued(write(work), as_json)


@clients_app.command("revoke-credential")
def clients_revoke_credential(client_id: str, credential_id: str, as_json: AsJson = False) -> None:
    """Revoke a credential now."""
    from bestow.clients import service as clients
    from bestow.surfaces.admin.schemas import CredentialOut

    async def work(_: Runtime, session: AsyncSession) -> Any:
        return await clients.revoke_credential(
            session, client_id=client_id, credential_id=credential_id, actor=cli_actor()
        )

    show(dump(CredentialOut, write(work)), as_json)


@clients_app.command("grant")
def clients_grant(client_id: str, merchant_id: str) -> None:
    """Let the client act for a merchant."""
    from bestow.clients import service as clients

    async def work(_: Runtime, session: AsyncSession) -> None:
        await clients.grant_merchant(
            session, client_id=client_id, merchant_id=merchant_id, actor=cli_actor()
        )

    write(work)
    typer.echo(f"client {client_id} may act for merchant {merchant_id}")


@clients_app.command("ungrant")
def clients_ungrant(client_id: str, merchant_id: str) -> None:
    """Withdraw the client's grant for a merchant."""
    from bestow.clients import service as clients

    async def work(_: Runtime, session: AsyncSession) -> None:
        await clients.revoke_merchant(
            session, client_id=client_id, merchant_id=merchant_id, actor=cli_actor()
        )

    write(work)
    typer.echo(f"client {client_id} may no longer act for merchant {merchant_id}")


# Merchants ----------------------------------------------------------------------------------

MERCHANT_COLUMNS = ("id", "name", "handle", "time_zone", "enrol_unknown_members")


@merchants_app.command("create")
def merchants_create(
    name: Annotated[str, typer.Option(help="Display name")],
    handle: Annotated[str, typer.Option(help="Unique, 2-100 lowercase letters, digits, - or _")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/New_York")] = "UTC",
    enrol_unknown_members: Annotated[
        bool,
        typer.Option(
            "--enrol-unknown-members",
            help="Enrol unknown identifiers on issuance instead of reporting User not found",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Create a merchant (a brand or programme)."""
    from bestow.merchants import service as merchants
    from bestow.surfaces.admin.schemas import MerchantOut

    async def work(_: Runtime, session: AsyncSession) -> Merchant:
        return await merchants.create_merchant(
            session,
            name=name,
            handle=handle,
            time_zone=time_zone,
            enrol_unknown_members=enrol_unknown_members,
            actor=cli_actor(),
        )

    show(dump(MerchantOut, write(work)), as_json)


@merchants_app.command("list")
def merchants_list(limit: Limit = 100, cursor: Cursor = None, as_json: AsJson = False) -> None:
    """List merchants, oldest first."""
    from bestow.kit.pagination import cursor_paginate
    from bestow.merchants import service as merchants
    from bestow.models import Merchant
    from bestow.surfaces.admin.schemas import MerchantOut

    async def work(_: Runtime, session: AsyncSession) -> Any:
        return await cursor_paginate(
            session, merchants.list_query(), Merchant.id, cursor=cursor, limit=limit
        )

    page = read(work)
    rows = [dump(MerchantOut, m) for m in page.items]
    show_list(
        rows, MERCHANT_COLUMNS, as_json=as_json, empty="no merchants", next_cursor=page.next_cursor
    )


@merchants_app.command("show")
def merchants_show(merchant_id: str, as_json: AsJson = False) -> None:
    """One merchant, its locations and business units."""
    from bestow.merchants import service as merchants
    from bestow.models import BusinessUnit, Location
    from bestow.surfaces.admin.schemas import BusinessUnitOut, LocationOut, MerchantOut

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        merchant = await merchants.get_merchant(session, merchant_id)
        locations = await session.scalars(
            merchants.locations_query(merchant_ids=[merchant_id]).order_by(Location.id)
        )
        units = await session.scalars(
            merchants.business_units_query(merchant_id=merchant_id).order_by(BusinessUnit.id)
        )
        return {
            **dump(MerchantOut, merchant),
            "locations": [dump(LocationOut, location) for location in locations],
            "business_units": [dump(BusinessUnitOut, unit) for unit in units],
        }

    data = read(work)
    if as_json:
        print_json(data)
        return
    locations, units = data.pop("locations"), data.pop("business_units")
    show(data, as_json=False)
    typer.echo("locations:")
    for location in locations:
        typer.echo(f"  {location['id']}  {location['name']}")
    typer.echo("business units:")
    for unit in units:
        typer.echo(f"  {unit['id']}  {unit['name']}")


@merchants_app.command("update")
def merchants_update(
    merchant_id: str,
    name: Annotated[str | None, typer.Option(help="New display name")] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone")] = None,
    enrol_unknown_members: Annotated[
        bool | None,
        switch(
            "--enrol-unknown-members/--no-enrol-unknown-members",
            "Enrol unknown identifiers on issuance, or report User not found",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Change a merchant's name, time zone or enrolment option."""
    from bestow.merchants import service as merchants
    from bestow.surfaces.admin.schemas import MerchantOut

    if name is None and time_zone is None and enrol_unknown_members is None:
        fail("nothing to change: give --name, --time-zone or --[no-]enrol-unknown-members")

    async def work(_: Runtime, session: AsyncSession) -> Merchant:
        return await merchants.update_merchant(
            session,
            merchant_id=merchant_id,
            actor=cli_actor(),
            name=name,
            time_zone=time_zone,
            enrol_unknown_members=enrol_unknown_members,
        )

    show(dump(MerchantOut, write(work)), as_json)


@merchants_app.command("add-location")
def merchants_add_location(
    merchant_id: str,
    name: Annotated[str, typer.Option(help="Display name")],
    street: Annotated[str, typer.Option()] = "",
    city: Annotated[str, typer.Option()] = "",
    state: Annotated[str, typer.Option()] = "",
    zip_code: Annotated[str, typer.Option("--zip")] = "",
    phone: Annotated[str, typer.Option()] = "",
    as_json: AsJson = False,
) -> None:
    """Add a location to a merchant."""
    from bestow.merchants import service as merchants
    from bestow.surfaces.admin.schemas import LocationOut

    async def work(_: Runtime, session: AsyncSession) -> Location:
        return await merchants.create_location(
            session,
            merchant_id=merchant_id,
            name=name,
            street=street,
            city=city,
            state=state,
            zip=zip_code,
            phone=phone,
            actor=cli_actor(),
        )

    show(dump(LocationOut, write(work)), as_json)


@merchants_app.command("add-business-unit")
def merchants_add_business_unit(merchant_id: str, name: str, as_json: AsJson = False) -> None:
    """Add a business unit to a merchant."""
    from bestow.merchants import service as merchants
    from bestow.surfaces.admin.schemas import BusinessUnitOut

    async def work(_: Runtime, session: AsyncSession) -> BusinessUnit:
        return await merchants.create_business_unit(
            session, merchant_id=merchant_id, name=name, actor=cli_actor()
        )

    show(dump(BusinessUnitOut, write(work)), as_json)


# Members ------------------------------------------------------------------------------------

MEMBER_COLUMNS = ("id", "account_id", "email", "phone", "loyalty_id", "status")


def _external_ids(pairs: list[str] | None) -> dict[str, str]:
    external: dict[str, str] = {}
    for pair in pairs or []:
        namespace, sep, value = pair.partition("=")
        if not sep or not namespace.strip() or not value.strip():
            fail("--external takes NAMESPACE=VALUE")
        external[namespace.strip()] = value.strip()
    return external


@members_app.command("create")
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
    from bestow.surfaces.admin.schemas import MemberOut

    external_ids = _external_ids(external)

    async def work(_: Runtime, session: AsyncSession) -> Member:
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


@members_app.command("show")
def members_show(member_id: str, as_json: AsJson = False) -> None:
    """One member."""
    from bestow.members import service as members
    from bestow.surfaces.admin.schemas import MemberOut

    async def work(_: Runtime, session: AsyncSession) -> Member:
        return await members.get_member(session, member_id)

    show(dump(MemberOut, read(work)), as_json)


@members_app.command("status")
def members_status(member_id: str, status: MemberStatus, as_json: AsJson = False) -> None:
    """Activate or deactivate a member."""
    from bestow.members import service as members
    from bestow.surfaces.admin.schemas import MemberOut

    async def work(_: Runtime, session: AsyncSession) -> Member:
        return await members.set_status(
            session, member_id=member_id, status=status.value, actor=cli_actor()
        )

    show(dump(MemberOut, write(work)), as_json)


@members_app.command("list")
def members_list(
    merchant_id: str,
    status: Annotated[MemberStatus | None, typer.Option(help="Only members in this status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """A merchant's members, oldest first."""
    from bestow.kit.pagination import cursor_paginate
    from bestow.members import service as members
    from bestow.merchants import service as merchants
    from bestow.models import Member
    from bestow.surfaces.admin.schemas import MemberOut

    async def work(_: Runtime, session: AsyncSession) -> Any:
        await merchants.get_merchant(session, merchant_id)
        stmt = members.list_query(merchant_id=merchant_id, status=status.value if status else None)
        return await cursor_paginate(session, stmt, Member.id, cursor=cursor, limit=limit)

    page = read(work)
    rows = [dump(MemberOut, m) for m in page.items]
    show_list(
        rows, MEMBER_COLUMNS, as_json=as_json, empty="no members", next_cursor=page.next_cursor
    )


@members_app.command("import")
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


# Admin tokens -------------------------------------------------------------------------------

TOKEN_COLUMNS = ("id", "name", "created_at", "revoked_at")


def _token_row(token: AdminToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


async def _create_admin_token(
    session: AsyncSession, *, name: str, actor: Actor
) -> tuple[AdminToken, str]:
    from bestow.audit import service as audit
    from bestow.kit.db import utcnow
    from bestow.kit.security import generate_secret, hash_secret
    from bestow.models import AdminToken

    if not name.strip() or len(name.strip()) > 100:
        raise Invalid("the name is 1-100 characters", field="name")
    secret = generate_secret("bst_adm_")
    token = AdminToken(name=name.strip(), token_hash=hash_secret(secret), created_at=utcnow())
    session.add(token)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="admin_token.created",
        target_type="admin_token",
        target_id=token.id,
        changes={"name": token.name},
    )
    return token, secret


async def _revoke_admin_token(session: AsyncSession, *, token_id: str, actor: Actor) -> AdminToken:
    from bestow.audit import service as audit
    from bestow.kit.db import utcnow
    from bestow.models import AdminToken

    token = await session.get(AdminToken, token_id)
    if token is None:
        raise NotFound(f"admin token {token_id} not found")
    if token.revoked_at is not None:
        raise Conflict(f"admin token {token_id} is already revoked")
    token.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="admin_token.revoked",
        target_type="admin_token",
        target_id=token.id,
    )
    return token


@admin_tokens_app.command("create")
def admin_tokens_create(
    name: Annotated[str, typer.Argument(help="Who or what the token is for")],
    as_json: AsJson = False,
) -> None:
    """Create an Admin API token; it is printed this once, only its digest is stored."""

    async def work(_: Runtime, session: AsyncSession) -> tuple[AdminToken, str]:
        return await _create_admin_token(session, name=name, actor=cli_actor())

    token, secret = write(work)
    if as_json:
        print_json({**_token_row(token), "token": secret})
        return
    show(_token_row(token), as_json=False)
    typer.secho(f"token (shown once, store it now): {secret}", fg=typer.colors.YELLOW)


@admin_tokens_app.command("list")
def admin_tokens_list(as_json: AsJson = False) -> None:
    """Admin API tokens (never the tokens themselves)."""
    from sqlalchemy import select

    from bestow.models import AdminToken

    async def work(_: Runtime, session: AsyncSession) -> list[AdminToken]:
        return list(await session.scalars(select(AdminToken).order_by(AdminToken.id)))

    rows = [_token_row(token) for token in read(work)]
    show_list(rows, TOKEN_COLUMNS, as_json=as_json, empty="no admin tokens", paginated=False)


@admin_tokens_app.command("revoke")
def admin_tokens_revoke(token_id: str, as_json: AsJson = False) -> None:
    """Revoke an Admin API token now."""

    async def work(_: Runtime, session: AsyncSession) -> AdminToken:
        return await _revoke_admin_token(session, token_id=token_id, actor=cli_actor())

    show(_token_row(write(work)), as_json)


# Audit --------------------------------------------------------------------------------------

AUDIT_COLUMNS = ("created_at", "actor", "action", "target_type", "target_id", "changes")


@audit_app.command("list")
def audit_list(
    target_type: Annotated[str | None, typer.Option(help="e.g. client, merchant, member")] = None,
    target_id: Annotated[str | None, typer.Option(help="The id of the target")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of the latest")] = 50,
    as_json: AsJson = False,
) -> None:
    """The latest audit entries, oldest of them first."""
    from bestow.audit import service as audit
    from bestow.models import AuditEntry
    from bestow.surfaces.admin.schemas import AuditOut

    async def work(_: Runtime, session: AsyncSession) -> list[AuditEntry]:
        stmt = audit.query(target_type=target_type, target_id=target_id)
        latest = await session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit))
        return list(reversed(latest.all()))

    rows = [dump(AuditOut, entry) for entry in read(work)]
    if as_json:
        print_json({"data": rows})
        return
    print_table(rows, AUDIT_COLUMNS, "no audit entries")
