"""An unhandled error is one JSON log line, like every other line, with its traceback as a field.

A real ``bestow serve`` and a real ``bestow worker`` on a database of their own (SQLite: what is
checked is the processes' output, which no database changes). The server's error comes from data
an operator damaged by hand (a merchant's time zone no zone database knows), the worker's from a
test task that always raises. Every line each process wrote must parse as a JSON object; the
error's line carries the traceback in ``exception``, and nothing of it is printed as plain text.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bestow.kit.db import Database
from bestow.kit.jobs import enqueue
from tests.fixtures import databases
from tests.fixtures.deployment import serving
from tests.fixtures.tasks import ALWAYS_FAILS
from tests.fixtures.workers import worker_env, worker_processes

pytestmark = pytest.mark.slow
WAIT_SECONDS = 30.0


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as JSON; fails naming the first line that is not a JSON object."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"line {number} is not JSON: {line!r}\n--- output ---\n{text[-4000:]}")
        assert isinstance(entry, dict), f"line {number} is not a JSON object: {line!r}"
        entries.append(entry)
    return entries


def wait_for(read: Any, found: Any) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        text = str(read())
        if found(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_an_unhandled_error_in_a_request_is_one_json_line(tmp_path: Path, var_dir: Path) -> None:
    url = next(databases.migrated(databases.sqlite_url(tmp_path)))
    with serving(url, var_dir, tmp_path) as served:
        demo = json.loads(served.demo_json)
        partner = demo["partner"]
        member = partner["members"][0]["email"]
        # Damaged by hand: a time zone that no zone database has, holding personal data that
        # the error's message then quotes.
        path = url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE merchants SET time_zone = ? WHERE id = ?",
                (f"Mars/{member}", partner["merchant_id"]),
            )
        start = datetime.now(UTC) + timedelta(days=1)
        answer = httpx.post(
            f"{served.server.base_url}/partner/campaigns",
            headers={
                "Authorization": f"Bearer {partner['access_token']}",
                "X-ClientId": partner["client_id"],
                "Accept-Version": "v4.0",
            },
            json={
                "campaign": {
                    "merchant_id": partner["merchant_id"],
                    "name": "Welcome",
                    "start_at": start.isoformat(),
                    "end_at": (start + timedelta(days=30)).isoformat(),
                    "redeemable_from": start.isoformat(),
                    "redeemable_to": (start + timedelta(days=60)).isoformat(),
                    "variants": [{"name": "A", "reward_template_id": partner["template_id"]}],
                }
            },
            timeout=10,
        )
        assert answer.status_code == 500, answer.text
        log = wait_for(served.server.log, lambda text: "ZoneInfoNotFoundError" in text)
    entries = json_lines(log)
    errors = [e for e in entries if e.get("level") == "error"]
    assert len(errors) == 1, f"one error line expected, got {errors}"
    error = errors[0]
    assert error["event"] == "unhandled"
    assert error["path"] == "/partner/campaigns"
    assert error["error"] == "ZoneInfoNotFoundError"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert "ZoneInfoNotFoundError: 'No time zone found with key Mars/<email>'" in error["exception"]
    assert "Exception in ASGI application" not in log
    assert member not in log


def test_a_failing_job_is_one_json_line_in_the_worker(tmp_path: Path, var_dir: Path) -> None:
    url = next(databases.migrated(databases.sqlite_url(tmp_path)))

    async def add_job() -> str:
        db = Database(url)
        try:
            async with db.write_session() as session:
                job_id = await enqueue(session, ALWAYS_FAILS, {}, max_attempts=1)
                await session.commit()
        finally:
            await db.dispose()
        assert job_id is not None
        return job_id

    job_id = asyncio.run(add_job())
    env = worker_env(url, var_dir, BESTOW_WORKER_POLL_SECONDS="0.05")
    with worker_processes(env, tmp_path, "--import", "tests.fixtures.tasks") as start:
        worker = start("failing")
        log = wait_for(worker.log.read_text, lambda text: "job.failed" in text)
    entries = json_lines(log)
    failed = next(e for e in entries if e.get("event") == "job.failed")
    assert failed["job_id"] == job_id
    assert failed["error"] == "RuntimeError"
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert failed["exception"].rstrip().endswith("RuntimeError: boom on attempt 1")
