"""``bestow campaigns``: campaigns of every surface, as ``GET /admin/campaigns`` lists them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, Cursor, Limit, dump, read, show_list

# The domain and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime

app = typer.Typer(help="Campaigns of every surface (Partner, Operator).", no_args_is_help=True)


@app.command("list")
def list_campaigns(
    merchant: Annotated[str | None, typer.Option("--merchant", help="A merchant id")] = None,
    client: Annotated[str | None, typer.Option("--client", help="A client id")] = None,
    status: Annotated[
        str | None, typer.Option(help="scheduled, active, ended or cancelled")
    ] = None,
    surface: Annotated[str | None, typer.Option(help="partner or operator")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Campaigns, newest first; with --json, as GET /admin/campaigns answers."""
    from bestow.campaigns.listing import Filters
    from bestow.views.campaigns import COLUMNS, AdminCampaignOut, campaign_list

    filters = Filters(client_id=client, merchant_id=merchant, status=status, surface=surface)

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        return await campaign_list(session, filters, cursor=cursor, limit=limit)

    found = read(work)
    rows = [dump(AdminCampaignOut, row) for row in found["data"]]
    show_list(
        rows, COLUMNS, as_json=as_json, empty="no campaigns", next_cursor=found["next_cursor"]
    )
