"""``bestow serve --processes N``: N server processes share the port, voucher links point at the
server, and a stop takes them all down."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.fixtures import servers
from tests.fixtures.servers import bestow


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_two_processes_serve_one_port_and_stop_together(tmp_path: Path) -> None:
    env = {
        "BESTOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bestow.db'}",
        "BESTOW_VAR_DIR": str(tmp_path / "var"),
        "BESTOW_SECRET_KEY": "processes-secret-key",
        "BESTOW_LOG_LEVEL": "WARNING",
    }
    bestow(env, "db", "upgrade")
    demo = bestow(env, "demo", "--json")
    port = servers.free_port()
    server = servers.start(env, port, args=["--processes", "2"], log_dir=tmp_path)
    try:
        # uvicorn's supervisor plus its two servers (and multiprocessing's helper, if any).
        serving = _children(server.process.pid)
        assert len(serving) >= 2, server.log()
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert all(http.get("/healthz").status_code == 200 for _ in range(20))
            vouchers = json.loads(demo)["vouchers"]
            token = http.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(vouchers["client_id"], vouchers["client_secret"]),
            ).json()["access_token"]
            issued = http.post(
                "/v3/products/DEMO-SGD10",
                json={"quantity": 1},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            )
            assert issued.status_code == 200, issued.text
            # Each process built its settings from the environment the command set.
            assert issued.json()["vouchers"][0]["url"].startswith(f"http://127.0.0.1:{port}/v/")
    finally:
        server.stop()
    assert _gone(serving), server.log()


def _gone(pids: set[int], tries: int = 100) -> bool:
    """Whether every process exited (a zombie waiting to be reaped counts as exited)."""
    for _ in range(tries):
        if all(_state(pid) in (None, "Z") for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
