"""The request log of a real ``bestow serve``: its lifespan task writes what the process
recorded, and ``bestow requests list`` (another process) reads it."""

from __future__ import annotations

import json
import time

import httpx

from tests.cli.helpers import bestow
from tests.fixtures.deployment import Serving

WAIT_SECONDS = 60.0


def test_a_served_request_reaches_the_log(served: Serving) -> None:
    partner = json.loads(served.demo_json)["partner"]
    headers = {
        "Authorization": f"Bearer {partner['access_token']}",
        "X-ClientId": partner["client_id"],
        "Accept-Version": "v4.0",
    }
    with httpx.Client(base_url=served.server.base_url, timeout=10) as http:
        answered = http.get("/partner/merchants", headers=headers)
    assert answered.status_code == 200, answered.text
    request_id = answered.headers["x-request-id"]

    deadline = time.monotonic() + WAIT_SECONDS
    found: list[dict[str, object]] = []
    while not found and time.monotonic() < deadline:
        listed = bestow(served.env, "requests", "list", "--request-id", request_id, "--json")
        assert listed.returncode == 0, listed.stderr
        found = json.loads(listed.stdout)["data"]
    assert [(e["client_id"], e["route"], e["status"]) for e in found] == [
        (partner["client_id"], "/partner/merchants", 200)
    ]
