"""The integrator's UAT script (``examples/uat_vouchers.py``) against a real ``bestow serve``:
a fresh SQLite database, migrated and seeded with the demo by the CLI, on a free port."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import servers
from tests.fixtures.servers import TIMEOUT_SECONDS, bestow

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "uat_vouchers.py"

pytestmark = pytest.mark.slow


@dataclass
class Deployment:
    server: servers.Server
    database: Path
    demo_path: Path
    demo: dict[str, Any]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A server of the module's own: the UAT counts the whole catalogue, so the shared server's
    database, where other tests add products, cannot serve."""
    root = tmp_path_factory.mktemp("uat")
    database = root / "bestow.db"
    port = servers.free_port()
    env = {
        "BESTOW_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "BESTOW_VAR_DIR": str(root / "var"),
        "BESTOW_SECRET_KEY": "uat-secret-key",
        "BESTOW_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BESTOW_LOG_LEVEL": "WARNING",
    }
    bestow(env, "db", "upgrade")
    demo_path = root / "demo.json"
    demo_path.write_text(bestow(env, "demo", "--json"))
    demo = json.loads(demo_path.read_text())
    with servers.running(env, port, log_dir=root) as server:
        yield Deployment(server, database, demo_path, demo)


def uat(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BESTOW_", "UAT_"))
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


def counts(database: Path, client_id: str) -> tuple[int, int]:
    """(vouchers, orders) of a client, read straight from the server's database."""
    with sqlite3.connect(database) as connection:
        vouchers = connection.execute(
            "SELECT count(*) FROM vouchers WHERE client_id = ?", (client_id,)
        ).fetchone()[0]
        orders = connection.execute(
            "SELECT count(*) FROM voucher_orders WHERE client_id = ?", (client_id,)
        ).fetchone()[0]
    return int(vouchers), int(orders)


def lines_starting(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(prefix)]


def test_the_uat_passes_against_a_real_server_and_recovery_issues_once(
    deployment: Deployment,
) -> None:
    client_id = deployment.demo["vouchers"]["client_id"]
    codes = deployment.demo["vouchers"]["product_codes"]
    before = counts(deployment.database, client_id)

    run = uat("--base-url", deployment.server.base_url, "--demo-json", str(deployment.demo_path))

    out = run.stdout
    assert run.returncode == 0, f"{out}\n{run.stderr}\n{deployment.server.log()}"
    assert "[FAIL]" not in out
    assert lines_starting(out, "[PASS] token: Bearer token")
    assert lines_starting(out, f"[PASS] catalogue: {len(codes)} products")
    assert lines_starting(out, "[PASS] catalogue has open-value products: DEMO-OPEN")
    for code in codes:
        assert lines_starting(out, f"[PASS] issue {code} ("), code
    [opened] = lines_starting(out, "[PASS] issue DEMO-OPEN (open value)")
    assert "'$10.51 Harbour Coffee Voucher' 10.51 SGD" in opened
    assert lines_starting(out, f"[PASS] statuses: {len(codes)} of {len(codes)} vouchers")
    [unknown] = [line for line in out.splitlines() if "unknown (is_status_available" in line]
    assert "DEMO-PARTNER20" in unknown
    assert lines_starting(out, "[PASS] sample voucher opened: /s/")
    assert "attempt 1: request sent; connection reset as the answer arrived" in out
    assert lines_starting(
        out, "[PASS] recovery: repeat answered from the first attempt: Idempotency-Record: "
    )
    assert lines_starting(out, "[PASS] recovery: recorded server-side")
    assert lines_starting(out, "[PASS] recovery: a further repeat issues nothing")
    assert lines_starting(out, "[PASS] recovery: the key of another request is refused: 422")
    assert out.splitlines()[-1] == "UAT result: PASS (15 checks)"
    # One voucher per product, and the recovered request's 3 issued once, for all its repeats.
    vouchers, orders = counts(deployment.database, client_id)
    assert (vouchers - before[0], orders - before[1]) == (len(codes) + 3, len(codes) + 1)


def test_the_uat_reads_the_demo_from_stdin_and_can_be_run_again(deployment: Deployment) -> None:
    run = uat(
        "--base-url",
        deployment.server.base_url,
        "--demo-json",
        "-",
        stdin=deployment.demo_path.read_text(),
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert run.stdout.splitlines()[-1] == "UAT result: PASS (15 checks)"


def test_wrong_credentials_fail_the_uat(deployment: Deployment) -> None:
    client_id = deployment.demo["vouchers"]["client_id"]
    run = uat(
        "--base-url",
        deployment.server.base_url,
        env={"UAT_CLIENT_ID": client_id, "UAT_CLIENT_SECRET": "bst_cs_wrong"},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert lines_starting(run.stdout, "[FAIL] token: token refused: 401")
    assert "UAT result: FAIL" in run.stdout


def test_the_uat_cannot_run_without_credentials_or_a_server(deployment: Deployment) -> None:
    missing = uat("--base-url", deployment.server.base_url)
    assert missing.returncode == 2
    assert "no credentials" in missing.stderr

    nowhere = f"http://127.0.0.1:{servers.free_port()}"
    unreachable = uat("--base-url", nowhere, "--demo-json", str(deployment.demo_path))
    assert unreachable.returncode == 2, unreachable.stdout + unreachable.stderr
    assert f"cannot reach {nowhere}" in unreachable.stderr
