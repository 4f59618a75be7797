"""``bestow bulks``: Operator bulk enrollments of every operator, as
``GET /admin/enrollment_bulks`` lists them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, Cursor, Limit, dump, read, show_list
from bestow.cli.jobs import Client, Since, Until, WithFailures

# The domain and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime

app = typer.Typer(help="Operator bulk enrollments of every operator.", no_args_is_help=True)


@app.command("list")
def list_bulks(
    status: Annotated[
        str | None, typer.Option(help="pending, processing, completed or failed")
    ] = None,
    since: Since = None,
    until: Until = None,
    with_failures: WithFailures = None,
    client: Client = None,
    reward: Annotated[str | None, typer.Option("--reward", help="An operator reward id")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Bulk enrollments, newest first; with --json, as GET /admin/enrollment_bulks answers."""
    from bestow.freebets.listing import Filters
    from bestow.kit.timefmt import aware
    from bestow.views.jobs import BULK_COLUMNS, AdminBulkOut, bulk_list

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        filters = Filters(
            status=status,
            since=aware(since, "since"),
            until=aware(until, "until"),
            with_failures=with_failures,
            client_id=client,
            reward_id=reward,
        )
        return await bulk_list(session, filters, cursor=cursor, limit=limit)

    found = read(work)
    rows = [dump(AdminBulkOut, row) for row in found["data"]]
    show_list(
        rows,
        BULK_COLUMNS,
        as_json=as_json,
        empty="no bulk enrollments",
        next_cursor=found["next_cursor"],
    )
