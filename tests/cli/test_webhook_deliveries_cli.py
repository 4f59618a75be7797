"""``bestow webhooks deliveries`` without an endpoint: the deliveries of every endpoint, filtered,
as ``GET /admin/webhook_deliveries`` answers them (``--json``) or as a table; in process with
Typer's runner. On each test database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import Result

from bestow.deps import Runtime
from tests.cli.helpers import Invoke, failed, ok
from tests.conftest import unique
from tests.surfaces.admin.helpers import ADMIN
from tests.webhooks.seeded import HTTP_500, OK, TIMEOUT, Spec, seed

URL = "http://127.0.0.1:9/hooks"
"""An endpoint URL for tests that never send (nothing listens on the discard port)."""


def _new_client(cli: Invoke) -> str:
    client_id: str = ok(cli("clients", "create", "--name", unique("hooks"), "--json"))["id"]
    return client_id


def _new_endpoint(cli: Invoke, client_id: str) -> str:
    made = ok(cli("webhooks", "create", "--client-id", client_id, "--url", URL, "--json"))
    endpoint_id: str = made["id"]
    return endpoint_id


async def new_client(cli: Invoke) -> str:
    # The CLI runs its own event loop: off the test's, in a thread.
    return await asyncio.to_thread(_new_client, cli)


async def new_endpoint(cli: Invoke, client_id: str) -> str:
    return await asyncio.to_thread(_new_endpoint, cli, client_id)


async def deliveries(cli: Invoke, *args: str) -> Result:
    return await asyncio.to_thread(cli, "webhooks", "deliveries", *args)


async def listed(cli: Invoke, *args: str) -> list[str]:
    """The ids ``deliveries --json`` lists with ``args``."""
    return [item["id"] for item in ok(await deliveries(cli, *args, "--json"))["data"]]


async def test_the_json_is_the_admin_apis_answer(
    cli: Invoke, runtime: Runtime, app_client: httpx.AsyncClient
) -> None:
    client_id = await new_client(cli)
    first, second = await new_endpoint(cli, client_id), await new_endpoint(cli, client_id)
    await seed(
        runtime,
        Spec(first, client_id, tries=(HTTP_500, OK)),
        Spec(second, client_id, state="pending"),
        Spec(second, client_id, state="failed", origin="replay", tries=(TIMEOUT,)),
    )

    printed = ok(await deliveries(cli, "--client", client_id, "--json"))
    answered = await app_client.get(
        "/admin/webhook_deliveries", params={"client_id": client_id}, headers=ADMIN
    )

    assert answered.status_code == 200, answered.text
    assert printed == answered.json()
    assert len(printed["data"]) == 3
    assert printed["data"][0]["last_attempt"]["error"] == "timed out after 15 s"


async def test_each_option_filters_as_the_admin_api_does(cli: Invoke, runtime: Runtime) -> None:
    mine, other = await new_client(cli), await new_client(cli)
    a, b = await new_endpoint(cli, mine), await new_endpoint(cli, mine)
    c = await new_endpoint(cli, other)
    old = datetime.now(UTC) - timedelta(days=2)
    issued, revoked, delayed, pending, elsewhere = await seed(
        runtime,
        Spec(a, mine, created_at=old, tries=(OK,)),
        Spec(a, mine, "reward.revoked", state="failed", tries=(HTTP_500,)),
        Spec(b, mine, origin="chaos:delay", tries=(HTTP_500, OK)),
        Spec(b, mine, state="pending"),
        Spec(c, other, tries=(OK,)),
    )
    event_of = {
        item["id"]: item["event_id"]
        for item in ok(await deliveries(cli, "--client", mine, "--json"))["data"]
    }
    since = (old - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    until = (old + timedelta(minutes=1)).isoformat()

    assert await listed(cli, "--client", mine) == [pending, delayed, revoked, issued]
    assert await listed(cli, "--client", other) == [elsewhere]
    assert await listed(cli, "--endpoint", a) == [revoked, issued]
    assert await listed(cli, "--event", event_of[delayed]) == [delayed]
    assert await listed(cli, "--client", mine, "--event-type", "reward.revoked") == [revoked]
    assert await listed(cli, "--client", mine, "--state", "pending") == [pending]
    assert await listed(cli, "--client", mine, "--origin", "chaos:*") == [delayed]
    assert await listed(cli, "--client", mine, "--with-failures") == [delayed, revoked]
    assert await listed(cli, "--client", mine, "--without-failures") == [pending, issued]
    assert await listed(cli, "--client", mine, "--since", "1d") == [pending, delayed, revoked]
    assert await listed(cli, "--client", mine, "--until", "1d") == [issued]
    assert await listed(cli, "--client", mine, "--since", since, "--until", until) == [issued]


async def test_pages_follow_each_other_with_the_cursor(cli: Invoke, runtime: Runtime) -> None:
    client_id = await new_client(cli)
    endpoint_id = await new_endpoint(cli, client_id)
    made = await seed(runtime, *(Spec(endpoint_id, client_id) for _ in range(3)))

    first = ok(await deliveries(cli, "--client", client_id, "--limit", "2", "--json"))
    rest = ok(
        await deliveries(
            cli, "--client", client_id, "--limit", "2", "--cursor", first["next_cursor"], "--json"
        )
    )

    assert [item["id"] for item in first["data"]] == [made[2], made[1]]
    assert [item["id"] for item in rest["data"]] == [made[0]]
    assert rest["next_cursor"] is None


async def test_the_table_shows_the_last_attempt_and_where_the_next_page_starts(
    cli: Invoke, runtime: Runtime
) -> None:
    client_id = await new_client(cli)
    endpoint_id = await new_endpoint(cli, client_id)
    await seed(
        runtime,
        Spec(endpoint_id, client_id, tries=(HTTP_500, OK)),
        Spec(endpoint_id, client_id, state="failed", tries=(HTTP_500,)),
    )

    one = await deliveries(cli, "--client", client_id, "--limit", "1")
    both = await deliveries(cli, "--client", client_id)
    empty = await deliveries(cli, "--client", "cli_nobody")

    assert one.exit_code == 0, one.output
    header, *rows = [line.split() for line in one.stdout.splitlines() if line.strip()]
    assert header == [
        "created_at",
        "endpoint_id",
        "event_id",
        "event_type",
        "state",
        "origin",
        "attempt_count",
        "failed_attempts",
        "last_status_code",
        "last_latency_ms",
        "last_error",
    ]
    assert len(rows) == 1
    assert rows[0][1] == endpoint_id
    assert rows[0][2].startswith("evt_")
    assert rows[0][3:] == [
        "reward.issued",
        "failed",
        "schedule",
        "1",
        "1",
        "500",
        "40",
        "HTTP",
        "500",
    ]
    assert one.stderr.startswith("more: --cursor ")
    assert (both.exit_code, both.stderr) == (0, "")
    assert [line.split()[4] for line in both.stdout.splitlines()[1:]] == ["failed", "succeeded"]
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "no deliveries\n")


REFUSED: list[tuple[tuple[str, ...], str]] = [
    (("--event-type", "reward.exploded"), "unknown event type: reward.exploded"),
    (("--origin", "chaos*x"), "origin takes a '*' only at its end"),
    (("--since", "yesterday"), "--since takes an ISO 8601 time or a duration"),
    (("--until", "soon"), "--until takes an ISO 8601 time or a duration"),
    (("--since", "1h", "--until", "2h"), "until must be later than since"),
    (("--cursor", "not-a-cursor"), "cursor is not one this API returned"),
    (("ep_x", "--client", "cli_x"), "--client filters the deliveries of every endpoint"),
    (("ep_x", "--since", "1h"), "--since filters the deliveries of every endpoint"),
    (("ep_x", "--state", "failed"), "--state lists deliveries: use it with --by-event"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_a_bad_option_is_refused_with_a_message(
    cli: Invoke, args: tuple[str, ...], message: str
) -> None:
    assert message in failed(cli("webhooks", "deliveries", *args))


def test_an_unknown_state_is_refused_by_the_option_itself(cli: Invoke) -> None:
    result = cli("webhooks", "deliveries", "--state", "lost")

    assert result.exit_code == 2
    assert "--state" in result.output


def test_the_help_names_both_forms(cli: Invoke) -> None:
    shown: Any = cli("webhooks", "deliveries", "--help")

    assert shown.exit_code == 0
    for option in ("--client", "--endpoint", "--event-type", "--origin", "--with-failures"):
        assert option in shown.stdout
    assert "ENDPOINT_ID" in shown.stdout
