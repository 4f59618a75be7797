"""``bestow webhooks``: endpoints, deliveries and replays, through the Admin API's services."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
    read,
    show,
    show_list,
    show_page,
    switch,
    write,
)
from bestow.webhooks.retries import MAX_ATTEMPTS

# The domain, the models and the views are imported by the commands that use them (see
# cli.common); bestow.webhooks.endpoints alone imports aiohttp.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.kit.pagination import CursorPage
    from bestow.models import WebhookEndpoint
    from bestow.webhooks import endpoints


app = typer.Typer(
    help="Webhook endpoints: signed event delivery with retries, attempts, replays.",
    no_args_is_help=True,
)

ENDPOINT_COLUMNS = ("id", "client_id", "url", "enabled", "event_types", "max_attempts")
ATTEMPT_COLUMNS = (
    "created_at",
    "event_id",
    "attempt",
    "origin",
    "success",
    "status_code",
    "latency_ms",
    "error",
)
DELIVERY_COLUMNS = (
    "event_id",
    "event_type",
    "state",
    "attempt_count",
    "next_attempt_at",
    "last_status_code",
    "last_error",
)

ALL_DELIVERY_COLUMNS = (
    "created_at",
    "endpoint_id",
    "event_id",
    "event_type",
    "state",
    "origin",
    "attempt_count",
    "failed_attempts",
    "last_status_code",
    "last_latency_ms",
    "last_error",
)

Events = Annotated[
    str | None, typer.Option("--events", help="Comma-separated event types (default: all)")
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option("--header", help="A static header 'Name: value' sent with every request"),
]


class DeliveryState(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _events(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _headers(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    headers = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            fail(f"a header is 'Name: value', not {value!r}")
        headers[name.strip()] = content.strip()
    return headers


def _since(value: str, option: str = "--since") -> datetime:
    """An ISO 8601 time (UTC when it has no offset) or a duration ago: 30m, 2h, 1d."""
    if match := _RELATIVE.match(value.strip()):
        amount, unit = int(match[1]), _UNITS[match[2]]
        return datetime.now(UTC) - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} takes an ISO 8601 time or a duration such as 30m, 2h, 1d; not {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _show_secret(made: endpoints.WithSecret, as_json: bool) -> None:
    from bestow.views.webhooks import with_secret

    data = with_secret(made).model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    show({k: v for k, v in data.items() if k != "secret"}, as_json=False)
    typer.secho(f"secret (shown once, store it now): {made.secret}", fg=typer.colors.YELLOW)


@app.command("create")
def create(
    client_id: Annotated[str, typer.Option("--client-id", help="The client receiving events")],
    url: Annotated[str, typer.Option(help="Where events are POSTed")],
    events: Events = None,
    description: Annotated[str, typer.Option()] = "",
    max_attempts: Annotated[
        int, typer.Option(min=1, max=MAX_ATTEMPTS, help="1 sends once, without retries")
    ] = MAX_ATTEMPTS,
    header: HeaderOption = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled")] = False,
    as_json: AsJson = False,
) -> None:
    """Register an endpoint; prints its signing secret once."""
    from bestow.webhooks import endpoints

    async def work(rt: Runtime, session: WriteSession) -> endpoints.WithSecret:
        return await endpoints.create_endpoint(
            session,
            rt.sealer,
            client_id=client_id,
            url=url,
            actor=cli_actor(),
            description=description,
            event_types=_events(events),
            max_attempts=max_attempts,
            headers=_headers(header),
            enabled=not disabled,
        )

    _show_secret(write(work), as_json)


@app.command("list")
def list_endpoints(
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Endpoints, of one client or of all."""
    from bestow.views.webhooks import EndpointOut
    from bestow.webhooks import endpoints

    async def work(_: Runtime, session: AsyncSession) -> CursorPage[WebhookEndpoint]:
        return await endpoints.list_endpoints(
            session, client_id=client_id, cursor=cursor, limit=limit
        )

    show_page(
        read(work), EndpointOut, ENDPOINT_COLUMNS, as_json=as_json, empty="no webhook endpoints"
    )


@app.command("show")
def show_endpoint(endpoint_id: str, as_json: AsJson = False) -> None:
    """One endpoint."""
    from bestow.views.webhooks import EndpointOut
    from bestow.webhooks import endpoints

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        return dump(EndpointOut, await endpoints.get_endpoint(session, endpoint_id))

    show(read(work), as_json)


def _update(endpoint_id: str, as_json: bool, **fields: Any) -> None:
    from bestow.views.webhooks import EndpointOut
    from bestow.webhooks import endpoints

    async def work(rt: Runtime, session: WriteSession) -> dict[str, Any]:
        endpoint = await endpoints.update_endpoint(
            session,
            endpoint_id=endpoint_id,
            actor=cli_actor(),
            **fields,
        )
        return dump(EndpointOut, endpoint)

    show(write(work), as_json)


@app.command("update")
def update(
    endpoint_id: str,
    url: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    events: Annotated[
        str | None, typer.Option("--events", help="Comma-separated event types; '' for all")
    ] = None,
    max_attempts: Annotated[int | None, typer.Option(min=1, max=MAX_ATTEMPTS)] = None,
    header: HeaderOption = None,
    clear_headers: Annotated[
        bool, typer.Option("--clear-headers", help="Remove every static header")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Change an endpoint's settings (only those given)."""
    if header and clear_headers:
        fail("--header and --clear-headers contradict each other")
    headers = {} if clear_headers else _headers(header)
    given = (url, description, events, max_attempts, headers)
    if all(value is None for value in given):
        fail(
            "nothing to change: give --url, --description, --events, --max-attempts, "
            "--header or --clear-headers"
        )
    _update(
        endpoint_id,
        as_json,
        url=url,
        description=description,
        event_types=_events(events),
        max_attempts=max_attempts,
        headers=headers,
    )


@app.command("enable")
def enable(endpoint_id: str, as_json: AsJson = False) -> None:
    """Enable an endpoint (clears its failure streak)."""
    _update(endpoint_id, as_json, enabled=True)


@app.command("disable")
def disable(endpoint_id: str, as_json: AsJson = False) -> None:
    """Stop delivering to an endpoint; its events are kept as failed deliveries to replay."""
    _update(endpoint_id, as_json, enabled=False)


@app.command("rotate-secret")
def rotate_secret(
    endpoint_id: str,
    overlap: Annotated[
        int | None,
        typer.Option(help="Seconds the current secret keeps signing (default: the deployment's)"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """A new signing secret, printed once; the current one keeps signing during the overlap."""
    from bestow.webhooks import endpoints

    async def work(rt: Runtime, session: WriteSession) -> endpoints.WithSecret:
        seconds = rt.settings.webhook_secret_overlap_seconds if overlap is None else overlap
        return await endpoints.rotate_secret(
            session,
            rt.sealer,
            endpoint_id=endpoint_id,
            actor=cli_actor(),
            overlap=timedelta(seconds=seconds),
        )

    _show_secret(write(work), as_json)


@app.command("delete")
def delete(endpoint_id: str) -> None:
    """Remove an endpoint with its deliveries and attempts."""
    from bestow.webhooks import endpoints

    async def work(_: Runtime, session: WriteSession) -> None:
        await endpoints.delete_endpoint(session, endpoint_id=endpoint_id, actor=cli_actor())

    write(work)
    typer.echo(f"deleted {endpoint_id}")


@app.command("deliveries")
def deliveries(
    endpoint_id: Annotated[
        str | None,
        typer.Argument(help="One endpoint's attempts (or deliveries, --by-event); omit for all"),
    ] = None,
    client: Annotated[str | None, typer.Option("--client", help="A client id")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="An endpoint id")] = None,
    event: Annotated[str | None, typer.Option("--event", help="Only this event")] = None,
    event_type: Annotated[str | None, typer.Option(help="e.g. reward.issued")] = None,
    state: Annotated[
        DeliveryState | None, typer.Option(help="Only deliveries in this state")
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="schedule, replay, chaos:delay...; chaos:* for all chaos")
    ] = None,
    with_failures: Annotated[
        bool | None,
        switch("--with-failures/--without-failures", "With (or without) a failed attempt"),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Created since: ISO 8601 time, or 30m, 2h, 1d")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Created before: ISO 8601 time, or 30m, 2h, 1d (ago)")
    ] = None,
    by_event: Annotated[
        bool, typer.Option("--by-event", help="One line per event with its state, not attempts")
    ] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Deliveries of every endpoint, newest first, filtered; with an ENDPOINT_ID, the attempts
    made to it (status, latency, error), oldest first, or its deliveries with --by-event."""
    if endpoint_id is None:
        _all_deliveries(
            endpoint_id=endpoint,
            client_id=client,
            event_id=event,
            event_type=event_type,
            state=state.value if state else None,
            origin=origin,
            with_failures=with_failures,
            since=None if since is None else _since(since),
            until=None if until is None else _since(until, "--until"),
            limit=limit,
            cursor=cursor,
            as_json=as_json,
        )
        return
    across = {
        "--client": client,
        "--endpoint": endpoint,
        "--event-type": event_type,
        "--origin": origin,
        "--with-failures": with_failures,
        "--since": since,
        "--until": until,
    }
    given = [name for name, value in across.items() if value is not None]
    if given:
        fail(f"{given[0]} filters the deliveries of every endpoint: leave ENDPOINT_ID out")
    if state is not None and not by_event:
        fail("--state lists deliveries: use it with --by-event")
    _endpoint_deliveries(endpoint_id, event, by_event, state, limit, cursor, as_json)


def _endpoint_deliveries(
    endpoint_id: str,
    event: str | None,
    by_event: bool,
    state: DeliveryState | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    from bestow.views.pages import listing
    from bestow.views.webhooks import AttemptOut, delivery_view
    from bestow.webhooks import endpoints

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        if by_event:
            page = await endpoints.list_deliveries(
                session,
                endpoint_id,
                state=state.value if state else None,
                event_id=event,
                cursor=cursor,
                limit=limit,
            )
            return listing(page, lambda d: delivery_view(d).model_dump(mode="json"))
        attempts = await endpoints.list_attempts(
            session, endpoint_id, event_id=event, cursor=cursor, limit=limit
        )
        return listing(attempts, lambda a: dump(AttemptOut, a))

    found = read(work)
    show_list(
        found["data"],
        DELIVERY_COLUMNS if by_event else ATTEMPT_COLUMNS,
        as_json=as_json,
        empty="no deliveries" if by_event else "no attempts",
        next_cursor=found["next_cursor"],
    )


def _all_deliveries(*, limit: int, cursor: str | None, as_json: bool, **filters: Any) -> None:
    """As ``GET /admin/webhook_deliveries`` answers; the table shows the last attempt's latency
    beside the delivery's last status and error."""
    from bestow.views.pages import listing
    from bestow.views.webhooks import delivery_item
    from bestow.webhooks import deliveries

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        page = await deliveries.list_deliveries(
            session, deliveries.Filters(**filters), cursor=cursor, limit=limit
        )
        return listing(page, lambda d: delivery_item(d).model_dump(mode="json"))

    found = read(work)
    if as_json:
        print_json(found)
        return
    rows = [
        {**row, "last_latency_ms": (row["last_attempt"] or {}).get("latency_ms")}
        for row in found["data"]
    ]
    show_list(
        rows,
        ALL_DELIVERY_COLUMNS,
        as_json=False,
        empty="no deliveries",
        next_cursor=found["next_cursor"],
    )


@app.command("replay")
def replay(
    endpoint_id: str,
    event: Annotated[str | None, typer.Option("--event", help="Send this event again")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Send again every failed delivery since: ISO 8601 time, or 30m, 2h, 1d"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Send one event again, or every failed delivery since a time (same webhook-id)."""
    from bestow.webhooks import endpoints

    moment = _since(since) if since is not None else None

    async def work(_: Runtime, session: WriteSession) -> int:
        return await endpoints.replay(
            session, endpoint_id=endpoint_id, actor=cli_actor(), event_id=event, since=moment
        )

    count = write(work)
    if as_json:
        print_json({"replayed": count})
        return
    typer.echo(f"replayed {count} deliver{'y' if count == 1 else 'ies'}")


@app.command("event-types")
def list_event_types(as_json: AsJson = False) -> None:
    """The event types an endpoint can subscribe to."""
    import bestow.events  # noqa: F401 - declares every event type
    from bestow.kit.outbox import event_types

    rows = [
        {
            "name": e.name,
            "surface": e.surface,
            "extension": e.extension,
            "description": e.description,
        }
        for e in event_types()
    ]
    show_list(
        rows,
        ("name", "surface", "extension", "description"),
        as_json=as_json,
        empty="no event types",
        paginated=False,
    )
