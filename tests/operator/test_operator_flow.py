"""The integrator's Operator API script (``examples/operator_flow.py``) against a real
``bestow serve`` and a real ``bestow worker`` (``servers.start`` serves with ``--no-worker``; the
bulk enrollment needs a worker), on each test database, seeded with the demo by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.fixtures import servers
from tests.fixtures.deployment import Deployment

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "operator_flow.py"
TIMEOUT_SECONDS = 120
CHECKS = 25  # every check of the script, the secondary key's included

pytestmark = pytest.mark.slow


def flow(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BESTOW_", "OPERATOR_"))
    } | dict(env or {})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=child_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def lines_starting(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(prefix)]


def test_the_flow_passes_against_a_real_server_and_worker(deployment: Deployment) -> None:
    run = flow(
        "--base-url", deployment.server.base_url, "--demo-json", "-", stdin=deployment.demo_json
    )

    out = run.stdout
    assert run.returncode == 0, f"{out}\n{run.stderr}\n{deployment.logs()}"
    assert "[FAIL]" not in out
    assert len(lines_starting(out, "[PASS] ")) == CHECKS, out
    operator_id = deployment.demo["operator"]["operator_id"]
    assert out.splitlines()[0].endswith(f"as operator {operator_id}")
    for prefix in (
        "[PASS] auth: a tampered hash is refused: 401 Unauthorized",
        "[PASS] campaign: get with a trailing slash: 200 OK",
        "[PASS] campaign: get with a query string: 200 OK",
        "[PASS] auth: the secondary key signs too: 200 OK",
        "[PASS] reward: create: orw_",
        "[PASS] enrol: the same player again answers the same enrollment: 200",
        "[PASS] bet 1 repeated: ",
        "[PASS] bet 3: ",
        "[PASS] bet 4: refused, nothing left: 409 Conflict",
        "[PASS] bulk: accepted: 202",
        "[PASS] bulk: enrollments listed: 200 enrollments on pages of 100 (100 + 100 + 0)",
        "[PASS] cancel: an open enrollment reads Cancelled",
        "[PASS] cancel: cancelling again is refused: 409 Conflict",
    ):
        assert lines_starting(out, prefix), prefix
    [products] = lines_starting(out, "[PASS] reward: create: ")
    assert "on demo-slots, demo-roulette," in products
    [completed] = lines_starting(out, "[PASS] bulk: completed: ")
    assert "Completed in " in completed
    assert "enrolled 199, existing 1, failed 0" in completed
    assert out.splitlines()[-1] == f"Operator flow result: PASS ({CHECKS} checks)"


def test_the_flow_runs_again_with_credentials_from_the_environment(
    deployment: Deployment,
) -> None:
    operator = deployment.demo["operator"]
    run = flow(
        "--base-url",
        deployment.server.base_url,
        env={
            "OPERATOR_ID": str(operator["operator_id"]),
            "OPERATOR_KEY": operator["primary_shared_key"],
        },
    )
    out = run.stdout
    assert run.returncode == 0, f"{out}\n{run.stderr}\n{deployment.logs()}"
    assert "[FAIL]" not in out
    # No secondary key known: that check is skipped, and the products default to demo-slots.
    assert "no secondary key given" in out
    assert len(lines_starting(out, "[PASS] ")) == CHECKS - 1
    assert "on demo-slots," in lines_starting(out, "[PASS] reward: create: ")[0]
    assert out.splitlines()[-1] == f"Operator flow result: PASS ({CHECKS - 1} checks)"


def test_a_wrong_key_fails_the_flow(deployment: Deployment) -> None:
    operator_id = str(deployment.demo["operator"]["operator_id"])
    run = flow(
        "--base-url", deployment.server.base_url, "--operator-id", operator_id, "--key", "wrong"
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert lines_starting(run.stdout, "[FAIL] campaign: create: 401 Unauthorized")
    assert "Operator flow result: FAIL" in run.stdout


def test_the_flow_cannot_run_without_credentials_or_a_server(deployment: Deployment) -> None:
    missing = flow("--base-url", deployment.server.base_url)
    assert missing.returncode == 2
    assert "no credentials" in missing.stderr

    nowhere = f"http://127.0.0.1:{servers.free_port()}"
    unreachable = flow("--base-url", nowhere, "--demo-json", "-", stdin=deployment.demo_json)
    assert unreachable.returncode == 2, unreachable.stdout + unreachable.stderr
    assert f"cannot reach {nowhere}" in unreachable.stderr
