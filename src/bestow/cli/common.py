"""Helpers for CLI commands: run async code, open the runtime, print JSON."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
import typer

from bestow.config import get_settings
from bestow.deps import Runtime
from bestow.kit.actor import Actor
from bestow.kit.errors import DomainError

T = TypeVar("T")


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; a domain error becomes a clear message and exit code 1."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except DomainError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


@asynccontextmanager
async def runtime() -> AsyncIterator[Runtime]:
    from bestow.app import build_runtime

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
