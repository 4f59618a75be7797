"""Fixtures of the CLI tests: the command run in this process on the test database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import get_settings
from tests.cli.helpers import Invoke


@pytest.fixture
def cli_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    env.pop("BESTOW_ADMIN_TOKEN", None)
    return env


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Iterator[Invoke]:
    """Run a command in this process; settings are read afresh from the test environment."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args), env=cli_env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    yield invoke
