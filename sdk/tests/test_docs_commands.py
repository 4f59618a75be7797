"""Every command the documentation shows, run as written against a live server: the ``sh`` and
``python`` blocks of ``examples/README.md``, ``docs/sdk.md`` and ``sdk/README.md``, in order,
from a directory laid out like the repository's root (``.venv``, ``examples``).

As the documents explain for a server that is not ``make run`` on port 8000: the live server
stands for ``make run`` (those lines, and the ``export BESTOW_DATABASE_URL=...`` that goes with
them, are not run), the environment carries the server's database settings and
``BESTOW_BASE_URL``, and a URL written as ``http://127.0.0.1:<port>`` points at the server. Paths
under ``/tmp/`` are kept in the test's own directory, so that runs cannot meet."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures.deployment import Deployment

REPOSITORY = Path(__file__).resolve().parents[2]
DOCS = ("examples/README.md", "docs/sdk.md", "sdk/README.md")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SERVER_LINE = re.compile(r"^\s*(make run\b|export BESTOW_DATABASE_URL=)")
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+")
TIMEOUT_SECONDS = 300


def documented_blocks() -> list[tuple[str, int, str, str]]:
    """``(document, line, language, code)`` of every ``sh`` and ``python`` block."""
    found = []
    for doc in DOCS:
        text = (REPOSITORY / doc).read_text()
        for match in FENCE.finditer(text):
            language, code = match.group(1), match.group(2)
            if language in ("sh", "python"):
                line = text.count("\n", 0, match.start()) + 1
                found.append((doc, line, language, code))
    return found


def as_run_here(code: str, base_url: str, tmp: Path) -> str | None:
    """The block as the test runs it, or ``None`` when it only starts the server."""
    lines = [line for line in code.splitlines() if not SERVER_LINE.match(line)]
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        return None
    text = LOCAL_URL.sub(base_url, "\n".join(lines) + "\n")
    return text.replace("/tmp/", f"{tmp}/")  # noqa: S108 (the documents' paths, moved away)


def test_the_documents_show_commands_to_run() -> None:
    blocks = documented_blocks()
    commands = "\n".join(code for *_, code in blocks)
    assert {doc for doc, *_ in blocks} == set(DOCS)
    programs = (
        "bestow-client",
        "uat_vouchers.py",
        "operator_flow.py",
        "certification_flow",
        "loyalty_flow.py",
        "bestow certify run",
    )
    for program in programs:
        assert program in commands, program


@pytest.mark.slow
def test_every_documented_command_succeeds_against_a_live_server(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """About 100 s (the four examples run end to end, each in a certification run), so on one
    database only: what the
    commands do is tested on both by the examples' and the CLI's own tests; this test guards
    the documents' wording."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the documents' commands run on SQLite only")
    deployment: Deployment = request.getfixturevalue("deployment")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "examples").symlink_to(REPOSITORY / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")}
    env.update(deployment.env)
    env["BESTOW_BASE_URL"] = deployment.server.base_url
    ran = 0
    for doc, line, language, code in documented_blocks():
        script = as_run_here(code, deployment.server.base_url, tmp_path)
        if script is None:
            continue
        command = ["bash", "-euo", "pipefail", "-c", script]
        if language == "python":
            command = [sys.executable, "-c", script]
        done = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        assert done.returncode == 0, (
            f"{doc}:{line} ({language}) exit {done.returncode}\n{script}\n--- stdout ---\n"
            f"{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}\n{deployment.logs()}"
        )
        ran += 1
    assert ran >= 8
