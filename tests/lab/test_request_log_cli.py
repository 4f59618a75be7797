"""``bestow requests list`` and ``bestow requests tail``: the CLI reads the request log with the
Admin API's filters, and follows new requests as they are recorded."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestow.cli.main import app
from bestow.config import get_settings
from tests.cli.helpers import BESTOW
from tests.conftest import unique
from tests.lab.helpers import insert_rows_now, row

pytestmark = pytest.mark.slow


@pytest.fixture
def env(database_url: str, var_dir: Path) -> dict[str, str]:
    found = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    found.pop("BESTOW_ADMIN_TOKEN", None)
    return found


def invoke(env: dict[str, str], *args: str) -> str:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.stdout


def test_requests_list_filters_as_the_admin_api_does(
    database_url: str, env: dict[str, str]
) -> None:
    client_id = unique("cli")
    insert_rows_now(
        database_url,
        [
            row(client_id, request_id="first", status=200),
            row(client_id, request_id="second", status=429, rate_limited=True),
            row(client_id, request_id="third", status=200, idempotency_key="k-1"),
        ],
    )
    listed = json.loads(invoke(env, "requests", "list", "--client", client_id, "--json"))
    assert [e["request_id"] for e in listed["data"]] == ["third", "second", "first"]
    assert listed["next_cursor"] is None
    limited = json.loads(
        invoke(env, "requests", "list", "--client", client_id, "--status", "429", "--json")
    )
    assert [(e["request_id"], e["rate_limited"]) for e in limited["data"]] == [("second", True)]
    keyed = json.loads(
        invoke(env, "requests", "list", "--client", client_id, "--idempotency-key", "k-1", "--json")
    )
    assert [e["request_id"] for e in keyed["data"]] == ["third"]
    paged = json.loads(
        invoke(env, "requests", "list", "--client", client_id, "--limit", "2", "--json")
    )
    assert len(paged["data"]) == 2 and paged["next_cursor"]
    table = invoke(env, "requests", "list", "--client", client_id)
    assert "/partner/campaigns" in table and "429" in table


@contextlib.contextmanager
def following(env: dict[str, str], *args: str) -> Iterator[queue.Queue[str]]:
    """``bestow requests tail`` running, its lines in the queue; stopped (Ctrl-C) at the end."""
    process = subprocess.Popen(
        [BESTOW, "requests", "tail", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "Traceback" not in stderr, stderr


def test_requests_tail_prints_new_requests_of_its_client(
    database_url: str, env: dict[str, str]
) -> None:
    client_id, other = unique("cli"), unique("cli")
    with following(env, "--client", client_id, "--json") as lines:
        line = None
        for attempt in range(120):
            # A row recorded before the command started is not new to it: record until one is.
            insert_rows_now(
                database_url,
                [
                    row(other, request_id=f"other-{attempt}"),
                    row(client_id, request_id=f"mine-{attempt}"),
                ],
            )
            with contextlib.suppress(queue.Empty):
                line = lines.get(timeout=0.5)
                break
        assert line is not None, "tail printed nothing"
        printed = json.loads(line)
        assert printed["client_id"] == client_id
        assert printed["request_id"].startswith("mine-")
        time.sleep(0.1)
        while not lines.empty():
            assert json.loads(lines.get())["client_id"] == client_id
