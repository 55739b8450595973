"""Websocket benchmark: echo through the portal versus the same app served bare, and open sockets.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/ws_benchmark.py
    .venv/bin/python benchmarks/ws_benchmark.py --connections 32 --seconds 8 --hold 2000

Two gunicorns run side by side with the project's gunicorn.conf.py and the same settings:

- bare:   `benchmarks/ws_bare_app.py` alone (`gunicorn -c gunicorn.conf.py <that app>`);
- portal: the whole site (`wsgi:application`) with that same file mounted as the product
  `stable/echo`, reached signed in, through DispatcherMiddleware and the Gate.

Each of `--rounds` rounds measures, in turn, bare `/ws`, portal `/ws` (flask-sock's own route) and
portal `/pws` (the `PortalSock` route products get): `--connections` sockets, spread evenly over
the workers, each sending a 64-byte message and waiting for its echo, for `--seconds`. Printed:
messages per second and round-trip p50/p99 of every round, their medians, and the throughput
ratio to bare as the median of the per-round ratios (rounds alternate, so a slow minute on a
shared machine hits both sides). Client and servers share the machine's cores: pinning the
servers to one core made them slower and far noisier (GIL hand-offs between two processes).

Then the hold tests: as many `PortalSock` sockets as `--hold` asks for (or as the server accepts
within `--hold-seconds`) are opened through the portal and kept open; each then echoes once, to
show it is alive. The portal for this test is started on gthread workers with `--hold-threads`
threads per worker (the recommended sizing: sockets per worker plus headroom); then again with
gevent workers (the default) and `--hold-gevent` sockets. Load starts only after every worker
has answered (a worker still booting would otherwise let the first take every connection).
Everything is on 127.0.0.1 and bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import gunicorn_workers  # noqa: E402
from tests.support.signin import sign_in  # noqa: E402
from tests.support.websockets import prime_database  # noqa: E402

MESSAGE = "x" * 64


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One gunicorn with the project's configuration; `app` overrides its wsgi_app."""

    def __init__(self, name: str, env: dict[str, str], log: Path, app: str | None = None) -> None:
        self.name = name
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        full_env = {
            **os.environ,
            "PORTAL_BASE_URL": self.base_url,
            "PORTAL_BIND": f"127.0.0.1:{port}",
            **env,
        }
        self.log = log
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        command += [app] if app else []
        command += ["--access-logfile", "/dev/null"]  # both sides alike: no per-request logging
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or a worker still loading
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not start: {log.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        return sorted(gunicorn_workers(self.process.pid))

    def worker_rss_mb(self) -> float:
        total = 0
        for pid in self.worker_pids():
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def connect(url: str, cookie: str | None, origin: str) -> tuple[object, int]:
    headers = {"Cookie": cookie} if cookie else {}
    ws = await websockets.connect(
        url, additional_headers=headers, origin=origin, open_timeout=20, max_size=2**20
    )
    pid = int(await asyncio.wait_for(ws.recv(), 20))
    return ws, pid


async def spread(url: str, cookie: str | None, origin: str, count: int, workers: int) -> list:
    """`count` sockets, as even over the workers as gunicorn lets us within 60 s."""
    per_worker = -(-count // workers)
    kept: dict[int, list] = {}
    extra = []
    deadline = time.monotonic() + 60
    while sum(map(len, kept.values())) < count and time.monotonic() < deadline:
        ws, pid = await connect(url, cookie, origin)
        if len(kept.setdefault(pid, [])) < per_worker:
            kept[pid].append(ws)
        else:
            extra.append(ws)
    if len(kept) < workers:
        raise RuntimeError(f"only {len(kept)} of {workers} workers answered within 60 s")
    await asyncio.gather(*(ws.close() for ws in extra))
    return [ws for group in kept.values() for ws in group]


async def echo_loop(ws: object, until: float, latencies: list[float]) -> int:
    count = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        await ws.send(MESSAGE)
        await ws.recv()
        latencies.append(time.perf_counter() - started)
        count += 1
    return count


async def measure(url: str, cookie: str | None, origin: str, args: argparse.Namespace) -> dict:
    sockets = await spread(url, cookie, origin, args.connections, args.workers)
    try:
        latencies: list[float] = []
        started = time.perf_counter()
        until = started + args.seconds
        counts = await asyncio.gather(*(echo_loop(ws, until, latencies) for ws in sockets))
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    latencies.sort()
    return {
        "rate": sum(counts) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def hold(server: Server, url: str, cookie: str, target: int, seconds: float) -> tuple:
    """Open up to `target` sockets within `seconds` (50 at a time): how many opened, how many
    echoed once all were open, and the workers' resident memory then."""
    origin = server.base_url
    sockets: list = []
    failures = 0
    deadline = time.monotonic() + seconds
    while len(sockets) < target and time.monotonic() < deadline and failures < 50:
        batch = min(50, target - len(sockets))
        results = await asyncio.gather(
            *(connect(url, cookie, origin) for _ in range(batch)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                failures += 1
            else:
                sockets.append(result[0])
    try:

        async def alive(ws: object) -> bool:
            await ws.send("ping")
            return await asyncio.wait_for(ws.recv(), 30) == "ping"

        rss = server.worker_rss_mb()
        answers = []
        for start in range(0, len(sockets), 100):  # 100 at a time: a liveness check, not load
            batch = sockets[start : start + 100]
            answers += await asyncio.gather(*(alive(ws) for ws in batch), return_exceptions=True)
        return len(sockets), sum(answer is True for answer in answers), rss
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def start_pair(tmp: Path, env: dict[str, str]) -> tuple[Server, Server]:
    bare = Server("bare", env, tmp / "bare.log", app="benchmarks.ws_bare_app:app")
    portal = Server("portal", env, tmp / "portal.log")
    return bare, portal


def summarise(name: str, rounds: list[dict], bare_rounds: list[dict]) -> None:
    def median(key: str) -> float:
        return statistics.median(result[key] for result in rounds)

    pairs = zip(rounds, bare_rounds, strict=True)
    ratio = statistics.median(result["rate"] / bare["rate"] for result, bare in pairs)
    print(
        f"  {name:<24} {median('rate'):>9,.0f} msg/s   p50 {median('p50'):6.2f} ms   "
        f"p99 {median('p99'):6.2f} ms   throughput ratio to bare {ratio:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hold", type=int, default=2000)
    parser.add_argument("--hold-threads", type=int, default=1100)
    parser.add_argument("--hold-seconds", type=float, default=120)
    parser.add_argument("--hold-gevent", type=int, default=5000, help="0 to skip")
    args = parser.parse_args()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, open files {hard}")

    tmp = Path(tempfile.mkdtemp(prefix="ws-bench-"))
    product = tmp / "apps" / "stable" / "echo"
    product.mkdir(parents=True)
    (product / "__init__.py").write_text("from benchmarks.ws_bare_app import app  # noqa: F401\n")
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(tmp / "instance"),
        "PORTAL_APPS_DIR": str(tmp / "apps"),
        "PORTAL_WORKERS": str(args.workers),
        "PORTAL_BROADCAST_PREFIX": f"bench-{secrets.token_hex(4)}",
    }

    prime_database(env)
    bare, portal = start_pair(tmp, env)
    try:
        cookie = "portal_session=" + sign_in(portal.base_url, "stable").cookies["portal_session"]
        cases = [
            ("bare flask-sock /ws", bare, "/ws", None),
            ("portal flask-sock /ws", portal, "/stable/echo/ws", cookie),
            ("portal PortalSock /pws", portal, "/stable/echo/pws", cookie),
        ]
        print(
            f"echo: {args.connections} sockets, {args.seconds:g} s, {args.rounds} rounds, "
            f"{args.workers} workers (gunicorn.conf.py's gevent)"
        )
        results: dict[str, list[dict]] = {name: [] for name, *_ in cases}
        for round_number in range(1, args.rounds + 1):
            for name, server, path, case_cookie in cases:
                url = "ws" + server.base_url.removeprefix("http") + path
                result = asyncio.run(measure(url, case_cookie, server.base_url, args))
                print(
                    f"  round {round_number} {name:<24} {result['rate']:>9,.0f} msg/s   "
                    f"p50 {result['p50']:6.2f} ms   p99 {result['p99']:6.2f} ms"
                )
                results[name].append(result)
        print("medians:")
        for name, *_ in cases:
            summarise(name, results[name], results[cases[0][0]])
    finally:
        bare.stop()
        portal.stop()

    gthread = {
        "PORTAL_THREADS": str(args.hold_threads),
        "GUNICORN_CMD_ARGS": "--worker-class gthread",
    }
    hold_test(tmp, {**env, **gthread}, args.hold, args)
    if args.hold_gevent:
        gevent = "--worker-class gevent --worker-connections 20000"
        gevent_env = {**env, "GUNICORN_CMD_ARGS": gevent}
        hold_test(tmp, gevent_env, args.hold_gevent, args)


def hold_test(tmp: Path, env: dict[str, str], target: int, args: argparse.Namespace) -> None:
    mode = "gthread" if "gthread" in env.get("GUNICORN_CMD_ARGS", "") else "gevent"
    server = Server(f"portal-hold-{mode}", env, tmp / f"portal-hold-{mode}.log")
    try:
        cookie = "portal_session=" + sign_in(server.base_url, "stable").cookies["portal_session"]
        url = "ws" + server.base_url.removeprefix("http") + "/stable/echo/pws"
        asyncio.run(spread(url, cookie, server.base_url, args.workers, args.workers))
        started = time.monotonic()
        opened, echoed, rss = asyncio.run(hold(server, url, cookie, target, args.hold_seconds))
        sizing = f"{env['PORTAL_THREADS']} threads" if mode == "gthread" else "greenlets"
        print(
            f"hold ({mode}, {args.workers} workers x {sizing}): {opened} of {target} sockets "
            f"open at once through the portal, {echoed} echoed; opened in "
            f"{time.monotonic() - started:.1f} s; workers' RSS {rss:,.0f} MB"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
