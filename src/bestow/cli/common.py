"""Helpers for CLI commands: run async code in one transaction, print objects and tables.

Every ``bestow`` command, ``bestow --help`` included, imports all the CLI modules, so these
import only light modules at the top (typer, orjson, the standard library). The models, the
services and the API surfaces are imported inside the commands that use them, and under
``TYPE_CHECKING`` for annotations: importing them all took over a second before any command ran.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import orjson
import typer

from bestow.kit.actor import Actor
from bestow.kit.errors import DomainError

T = TypeVar("T")

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession

    Work = Callable[[Runtime, AsyncSession], Awaitable[T]]
    WriteWork = Callable[[Runtime, WriteSession], Awaitable[T]]

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON")]
Limit = Annotated[int, typer.Option(min=1, max=500, help="Items per page")]
Cursor = Annotated[str | None, typer.Option(help="Continue from a previous page's cursor")]


def switch(flags: str, help: str) -> Any:
    """A ``--on/--off`` option that is ``None`` when neither is given (so no default is shown),
    for a ``bool | None = None`` parameter: ``Annotated[bool | None, switch(...)]``."""
    return typer.Option(flags, help=help, show_default=False)


def run(coro_fn: Callable[[], Awaitable[T]], *, uvloop: bool = False) -> T:
    """Run a coroutine; a domain error becomes a clear message and exit code 1. Long-running
    commands ask for ``uvloop`` (a faster event loop, as ``bestow serve`` gets from uvicorn)."""
    import asyncio  # here, not at the top: --help has no use for it

    runner: Callable[[Any], T] = asyncio.run
    if uvloop:
        with contextlib.suppress(ImportError):
            import uvloop as fast_loop

            runner = fast_loop.run
    try:
        return runner(coro_fn())
    except DomainError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


@asynccontextmanager
async def runtime() -> AsyncIterator[Runtime]:
    # Not bestow.app's: that imports FastAPI and every router, which a command has no use for.
    from bestow.config import get_settings
    from bestow.runtime import build_runtime

    rt = build_runtime(get_settings())
    try:
        yield rt
    finally:
        await rt.db.dispose()


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return Actor(f"cli:{user}")


def print_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode())


def write(work: WriteWork[T]) -> T:
    """Run ``work`` in one write transaction, committed when it returns."""

    async def main() -> T:
        async with runtime() as rt, rt.db.write_session() as session:
            result = await work(rt, session)
            await session.commit()
            return result

    return run(main)


def read(work: Work[T]) -> T:
    async def main() -> T:
        async with runtime() as rt, rt.db.session() as session:
            return await work(rt, session)

    return run(main)


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def dump(schema: type[BaseModel], obj: object) -> dict[str, Any]:
    return schema.model_validate(obj).model_dump(mode="json")


def cell_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def make_console() -> Console:
    from rich.console import Console

    # Piped output keeps whole ids on one line instead of folding them to 80 columns.
    console = Console()
    return console if console.is_terminal else Console(width=1000)


def show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    width = max(len(key) for key in data)
    for key, value in data.items():
        typer.echo(f"{key:<{width}}  {cell_text(value)}")


def print_table(rows: list[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    if not rows:
        typer.echo(empty, err=True)
        return
    from rich.table import Table

    table = Table(*columns, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        table.add_row(*(cell_text(row.get(column)) for column in columns))
    console = make_console()
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        typer.echo(line.rstrip())


def show_list(
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    empty: str,
    next_cursor: str | None = None,
    paginated: bool = True,
) -> None:
    if as_json:
        print_json({"data": rows, "next_cursor": next_cursor} if paginated else rows)
        return
    print_table(rows, columns, empty)
    if next_cursor:
        typer.echo(f"more: --cursor {next_cursor}", err=True)
