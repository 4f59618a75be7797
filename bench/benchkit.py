"""What the benchmarks share: throw-away PostgreSQL databases, ports, the venv's scripts, seeding
helpers, and the processes they start and stop."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

HOST = "127.0.0.1"
REPOSITORY = Path(__file__).resolve().parent.parent


def pg_dsn(url: str) -> str:
    """A plain libpq URL for asyncpg (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def pg_admin(base_url: str, sql: str) -> None:
    """Run one statement (CREATE or DROP DATABASE) on the server of ``base_url``."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(pg_dsn(base_url), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def venv_script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found beside {sys.executable} nor on PATH")
    return found


CREATED_DATABASES: list[tuple[str, str]] = []
"""(server URL, name) of every PostgreSQL database made and not dropped yet: a benchmark's last
resort drops them when the normal path could not."""


@contextlib.asynccontextmanager
async def database(
    kind: str, tmp: Path, pg_url: str, *, sqlite_name: str = "bestow.db"
) -> AsyncIterator[str]:
    """A migrated, empty database; yields its SQLAlchemy URL and drops it afterwards."""
    from bestow.kit.migrate import upgrade_async

    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / sqlite_name}"
        await upgrade_async(url)
        yield url
        return
    name = f"bestow_bench_{uuid.uuid4().hex[:12]}"
    await pg_admin(pg_url, f'CREATE DATABASE "{name}"')
    CREATED_DATABASES.append((pg_url, name))
    try:
        url = with_database(pg_dsn(pg_url), name).replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
        await upgrade_async(url)
        yield url
    finally:
        await asyncio.shield(pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        CREATED_DATABASES.remove((pg_url, name))


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process on this host (``/proc``), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of a process and its children (``bestow serve --processes N`` forks its
    servers), by pid."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(stat.parent.name))
    return {p: cpu for p in pids if (cpu := proc_cpu(p)) is not None}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class DirectReader:
    """Reads rows straight from the benchmark's database (not through the API): a plain sqlite3
    connection or an asyncpg one. Subclasses add the queries they need."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._pg: Any = None
        self._lite: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.is_sqlite:
            self._lite = sqlite3.connect(self.url.split(":///", 1)[1], timeout=30)
            self._lite.execute("PRAGMA busy_timeout=30000")
        else:
            import asyncpg  # type: ignore[import-untyped]

            self._pg = await asyncpg.connect(pg_dsn(self.url.replace("+asyncpg", "")))

    async def close(self) -> None:
        if self._lite is not None:
            self._lite.close()
        if self._pg is not None:
            await self._pg.close()

    async def backend_cpu(self) -> dict[int, float]:
        """CPU seconds of this database's PostgreSQL backends but the reader's own (PostgreSQL
        on this host, read from ``/proc``); empty on SQLite."""
        if self._pg is None:
            return {}
        pids = await self._pg.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        found = {int(r[0]): proc_cpu(int(r[0])) for r in pids}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def drop_leftover_databases() -> None:
    """Drop every database in ``CREATED_DATABASES``: a benchmark's last resort, each error
    ignored (the event loop that made them may be gone)."""
    for server, name in list(CREATED_DATABASES):
        with contextlib.suppress(Exception):
            asyncio.run(pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- bench settings and members ------------------------------------------------------------------

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-secret-key-" + "k" * 32
ADMIN_TOKEN = "bench-admin-token-" + "a" * 32


def bestow_env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment but its ``BESTOW_*`` variables, plus a deployment's settings
    on ``url`` (log level WARNING) and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")}
    return env | {
        "BESTOW_DATABASE_URL": url,
        "BESTOW_SECRET_KEY": SECRET_KEY,
        "BESTOW_VAR_DIR": str(var_dir),
        "BESTOW_ADMIN_TOKEN": ADMIN_TOKEN,
        "BESTOW_LOG_LEVEL": "WARNING",
        **extra,
    }


def bench_runtime(url: str, var_dir: Path) -> Any:
    """A runtime (``bestow.app.build_runtime``) on ``url`` with the bench's settings."""
    from bestow.app import build_runtime
    from bestow.config import Settings

    settings = Settings(
        database_url=url, var_dir=var_dir, secret_key=SECRET_KEY, admin_token=ADMIN_TOKEN
    )
    return build_runtime(settings)


def member_rows(
    merchant_id: str, emails: list[str], now: Any, *, numbered: bool = False
) -> list[dict[str, Any]]:
    """Rows of active members for ``kit.db.bulk_insert``, one per email (last name ``Member``,
    or ``Member <n>`` when ``numbered``)."""
    from bestow.kit.ids import new_guid, new_id

    return [
        {
            "id": new_id("mbr"),
            "merchant_id": merchant_id,
            "account_id": new_guid(),
            "email": address,
            "phone": None,
            "loyalty_id": None,
            "first_name": "Bench",
            "last_name": f"Member {i}" if numbered else "Member",
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        for i, address in enumerate(emails)
    ]


async def bench_partner(
    session: Any, runtime: Any, *, merchant_id: str, name: str, actor: Any
) -> tuple[Any, str]:
    """A partner client on the ``unlimited`` tier with a token, granted ``merchant_id``:
    (client, token)."""
    from bestow.clients import service as clients

    client = await clients.create_client(
        session,
        name=name,
        scopes=["rewards.issue"],
        rate_limit_tier="unlimited",
        known_tiers=runtime.rate_limiter.tier_names(),
        actor=actor,
    )
    issued = await clients.issue_credential(
        session, runtime.sealer, client_id=client.id, kind=clients.PARTNER_TOKEN, actor=actor
    )
    await clients.grant_merchant(session, client_id=client.id, merchant_id=merchant_id, actor=actor)
    return client, issued.secret


async def oauth_token(http: Any, client_id: str, secret: str) -> str:
    """An access token from ``POST /oauth2/token`` (client credentials) on ``http`` (an
    ``httpx.AsyncClient`` on the API)."""
    pair = f"{client_id}:{secret}".encode()
    response = await http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    )
    if response.status_code != 200:
        raise BenchFailed(f"POST /oauth2/token: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


async def bench_campaign(
    session: Any, *, client_id: str, merchant_id: str, template_id: str, name: str, now: Any
) -> Any:
    """An active partner campaign (started an hour ago, for 30 days) of one variant."""
    from datetime import timedelta

    from bestow.issuance import campaigns

    return await campaigns.create_partner_campaign(
        session,
        client_id=client_id,
        merchant_id=merchant_id,
        name=name,
        objective="throughput",
        fine_print="terms apply",
        start_at=now - timedelta(hours=1),
        end_at=now + timedelta(days=30),
        redeemable_from=now,
        redeemable_to=now + timedelta(days=60),
        variants=[campaigns.VariantSpec("Treatment", template_id)],
    )


# --- processes -----------------------------------------------------------------------------------

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 45.0


class BenchFailed(Exception):
    """A process did not start, or a job did not finish in time."""


class WrongResult(Exception):
    """A request or a job ended otherwise than expected."""


def failure_status(exc: BaseException) -> int:
    """Print why a bench stopped early; its exit status: 2 when a process or a wait failed
    (``BenchFailed``), 1 on a wrong result (``WrongResult``), 130 when interrupted."""
    if isinstance(exc, KeyboardInterrupt):
        print("interrupted: processes stopped, databases dropped", file=sys.stderr)
        return 130
    print(f"error: {exc}", file=sys.stderr)
    return 2 if isinstance(exc, BenchFailed) else 1


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def check_alive(procs: list[Proc]) -> None:
    for proc in procs:
        if proc.process.poll() is not None:
            raise BenchFailed(f"{proc.name} exited\n{tail(proc.log)}")


def procs_cpu(procs: list[Proc]) -> dict[int, float]:
    """CPU seconds of each process so far, by pid (0 where ``/proc`` has none)."""
    return {p.pid: proc_cpu(p.pid) or 0.0 for p in procs}


def cprofiled(command: list[str], out: Path) -> list[str]:
    """``command`` (a Python script) under cProfile, its profile written to ``out``."""
    return [sys.executable, "-m", "cProfile", "-o", str(out), *command]


class Processes:
    """Every process a bench starts, its output in ``logs``; ``stop_all`` stops those still
    running (``stop_signal``, by default SIGINT, then SIGKILL)."""

    def __init__(self, logs: Path, cwd: Path) -> None:
        self.logs = logs
        self.cwd = cwd
        self.running: list[Proc] = []
        self.count = 0

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Proc:
        self.count += 1
        log_path = self.logs / f"{self.count:02d}-{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
            )
        proc = Proc(name, process, log_path)
        self.running.append(proc)
        return proc

    async def serve(
        self, env: dict[str, str], *, worker: bool = False, processes: int = 1
    ) -> tuple[Proc, str]:
        """``bestow serve`` (``--no-worker`` unless ``worker``, ``--processes``); returns it with
        its base URL once ``/healthz`` answers."""
        import httpx

        port = free_port()
        command = [venv_script("bestow"), "serve", "--host", HOST, "--port", str(port)]
        if not worker:
            command.append("--no-worker")
        if processes > 1:
            command += ["--processes", str(processes)]
        proc = self.start("serve" if worker else "api", command, env)
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            while time.monotonic() < deadline:
                check_alive([proc])
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return proc, base
                await asyncio.sleep(0.1)
        raise BenchFailed(f"{proc.name} not ready in {START_TIMEOUT_SECONDS} s\n{tail(proc.log)}")

    async def start_workers(
        self,
        commands: dict[str, list[str]],
        env: dict[str, str],
        on_ready: Callable[[Proc], None] | None = None,
    ) -> list[Proc]:
        """One ``bestow worker`` process per name in ``commands``, each waited for (its log says
        ``worker.started``: ``env`` logs at INFO); ``on_ready`` is called on each once it is."""
        procs = [self.start(name, command, env) for name, command in commands.items()]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        waiting = list(procs)
        while waiting and time.monotonic() < deadline:
            check_alive(waiting)
            for proc in list(waiting):
                if b"worker.started" in proc.log.read_bytes():
                    waiting.remove(proc)
                    if on_ready is not None:
                        on_ready(proc)
            await asyncio.sleep(0.02)
        if waiting:
            raise BenchFailed(f"{waiting[0].name} not ready\n{tail(waiting[0].log)}")
        return procs

    def stop_signal(self, proc: Proc) -> int:
        return signal.SIGINT

    def stop(self, proc: Proc, sig: int | None = None) -> None:
        if proc.process.poll() is None:
            proc.process.send_signal(self.stop_signal(proc) if sig is None else sig)
            try:
                proc.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(STOP_TIMEOUT_SECONDS)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.running)):
            with contextlib.suppress(Exception):
                self.stop(proc)


OptionsT = TypeVar("OptionsT")


class BenchProcesses(Processes, Generic[OptionsT]):
    """A bench's processes, run in the repository, with its options ``opts``, its ``var_dir``
    and the cProfile outputs (``profiles``) of those it ran under cProfile."""

    def __init__(self, opts: OptionsT, var_dir: Path, logs: Path) -> None:
        super().__init__(logs, REPOSITORY)
        self.opts = opts
        self.var_dir = var_dir
        self.profiles: list[Path] = []


P = TypeVar("P", bound=Processes)


@contextlib.contextmanager
def stopping(procs: P) -> Iterator[P]:
    try:
        yield procs
    finally:
        procs.stop_all()


@contextlib.contextmanager
def bench_dirs(prefix: str, keep_logs: Path | None) -> Iterator[Path]:
    """A temporary directory with ``var`` and ``logs`` in it; on the way out, however it goes,
    the databases left over are dropped (``drop_leftover_databases``) and the logs copied to
    ``keep_logs`` (when given) before the directory is removed."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        tmp = Path(name)
        (tmp / "var").mkdir()
        (tmp / "logs").mkdir()
        try:
            yield tmp
        finally:
            drop_leftover_databases()
            if keep_logs is not None:
                shutil.copytree(tmp / "logs", keep_logs, dirs_exist_ok=True)


def print_report(report: dict[str, Any], lines: list[str], profiles: list[Path], of: str) -> None:
    """A bench's report: its lines, the cProfile outputs (of ``of``: the server, the workers)
    when there are any, and last the report as JSON."""
    print("\n".join(lines))
    if profiles:
        print(f"\ncProfile of {of}: " + ", ".join(str(p) for p in profiles))
    print(json.dumps(report))
