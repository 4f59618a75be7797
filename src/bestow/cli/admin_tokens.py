"""``bestow admin-tokens``: bearer tokens for the Admin API (``bestow.admins.tokens``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bestow.cli.common import AsJson, cli_actor, print_json, read, show, show_list, write

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.models import AdminToken

app = typer.Typer(help="Bearer tokens for the Admin API.", no_args_is_help=True)

TOKEN_COLUMNS = ("id", "name", "created_at", "revoked_at")


@app.command("create")
def admin_tokens_create(
    name: Annotated[str, typer.Argument(help="Who or what the token is for")],
    as_json: AsJson = False,
) -> None:
    """Create an Admin API token; it is printed this once, only its digest is stored."""
    from bestow.admins import tokens
    from bestow.views.admins import token_out

    async def work(_: Runtime, session: WriteSession) -> tuple[AdminToken, str]:
        return await tokens.create_token(session, name=name, actor=cli_actor())

    token, secret = write(work)
    if as_json:
        print_json({**token_out(token), "token": secret})
        return
    show(token_out(token), as_json=False)
    typer.secho(f"token (shown once, store it now): {secret}", fg=typer.colors.YELLOW)


@app.command("list")
def admin_tokens_list(as_json: AsJson = False) -> None:
    """Admin API tokens (never the tokens themselves)."""
    from bestow.admins import tokens
    from bestow.views.admins import token_out

    async def work(_: Runtime, session: AsyncSession) -> list[AdminToken]:
        return await tokens.list_tokens(session)

    rows = [token_out(token) for token in read(work)]
    show_list(rows, TOKEN_COLUMNS, as_json=as_json, empty="no admin tokens", paginated=False)


@app.command("revoke")
def admin_tokens_revoke(token_id: str, as_json: AsJson = False) -> None:
    """Revoke an Admin API token now."""
    from bestow.admins import tokens
    from bestow.views.admins import token_out

    async def work(_: Runtime, session: WriteSession) -> AdminToken:
        return await tokens.revoke_token(session, token_id=token_id, actor=cli_actor())

    show(token_out(write(work)), as_json)
