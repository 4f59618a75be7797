"""Helpers of the CLI tests: the real command in its own process and readers of its output."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import Result

from tests.conftest import unique

BESTOW = str(Path(sys.executable).parent / "bestow")


CLI_ACTOR = f"cli:{getpass.getuser()}"


Invoke = Callable[..., Result]


def bestow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process."""
    return subprocess.run(
        [BESTOW, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def ok(result: Result) -> Any:
    """The JSON a successful command printed."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def failed(result: Result) -> str:
    """The message of a command that failed as it should: exit 1, one line, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    return result.stderr


def new_merchant(cli: Invoke, *args: str) -> dict[str, Any]:
    merchant: dict[str, Any] = ok(
        cli(
            "merchants",
            "create",
            "--name",
            "CLI Merchant",
            "--handle",
            unique("cli"),
            *args,
            "--json",
        )
    )
    return merchant
