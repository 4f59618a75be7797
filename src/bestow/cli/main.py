"""The ``bestow`` command: serve, worker, database, demo data and administration."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import print_json, run, runtime, write

if TYPE_CHECKING:
    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession

app = typer.Typer(help="Bestow: a self-hosted rewards issuance platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def _settings_are_valid() -> None:
    """Every command starts from valid settings, or stops with the reason (never the values)."""
    from pydantic import ValidationError

    from bestow.config import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            reason = str(error["msg"]).removeprefix("Value error, ")
            typer.secho(f"error: {where + ': ' if where else ''}{reason}", fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API only")] = False,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port, each with its own worker unless "
            "--no-worker. Rate limits held in memory are then per process: set BESTOW_REDIS_URL.",
        ),
    ] = 1,
) -> None:
    """Serve every API surface, with a worker in the same process unless --no-worker."""
    import uvicorn

    from bestow.app import SERVE_WORKER, create_app
    from bestow.config import get_settings

    settings = get_settings()
    if "public_url" not in settings.model_fields_set:
        # Voucher links point at this server unless BESTOW_PUBLIC_URL says otherwise.
        wildcard = host in ("", "::") or (host.count(".") == 3 and set(host) <= {"0", "."})
        shown = "127.0.0.1" if wildcard else host
        settings = settings.model_copy(update={"public_url": f"http://{shown}:{port}"})
    _ensure_admin_token()
    options = uvicorn_options(settings, host=host, port=port)
    if processes == 1:
        uvicorn.run(create_app(settings, with_worker=not no_worker), **options)
        return
    # Each process builds its own application from the environment (uvicorn's factory).
    os.environ["BESTOW_PUBLIC_URL"] = settings.public_url
    os.environ[SERVE_WORKER] = "0" if no_worker else "1"
    uvicorn.run("bestow.app:serve_app", factory=True, workers=processes, **options)


def uvicorn_options(settings: Any, *, host: str, port: int) -> dict[str, Any]:
    """How ``bestow serve`` runs uvicorn. Its own logging configuration is not applied
    (``log_config=None``): its records, an unhandled error's among them, are JSON lines through
    Bestow's handler like every other line (``bestow.kit.logging``)."""
    from bestow.kit.logging import configure_logging
    from bestow.kit.server import PROTOCOL

    configure_logging(settings.log_level, json=settings.log_json)
    return {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        "log_config": None,
        "lifespan": "on",
        "timeout_graceful_shutdown": int(settings.worker_lease_seconds),
        # Slow or silent clients: see bestow.kit.server.
        "http": PROTOCOL,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_connections,
    }


def _ensure_admin_token() -> None:
    """Without BESTOW_ADMIN_TOKEN and without any stored admin token, make one and show it once."""
    from bestow.config import get_settings

    if get_settings().admin_token:
        return

    async def work(_: Runtime, session: WriteSession) -> str | None:
        from bestow.admins import tokens

        return await tokens.ensure_token(session)

    token = write(work)
    if token is not None:
        typer.secho(f"Admin token (shown once, store it): {token}", fg=typer.colors.YELLOW)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once")] = None,
    imports: Annotated[
        list[str] | None, typer.Option("--import", help="Extra module that registers tasks")
    ] = None,
) -> None:
    """Run a worker process; SIGTERM or SIGINT finish the running jobs, then stop."""
    import asyncio

    from bestow.config import get_settings
    from bestow.kit.logging import configure_logging
    from bestow.worker.runner import Worker, import_task_modules

    settings = get_settings()
    if concurrency:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    configure_logging(settings.log_level, json=settings.log_json)
    import_task_modules([*settings.worker_imports, *(imports or [])])

    async def main() -> None:
        async with runtime() as rt:
            w = Worker(rt.db, settings)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, w.stop)
            await w.run()

    run(main, uvloop=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from bestow.config import get_settings
    from bestow.kit.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the credentials as JSON")] = False,
    print_intro: Annotated[
        bool, typer.Option("--print-intro", help="Print credentials and a first request to try")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Seed even in production (demo clients can act)")
    ] = False,
) -> None:
    """Seed the demo data set if the database has none, and print its credentials."""
    from bestow.config import get_settings
    from bestow.demo import seed

    if get_settings().is_production and not force:
        # The demo's clients hold real credentials and an admin token: in production they would
        # be working back doors, printed by anyone who can run the CLI.
        typer.secho(
            "error: bestow demo refuses to seed demo clients and credentials in production "
            "(BESTOW_ENVIRONMENT=production); pass --force if this deployment really is a demo",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)

    async def main() -> tuple[dict[str, object], bool, bool]:
        async with runtime() as rt:
            beside = rt.settings.environment is None and await _holds_production_clients(rt)
            return (*await seed.ensure(rt), beside)

    data, created, beside_production = run(main)
    if beside_production:
        # Unpinned: the demo's clients are demo and UAT ones, which cannot see or touch a
        # production object (docs/environments.md); its admin token can.
        typer.secho(
            "warning: this deployment also serves production clients; the demo's admin token "
            "reaches them too",
            fg="yellow",
            err=True,
        )
    if as_json or not print_intro:
        print_json(data)
        return
    _intro(data, created)


def partner_walkthrough(base: str, partner: dict[str, Any], *, today: Any = None) -> str:
    """The Partner API's main job as commands to paste into bash or zsh: discovery, a campaign
    with a treatment and a Control, rewards to three demo members under an idempotency key, the
    job polled until it finishes, then revoked. Dates run from today (UTC) for 30 days."""
    import json
    from datetime import UTC, datetime, timedelta

    from bestow.kit.timefmt import iso

    start = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)

    def day(offset: int) -> str:
        return iso(start + timedelta(days=offset))

    campaign = {
        "campaign": {
            "merchant_id": partner["merchant_id"],
            "name": "Welcome back",
            "start_at": day(0),
            "end_at": day(30),
            "redeemable_from": day(0),
            "redeemable_to": day(60),
            "variants": [
                {"name": "Free slice", "reward_template_id": partner["template_id"]},
                {"name": "Control"},
            ],
        }
    }
    members = [m["email"] for m in partner["members"][:3]]
    identifiers = ", ".join(f'{{"type": "email", "value": "{m}"}}' for m in members)
    issue = (
        f'{{"merchant_id": "{partner["merchant_id"]}", "campaign_id": "\'$CAMPAIGN_ID\'", '
        f'"variant_id": "\'$VARIANT_ID\'", "identifiers": [{identifiers}]}}'
    )
    merchant = partner["merchant_id"]
    return (
        "  Partner API (bash or zsh; python3 reads the answers):\n"
        f"  B={base}/partner\n"
        f"  P=(-sS -w '\\n' -H 'Authorization: Bearer {partner['access_token']}' \\\n"
        f"     -H 'X-ClientId: {partner['client_id']}' "
        "-H 'Accept-Version: v4.0' -H 'Content-Type: application/json')\n"
        "  j() { python3 -c 'import json,sys,functools; print(functools.reduce(lambda d,k: "
        'd[int(k) if k.isdigit() else k], sys.argv[1:], json.load(sys.stdin)))\' "$@"; }\n'
        '  curl "${P[@]}" $B/merchants\n'
        f'  curl "${{P[@]}}" "$B/reward_templates?merchant_id={merchant}"\n'
        "  # a campaign: a treatment (a published template) and a Control (a hold-out)\n"
        f'  C=$(curl "${{P[@]}}" $B/campaigns -d \'{json.dumps(campaign)}\'); echo "$C"\n'
        '  CAMPAIGN_ID=$(echo "$C" | j campaign id)\n'
        '  VARIANT_ID=$(echo "$C" | j campaign variants 0 id)\n'
        "  # rewards to three demo members; the key makes a retry safe (same answer, no new job)\n"
        "  KEY=$(python3 -c 'import uuid; print(uuid.uuid4())')\n"
        f'  J=$(curl "${{P[@]}}" -H "X-Idempotency-Key: $KEY" $B/campaigns/issue \\\n'
        f"     -d '{issue}'); echo \"$J\"\n"
        '  JOB_ID=$(echo "$J" | j issuance_job id)\n'
        "  # poll the job until it is completed (or failed); each sleep keeps these commands\n"
        "  # within the API's 5 requests a second\n"
        f'  sleep 1; curl "${{P[@]}}" "$B/issuance_jobs/$JOB_ID?merchant_id={merchant}"\n'
        "  # revoke every reward of the job (202, then revoked by the worker)\n"
        f'  sleep 1; curl "${{P[@]}}" $B/issuance_jobs/$JOB_ID/revoke \\\n'
        f'     -d \'{{"merchant_id": "{merchant}"}}\'\n'
    )


async def _holds_production_clients(rt: Any) -> bool:
    """Whether an unpinned deployment already serves production clients."""
    from sqlalchemy import select

    from bestow.clients import service as clients

    async with rt.db.session() as session:
        stmt = clients.list_query(environment="production").limit(1)
        return bool((await session.execute(select(stmt.exists()))).scalar_one())


def _intro(data: dict[str, object], created: bool) -> None:
    from bestow.config import get_settings

    partner = data["partner"]
    admin = data["admin"]
    assert isinstance(partner, dict) and isinstance(admin, dict)
    settings = get_settings()
    base = settings.public_url.rstrip("/")
    state = "seeded" if created else "already present"
    where = (
        f"pinned to {settings.environment}"
        if settings.environment
        else "demo, uat and production side by side"
    )
    typer.secho(f"\nBestow demo data {state} ({where}).", bold=True)
    typer.echo(f"  admin token:           {admin['token']}")
    typer.echo(f"  partner X-ClientId:    {partner['client_id']}")
    typer.echo(f"  partner access token:  {partner['access_token']}")
    typer.echo(f"  partner merchant_id:   {partner['merchant_id']}")
    typer.echo("\nTry (once the server below is up):\n")
    typer.echo(partner_walkthrough(base, partner))
    vouchers = data.get("vouchers")
    if isinstance(vouchers, dict):
        typer.echo(
            "  Voucher API token, then the catalogue (use the access_token it prints):\n"
            f"  curl -s -u '{vouchers['client_id']}:{vouchers['client_secret']}' \\\n"
            f"    -d grant_type=client_credentials {base}/oauth2/token\n"
            f"  curl -s {base}/v3/products \\\n"
            "    -H 'Authorization: Bearer <access_token>'\n"
            f"  curl -s {base}/v3/products/DEMO-OPEN \\\n"
            "    -H 'Authorization: Bearer <access_token>' \\\n"
            "    -H \"Idempotency-Key: $(python3 -c 'import uuid; print(uuid.uuid4())')\" \\\n"
            "    -H 'Content-Type: application/json' -d '{\"quantity\": 1, \"face_value\": 1051}'\n"
            "  The vendor's UAT, end to end: .venv/bin/bestow demo --json | "
            ".venv/bin/python examples/uat_vouchers.py --demo-json -\n"
        )
    loyalty = data.get("loyalty")
    if isinstance(loyalty, dict):
        session = '{"correlationId": "demo-1", "channel": "APP"}'
        award = (
            f'{{"channel": "APP", "businessUnit": "{loyalty["business_units"][0]}", '
            f'"issuerId": "demo", "rewardId": "{loyalty["reward_ids"][0]}", "rewardAmount": 100}}'
        )
        typer.echo(
            "  Loyalty API token, a member's session, then points in it (an ad hoc reward):\n"
            f"  curl -s -u '{loyalty['client_id']}:{loyalty['client_secret']}' \\\n"
            f"    -d grant_type=client_credentials {base}/oauth2/token\n"
            f"  curl -s {base}/client/users/"
            f"{loyalty['member']['account_id']}/sessions \\\n"
            "    -H 'Authorization: Bearer <access_token>' -H 'X-Identifier-Type: ACCOUNT_ID' \\\n"
            f"    -H 'Content-Type: application/json' -d '{session}'\n"
            f"  curl -s {base}/client/users/demo-1/adhoc-reward/ \\\n"
            "    -H 'Authorization: Bearer <access_token>' -H 'Content-Type: application/json' \\\n"
            f"    -d '{award}'\n"
        )
    operator = data.get("operator")
    if isinstance(operator, dict):
        url = "/v1/campaigns"
        key = operator["primary_shared_key"]
        typer.echo(
            "  Operator API, signed as the vendor documents (sha256 of key + URL + body):\n"
            f"  H=$(printf '%s' '{key}{url}' | sha256sum | cut -d' ' -f1)\n"
            f"  curl -s {base}{url} -H 'X-AUTH-OPERATOR-ID: {operator['operator_id']}' "
            '-H "X-AUTH-REQUEST-HASH: $H"\n'
            "  The whole flow (campaign, reward, enrollments, free bets, bulk, cancel): "
            ".venv/bin/bestow demo --json | .venv/bin/python examples/operator_flow.py "
            "--demo-json -\n"
        )
    environments = data.get("environments")
    if isinstance(environments, dict) and isinstance(environments.get("uat"), dict):
        uat = environments["uat"]["partner"]
        typer.echo(
            "  The same partner's UAT clients, with data of their own (environments.uat in\n"
            "  bestow demo --json); the credential alone decides the environment:\n"
            f"  UAT partner X-ClientId: {uat['client_id']}   access token: {uat['access_token']}\n"
        )
    typer.echo(f"  All credentials: .venv/bin/bestow demo --json   API docs: {base}/docs\n")


from bestow.cli import admin_tokens as _admin_tokens  # noqa: E402
from bestow.cli import audit as _audit  # noqa: E402
from bestow.cli import bulks as _bulks  # noqa: E402
from bestow.cli import campaigns as _campaigns  # noqa: E402
from bestow.cli import certify as _certify  # noqa: E402
from bestow.cli import clients as _clients  # noqa: E402
from bestow.cli import faults as _faults  # noqa: E402
from bestow.cli import jobs as _jobs  # noqa: E402
from bestow.cli import loyalty as _loyalty  # noqa: E402
from bestow.cli import members as _members  # noqa: E402
from bestow.cli import merchants as _merchants  # noqa: E402
from bestow.cli import products as _products  # noqa: E402
from bestow.cli import requests as _requests  # noqa: E402
from bestow.cli import rewards as _rewards  # noqa: E402
from bestow.cli import templates as _templates  # noqa: E402
from bestow.cli import vouchers as _vouchers  # noqa: E402
from bestow.cli import webhooks as _webhooks  # noqa: E402

app.add_typer(_clients.app, name="clients")
app.add_typer(_merchants.app, name="merchants")
app.add_typer(_members.app, name="members")
app.add_typer(_rewards.app, name="rewards")
app.add_typer(_admin_tokens.app, name="admin-tokens")
app.add_typer(_audit.app, name="audit")
app.add_typer(_templates.app, name="templates")
app.add_typer(_webhooks.app, name="webhooks")
app.add_typer(_products.app, name="products")
app.add_typer(_vouchers.app, name="vouchers")
app.add_typer(_loyalty.app, name="loyalty")
app.add_typer(_requests.app, name="requests")
app.add_typer(_faults.app, name="faults")
app.add_typer(_certify.app, name="certify")
app.add_typer(_campaigns.app, name="campaigns")
app.add_typer(_jobs.app, name="jobs")
app.add_typer(_bulks.app, name="bulks")
