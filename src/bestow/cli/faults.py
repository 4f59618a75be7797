"""``bestow faults``: fault rules of a demo or UAT client, through the lab's services (the Admin
API's ``/admin/clients/{id}/faults``; ``docs/faults.md``)."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, cli_actor, fail, read, show, show_list, write

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession

app = typer.Typer(
    help="Fault rules: make a demo or UAT client's requests fail on purpose (429, 503, a lost "
    "answer, a slow one) to prove its error handling.",
    no_args_is_help=True,
)

COLUMNS = ("id", "kind", "share", "remaining", "route", "params", "expires_at", "live")
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class Kind(StrEnum):
    rate_limit = "rate_limit"
    server_error = "server_error"
    lost_answer = "lost_answer"
    slow = "slow"
    partial_failure = "partial_failure"
    webhook_chaos = "webhook_chaos"


class Answer(StrEnum):
    drop = "drop"
    gateway_timeout = "504"


def _ttl(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if match is None or int(match[1]) == 0:
        fail(f"--ttl takes a duration such as 90, 30s, 10m, 2h, 1d; not {value!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@app.command("add")
def add(
    client_id: Annotated[str, typer.Argument(help="A demo or UAT client")],
    kind: Annotated[Kind, typer.Option(help="What to inject")],
    share: Annotated[
        float | None, typer.Option(min=0, max=1, help="Fire on this share of matching requests")
    ] = None,
    count: Annotated[
        int | None, typer.Option(min=1, help="Fire on the next N matching requests")
    ] = None,
    route: Annotated[
        str | None,
        typer.Option(help="Only this route template: 'POST /partner/campaigns/issue'"),
    ] = None,
    delay_ms: Annotated[
        int | None, typer.Option("--delay-ms", min=1, help="slow: how late the answer comes")
    ] = None,
    retry_after: Annotated[
        int | None,
        typer.Option("--retry-after", min=0, help="rate_limit, server_error: Retry-After"),
    ] = None,
    answer: Annotated[
        Answer | None, typer.Option(help="lost_answer: close the connection, or answer 504")
    ] = None,
    ttl: Annotated[
        str | None, typer.Option(help="Expire after this long: 90, 30s, 10m, 2h, 1d")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Add a rule; give --share or --count."""
    from bestow.kit.db import utcnow
    from bestow.lab import faults
    from bestow.views.faults import rule_view

    if (share is None) == (count is None):
        fail("give --share (above 0, at most 1) or --count")
    params: dict[str, Any] = {}
    for name, value in (("delay_ms", delay_ms), ("retry_after", retry_after), ("answer", answer)):
        if value is not None:
            params[name] = str(value) if isinstance(value, Answer) else value
    expires_at = utcnow() + _ttl(ttl) if ttl is not None else None

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        rule = await faults.create_rule(
            session,
            client_id=client_id,
            kind=kind.value,
            actor=cli_actor(),
            share=share,
            count=count,
            route=route,
            params=params,
            expires_at=expires_at,
        )
        return rule_view(rule).model_dump(mode="json")

    show(write(work), as_json)


@app.command("list")
def list_rules(client_id: str, as_json: AsJson = False) -> None:
    """A client's rules, oldest first, live or not."""
    from bestow.lab import faults
    from bestow.views.faults import rule_view

    async def work(_: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        rules = await faults.list_rules(session, client_id)
        return [rule_view(rule).model_dump(mode="json") for rule in rules]

    show_list(read(work), COLUMNS, as_json=as_json, empty="no fault rules")


@app.command("remove")
def remove(client_id: str, rule_id: str) -> None:
    """Remove a rule (other server processes stop using it within a second)."""
    from bestow.lab import faults

    async def work(_: Runtime, session: WriteSession) -> None:
        await faults.delete_rule(session, client_id=client_id, rule_id=rule_id, actor=cli_actor())

    write(work)
    typer.echo(f"removed {rule_id}")
