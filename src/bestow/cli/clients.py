"""``bestow clients``: clients (integrating partners), their credentials, scopes, tiers and merchant
grants, through the same domain calls as the Admin API.

Each command runs in one transaction on the configured database, as the CLI user (``cli:<user>``
in the audit trail). Objects print as the Admin API returns them with ``--json``; errors print one
line and exit 1.
"""

from __future__ import annotations

from enum import StrEnum
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
    show,
    show_list,
    show_page,
    write,
)
from bestow.clients.kinds import CredentialKind
from bestow.clients.scopes import SCOPES

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.clients import service as clients
    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.kit.pagination import CursorPage
    from bestow.models import Client, Credential

app = typer.Typer(
    help="Clients (integrating partners): credentials, scopes, tiers, merchants.",
    no_args_is_help=True,
)

CLIENT_COLUMNS = (
    "id",
    "name",
    "environment",
    "organization",
    "status",
    "scopes",
    "rate_limit_tier",
    "operator_id",
)
CREDENTIAL_COLUMNS = ("id", "kind", "label", "hint", "created_at", "expires_at", "revoked_at")
SCOPE_HELP = f"A scope; repeat for more. Known: {', '.join(SCOPES)}"


class ClientStatus(StrEnum):
    active = "active"
    suspended = "suspended"


class ClientEnvironment(StrEnum):
    demo = "demo"
    uat = "uat"
    production = "production"


def _issued(issued: clients.IssuedSecret, as_json: bool) -> None:
    from bestow.views.clients import issued_credential

    data = issued_credential(issued).model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    show({k: v for k, v in data.items() if k != "secret"}, as_json=False)
    typer.secho(f"secret (shown once, store it now): {issued.secret}", fg=typer.colors.YELLOW)


@app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Display name")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help=SCOPE_HELP)] = None,
    tier: Annotated[str, typer.Option(help="Rate-limit tier")] = "default",
    operator_id: Annotated[
        int | None, typer.Option(help="Integer id of an Operator API client")
    ] = None,
    environment: Annotated[
        ClientEnvironment | None,
        typer.Option(help="Unset: the deployment's pinned environment, else demo"),
    ] = None,
    organization: Annotated[
        str | None, typer.Option(help="The partner organisation (its clients share it)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a client (an integrating partner)."""
    from bestow.clients import service as clients
    from bestow.views.clients import ClientOut

    async def work(rt: Runtime, session: WriteSession) -> Client:
        return await clients.create_client(
            session,
            name=name,
            scopes=scope or [],
            rate_limit_tier=tier,
            known_tiers=rt.rate_limiter.tier_names(),
            operator_id=operator_id,
            environment=environment.value if environment else None,
            organization=organization,
            pinned=rt.settings.environment,
            actor=cli_actor(),
        )

    show(dump(ClientOut, write(work)), as_json)


@app.command("list")
def clients_list(
    status: Annotated[ClientStatus | None, typer.Option(help="Only clients in this status")] = None,
    environment: Annotated[
        ClientEnvironment | None, typer.Option(help="Only clients of this environment")
    ] = None,
    organization: Annotated[
        str | None, typer.Option(help="Only clients of this organisation")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """List clients, oldest first."""
    from bestow.clients import service as clients
    from bestow.views.clients import ClientOut

    async def work(_: Runtime, session: AsyncSession) -> CursorPage[Client]:
        return await clients.list_clients(
            session,
            status=status.value if status else None,
            environment=environment.value if environment else None,
            organization=organization,
            cursor=cursor,
            limit=limit,
        )

    show_page(read(work), ClientOut, CLIENT_COLUMNS, as_json=as_json, empty="no clients")


@app.command("show")
def clients_show(client_id: str, as_json: AsJson = False) -> None:
    """One client and the merchants it may act for."""
    from bestow.clients import service as clients
    from bestow.views.clients import ClientOut

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        client = await clients.get_client(session, client_id)
        granted = await clients.granted_merchant_ids(session, client_id)
        return {**dump(ClientOut, client), "merchant_ids": sorted(granted)}

    show(read(work), as_json)


@app.command("update")
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
    organization: Annotated[
        str | None, typer.Option(help="The partner organisation it belongs to")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Rename a client, set its scopes, rate-limit tier, status or organisation."""
    from bestow.clients import service as clients
    from bestow.views.clients import ClientOut

    if scope and clear_scopes:
        fail("--scope and --clear-scopes contradict each other")
    scopes = [] if clear_scopes else scope
    if (name, scopes, tier, status, organization) == (None, None, None, None, None):
        fail(
            "nothing to change: give --name, --scope, --clear-scopes, --tier, --status or "
            "--organization"
        )

    async def work(rt: Runtime, session: WriteSession) -> Client:
        return await clients.update_client(
            session,
            client_id=client_id,
            actor=cli_actor(),
            known_tiers=rt.rate_limiter.tier_names(),
            name=name,
            scopes=scopes,
            rate_limit_tier=tier,
            status=status.value if status else None,
            organization=organization,
        )

    show(dump(ClientOut, write(work)), as_json)


@app.command("credentials")
def clients_credentials(client_id: str, as_json: AsJson = False) -> None:
    """A client's credentials (never their secrets)."""
    from bestow.clients import service as clients
    from bestow.views.clients import CredentialOut

    async def work(_: Runtime, session: AsyncSession) -> list[Credential]:
        return await clients.credentials(session, client_id)

    rows = [dump(CredentialOut, c) for c in read(work)]
    show_list(rows, CREDENTIAL_COLUMNS, as_json=as_json, empty="no credentials", paginated=False)


@app.command("issue-credential")
def clients_issue_credential(
    client_id: str,
    kind: Annotated[CredentialKind, typer.Option(help="What the credential is for")],
    label: Annotated[
        str, typer.Option(help="A name; for an operator key, its slot: primary or secondary")
    ] = "",
    override_reason: Annotated[
        str | None,
        typer.Option(
            help="Issue a production client's first credential without a passing "
            "certification of its organisation's UAT client; recorded in the audit log"
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Issue a credential; its secret is printed this once. A production client's first one
    for a surface passes the go-live gate (docs/go-live.md)."""
    from bestow.clients import service as clients

    async def work(rt: Runtime, session: WriteSession) -> clients.IssuedSecret:
        return await clients.issue_credential(
            session,
            rt.sealer,
            client_id=client_id,
            kind=kind.value,
            label=label,
            override_reason=override_reason,
            pinned=rt.settings.environment,
            actor=cli_actor(),
        )

    _issued(write(work), as_json)


@app.command("rotate-credential")
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

    async def work(rt: Runtime, session: WriteSession) -> clients.IssuedSecret:
        return await clients.rotate_credential(
            session,
            rt.sealer,
            client_id=client_id,
            credential_id=credential_id,
            actor=cli_actor(),
            grace_seconds=grace_seconds,
        )

    _issued(write(work), as_json)


@app.command("revoke-credential")
def clients_revoke_credential(client_id: str, credential_id: str, as_json: AsJson = False) -> None:
    """Revoke a credential now."""
    from bestow.clients import service as clients
    from bestow.views.clients import CredentialOut

    async def work(_: Runtime, session: WriteSession) -> Credential:
        return await clients.revoke_credential(
            session, client_id=client_id, credential_id=credential_id, actor=cli_actor()
        )

    show(dump(CredentialOut, write(work)), as_json)


@app.command("grant")
def clients_grant(client_id: str, merchant_id: str) -> None:
    """Let the client act for a merchant."""
    from bestow.clients import service as clients

    async def work(_: Runtime, session: WriteSession) -> None:
        await clients.grant_merchant(
            session, client_id=client_id, merchant_id=merchant_id, actor=cli_actor()
        )

    write(work)
    typer.echo(f"client {client_id} may act for merchant {merchant_id}")


@app.command("ungrant")
def clients_ungrant(client_id: str, merchant_id: str) -> None:
    """Withdraw the client's grant for a merchant."""
    from bestow.clients import service as clients

    async def work(_: Runtime, session: WriteSession) -> None:
        await clients.revoke_merchant(
            session, client_id=client_id, merchant_id=merchant_id, actor=cli_actor()
        )

    write(work)
    typer.echo(f"client {client_id} may no longer act for merchant {merchant_id}")


catalogue_app = typer.Typer(
    help="A client's own catalogue: the products, templates and loyalty rewards it sees "
    "(docs/catalogue.md).",
    no_args_is_help=True,
)
app.add_typer(catalogue_app, name="catalogue")
CATALOGUE_COLUMNS = ("kind", "item_id", "created_at")


class CatalogueKind(StrEnum):
    product = "product"
    template = "template"
    loyalty_reward = "loyalty_reward"


ITEM_HELP = "A product's code, a reward template's id or a loyalty reward's id"


@catalogue_app.command("list")
def catalogue_list(
    client_id: str,
    kind: Annotated[CatalogueKind | None, typer.Option(help="Only items of this kind")] = None,
    as_json: AsJson = False,
) -> None:
    """The items assigned to a client; a kind with none: the client sees all of that kind."""
    from bestow.lab import catalogue
    from bestow.views.catalogue import CatalogueItemOut

    async def work(_: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        held = await catalogue.items(
            session, client_id=client_id, kind=kind.value if kind else None
        )
        return [dump(CatalogueItemOut, item) for item in held]

    rows = read(work)
    if as_json:
        print_json({"data": rows})
        return
    print_table(rows, CATALOGUE_COLUMNS, "nothing assigned: the client sees the whole catalogue")


@catalogue_app.command("assign")
def catalogue_assign(
    client_id: str,
    kind: Annotated[CatalogueKind, typer.Argument(help="product, template or loyalty_reward")],
    item_id: Annotated[str, typer.Argument(help=ITEM_HELP)],
    as_json: AsJson = False,
) -> None:
    """Put an item in the client's catalogue: it then sees only the assigned items of that kind."""
    from bestow.lab import catalogue
    from bestow.views.catalogue import CatalogueItemOut

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        item, _created = await catalogue.assign(
            session, client_id=client_id, kind=kind.value, item_id=item_id, actor=cli_actor()
        )
        return dump(CatalogueItemOut, item)

    show(write(work), as_json)


@catalogue_app.command("unassign")
def catalogue_unassign(
    client_id: str,
    kind: Annotated[CatalogueKind, typer.Argument(help="product, template or loyalty_reward")],
    item_id: Annotated[str, typer.Argument(help=ITEM_HELP)],
) -> None:
    """Take an item out of the client's catalogue."""
    from bestow.lab import catalogue

    async def work(_: Runtime, session: WriteSession) -> None:
        await catalogue.unassign(
            session, client_id=client_id, kind=kind.value, item_id=item_id, actor=cli_actor()
        )

    write(work)
    typer.echo(f"{kind.value} {item_id} is no longer in the catalogue of client {client_id}")
