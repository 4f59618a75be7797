"""A small HTTP/1.1 keep-alive load generator on raw asyncio protocols (uvloop when installed).

N connections each send one GET, wait for the whole response (status line + ``Content-Length``
body), record the latency and send the next. A warm-up phase runs first and is not recorded; then
the measured phase runs for a fixed duration. Every loop is bounded in time and only 127.0.0.1 is
ever contacted. The result is one JSON object on stdout.

    python bench/loadgen.py --port 8000 --path /healthz -H 'Accept: application/json'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, cast

HOST = "127.0.0.1"
REQUEST_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
DRAIN_TIMEOUT_SECONDS = 5.0


class ResponseError(Exception):
    """A response the generator cannot read (no Content-Length, malformed status line)."""


class HttpClient(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.sent_at = 0.0
        self.status = 0
        self.needed = -1  # bytes of head + body of the response being read, -1 before the head
        self.keep_alive = True
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None:
            return
        try:
            self._parse()
        except Exception as exc:
            self._fail(exc)

    def _parse(self) -> None:
        buffer = self.buffer
        if self.needed < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            if not head.startswith(b"http/1.1 ") and not head.startswith(b"http/1.0 "):
                raise ResponseError(f"bad status line {head[:40]!r}")
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise ResponseError("response without Content-Length")
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
            self.keep_alive = b"\r\nconnection: close" not in head and head.startswith(b"http/1.1")
            self.needed = end + 4 + length
        if len(buffer) >= self.needed:
            del buffer[: self.needed]
            self.needed = -1
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(self.status)

    def _fail(self, exc: BaseException) -> None:
        self.lost = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def request(self, payload: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[int]:
        assert self.transport is not None
        waiter: asyncio.Future[int] = loop.create_future()
        self.waiter = waiter
        self.sent_at = time.perf_counter()
        self.transport.write(payload)
        return waiter

    def expire(self, now: float) -> None:
        """Called by the watchdog: fail a request that has waited too long."""
        if self.waiter is not None and now - self.sent_at > REQUEST_TIMEOUT_SECONDS:
            self._fail(TimeoutError(f"no response within {REQUEST_TIMEOUT_SECONDS} s"))


@dataclass
class Recorder:
    measure_from: float = float("inf")
    measure_until: float = float("inf")
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    warmup_requests: int = 0
    connects: int = 0

    def record(self, started: float, ended: float, status: int) -> None:
        if ended < self.measure_from:
            self.warmup_requests += 1
            return
        if ended > self.measure_until:
            return
        self.latencies.append(ended - started)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def fail(self, ended: float, exc: BaseException) -> None:
        if self.measure_from <= ended <= self.measure_until:
            name = type(exc).__name__
            self.failures[name] = self.failures.get(name, 0) + 1


async def worker(
    payload: bytes,
    port: int,
    recorder: Recorder,
    clients: set[HttpClient],
    stop_at: float,
) -> None:
    loop = asyncio.get_running_loop()
    client: HttpClient | None = None
    perf_counter = time.perf_counter
    while perf_counter() < stop_at:
        if client is None or client.lost or not client.keep_alive:
            if client is not None:
                clients.discard(client)
                if client.transport is not None:
                    client.transport.close()
            try:
                _, fresh = await asyncio.wait_for(
                    loop.create_connection(HttpClient, HOST, port), CONNECT_TIMEOUT_SECONDS
                )
            except (OSError, TimeoutError) as exc:
                recorder.fail(perf_counter(), exc)
                client = None
                await asyncio.sleep(0.05)
                continue
            client = fresh
            clients.add(client)
            recorder.connects += 1
        try:
            status = await client.request(payload, loop)
        except Exception as exc:
            recorder.fail(perf_counter(), exc)
            await asyncio.sleep(0.01)  # no hot loop against a failing server
            continue
        recorder.record(client.sent_at, perf_counter(), status)
    if client is not None and client.transport is not None:
        client.transport.close()


async def watchdog(clients: set[HttpClient], stop_at: float) -> None:
    while time.perf_counter() < stop_at + REQUEST_TIMEOUT_SECONDS:
        await asyncio.sleep(0.25)
        now = time.perf_counter()
        for client in list(clients):
            client.expire(now)


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = "".join(f"{h}\r\n" for h in args.header)
    payload = (f"GET {args.path} HTTP/1.1\r\nHost: {HOST}:{args.port}\r\n{headers}\r\n").encode(
        "latin-1"
    )
    recorder = Recorder()
    clients: set[HttpClient] = set()
    start = time.perf_counter()
    recorder.measure_from = start + args.warmup
    recorder.measure_until = recorder.measure_from + args.duration
    stop_at = recorder.measure_until
    dog = asyncio.create_task(watchdog(clients, stop_at))
    tasks = [
        asyncio.create_task(worker(payload, args.port, recorder, clients, stop_at))
        for _ in range(args.connections)
    ]
    await asyncio.sleep(max(0.0, recorder.measure_from - time.perf_counter()))
    own_cpu_0 = _own_cpu()
    server_cpu_0 = cpu_seconds_of(args.server_pid) if args.server_pid else None
    await asyncio.sleep(max(0.0, recorder.measure_until - time.perf_counter()))
    own_cpu_1 = _own_cpu()
    server_cpu_1 = cpu_seconds_of(args.server_pid) if args.server_pid else None
    _, pending = await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_SECONDS + DRAIN_TIMEOUT_SECONDS)
    for task in pending:
        task.cancel()
    dog.cancel()

    latencies = sorted(recorder.latencies)
    ok = recorder.statuses.get(200, 0)
    bad_status = sum(n for status, n in recorder.statuses.items() if status != 200)
    failed = sum(recorder.failures.values())
    total = len(latencies) + failed
    result: dict[str, Any] = {
        "requests": total,
        "ok": ok,
        "errors": bad_status + failed,
        "error_rate": (bad_status + failed) / total if total else 1.0,
        "rps": len(latencies) / args.duration,
        "ok_rps": ok / args.duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "statuses": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "failures": recorder.failures,
        "warmup_requests": recorder.warmup_requests,
        "connections": args.connections,
        "duration_s": args.duration,
        "connects": recorder.connects,
        "loadgen_cpu": (own_cpu_1 - own_cpu_0) / args.duration,
    }
    if server_cpu_0 is not None and server_cpu_1 is not None:
        result["server_cpu"] = (server_cpu_1 - server_cpu_0) / args.duration
    return result


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--path", default="/")
    parser.add_argument(
        "-H", "--header", action="append", default=[], help="'Name: value', repeatable"
    )
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, not recorded")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--server-pid", type=int, default=0, help="report this process's CPU use")
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= 1024:
        parser.error("--connections must be between 1 and 1024")
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 600:
        parser.error("--duration must be in (0, 600] and --warmup in [0, 600]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
