"""``bestow jobs``: Partner issuance jobs of every client, as ``GET /admin/issuance_jobs`` lists
them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, Cursor, Limit, dump, read, show_list, switch

# The domain and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime

app = typer.Typer(help="Partner issuance jobs of every client.", no_args_is_help=True)

Since = Annotated[
    datetime | None,
    typer.Option(help="Created at or after this time, UTC: 2031-03-10 or 2031-03-10T09:00:00"),
]
Until = Annotated[datetime | None, typer.Option(help="Created before this time, UTC")]
WithFailures = Annotated[
    bool | None,
    switch("--with-failures/--without-failures", "Only those with (or without) a failure"),
]
Client = Annotated[str | None, typer.Option("--client", help="A client id")]


@app.command("list")
def list_jobs(
    state: Annotated[
        str | None,
        typer.Option(help="pending, processing, completed, failed, revoking or revoked"),
    ] = None,
    since: Since = None,
    until: Until = None,
    with_failures: WithFailures = None,
    client: Client = None,
    merchant: Annotated[str | None, typer.Option("--merchant", help="A merchant id")] = None,
    campaign: Annotated[str | None, typer.Option("--campaign", help="A campaign id")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Issuance jobs, newest first; with --json, as GET /admin/issuance_jobs answers."""
    from bestow.issuance.listing import Filters
    from bestow.kit.timefmt import aware
    from bestow.views.jobs import JOB_COLUMNS, AdminIssuanceJobOut, job_list

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        filters = Filters(
            state=state,
            since=aware(since, "since"),
            until=aware(until, "until"),
            with_failures=with_failures,
            client_id=client,
            merchant_id=merchant,
            campaign_id=campaign,
        )
        return await job_list(session, filters, cursor=cursor, limit=limit)

    found = read(work)
    rows = [dump(AdminIssuanceJobOut, row) for row in found["data"]]
    show_list(
        rows,
        JOB_COLUMNS,
        as_json=as_json,
        empty="no issuance jobs",
        next_cursor=found["next_cursor"],
    )
