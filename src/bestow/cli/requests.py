"""``bestow requests``: the request log of clients on the client surfaces (``docs/lab.md``):
list it with the Admin API's filters, or follow a client's requests as they come."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, Cursor, read, run, runtime, show_list
from bestow.kit.timefmt import aware

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.lab.requestlog import Filters, RequestPage

app = typer.Typer(help="The request log of clients (docs/lab.md).", no_args_is_help=True)

POLL_SECONDS = 0.5

ClientOption = Annotated[str | None, typer.Option("--client", help="A client id")]
RouteOption = Annotated[
    str | None,
    typer.Option(help="A route template, or a method and one: 'POST /partner/campaigns/issue'"),
]
StatusOption = Annotated[str | None, typer.Option(help="A status (429) or a class (5xx)")]


def _filters(**given: Any) -> Filters:
    from bestow.lab import requestlog

    for name in ("since", "until"):
        given[name] = aware(given.get(name), name)
    requestlog.parse_status(given.get("status"))
    return requestlog.Filters(**given)


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    from bestow.views.requests import RequestOut

    return [RequestOut.model_validate(item).model_dump(mode="json") for item in items]


@app.command("list")
def requests_list(
    client: ClientOption = None,
    route: RouteOption = None,
    status: StatusOption = None,
    since: Annotated[
        datetime | None, typer.Option(help="From this time (UTC if no offset)")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time")] = None,
    request_id: Annotated[str | None, typer.Option(help="One request's id")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="An idempotency key")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Items per page")] = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Recorded requests, newest first; with --json, as GET /admin/requests answers."""
    from bestow.lab import requestlog
    from bestow.views.requests import COLUMNS

    filters = _filters(
        client_id=client,
        route=route,
        status=status,
        since=since,
        until=until,
        request_id=request_id,
        idempotency_key=idempotency_key,
    )

    async def work(_: Runtime, session: AsyncSession) -> RequestPage:
        return await requestlog.list_requests(session, filters, cursor=cursor, limit=limit)

    page = read(work)
    show_list(
        _rows(page.items),
        COLUMNS,
        as_json=as_json,
        empty="no requests recorded",
        next_cursor=page.next_cursor,
    )


def _line(row: dict[str, Any]) -> str:
    parts = [
        row["time"],
        row["client_id"],
        row["method"],
        row["route"],
        str(row["status"]),
        f"{row['latency_ms']:.1f}ms",
        f"request_id={row['request_id']}",
    ]
    if row["idempotency_key"]:
        parts.append(f"key={row['idempotency_key']}")
    if row["error_code"]:
        parts.append(f"error={row['error_code']}")
    for flag in ("replayed", "rate_limited"):
        if row[flag]:
            parts.append(flag)
    if row["fault"]:
        parts.append(f"fault={row['fault']}")
    return " ".join(parts)


@app.command("tail")
def requests_tail(
    client: ClientOption = None,
    route: RouteOption = None,
    status: StatusOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines")] = False,
) -> None:
    """Follow new requests as they are recorded, one line each, until Ctrl-C."""
    import asyncio

    import orjson

    from bestow.lab import requestlog

    filters = _filters(client_id=client, route=route, status=status)

    async def follow() -> None:
        async with runtime() as rt:
            async with rt.db.session() as session:
                last = await requestlog.last_seq(session, filters)
            while True:
                async with rt.db.session() as session:
                    found = await requestlog.requests_after(session, filters, after=last)
                for row in _rows(found):
                    line = orjson.dumps(row).decode() if as_json else _line(row)
                    typer.echo(line)
                if found:
                    last = found[-1].seq
                else:
                    await asyncio.sleep(POLL_SECONDS)

    try:
        run(follow)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
