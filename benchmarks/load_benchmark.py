"""Load benchmark: signed-in users browsing the sample products, through the Gate and without it.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/load_benchmark.py
    .venv/bin/python benchmarks/load_benchmark.py --users 50 --seconds 30 --rounds 2

Two gunicorns run side by side on 127.0.0.1, both with the project's gunicorn.conf.py and the
same environment (workers, threads, keep-alive, access log):

- portal:  the whole site (`wsgi:application`) on a database of its own, created on the MariaDB
  server at `--mariadb` (root on 127.0.0.1:3306 by default) and dropped at the end whatever
  happens;
- no Gate: `benchmarks/load_bare_app.py`, the same product apps bound the same way behind the
  same outer layer (`RequestContext`), but with a fixed identity put into the environ instead of
  the Gate.

`--users` users are made in the development identity provider (half stable, 30% ea, 20% devel) and
each signs in through the real flow (portal -> provider's form -> callback) before any load. Each
user then browses, back to back and without think time, the products its tier opens: pages, static
files and JSON routes of stable/hello, stable/disagg, ea/disagg, ea/forecast, ea/live and
devel/inspector. Every request carries the user's session cookie, to both servers, so both receive
the same bytes; on the portal the Gate resolves the session (its identity cache, then MariaDB) and
checks the tier on every request.

The load generator is an asyncio HTTP/1.1 client in this process: one keep-alive connection per
user (closed loop), requests written as prebuilt bytes. Connections are opened only after every
worker has logged that its app is loaded and has answered, and are spread evenly over the workers
(each connection's worker is read from /proc), so the figure is not one worker's. Each of
`--rounds` rounds measures both servers in turn (the order alternates between rounds), each for
`--warmup` seconds unrecorded and then `--seconds` recorded. Printed: per round and side the
request rate, latency p50/p90/p99, errors (any answer outside 2xx/3xx, or a failed connection,
each listed), and the CPU used by the server and by this client; then the medians and the Gate's
overhead as ratios (median of the per-round ratios), and whether the client could be the
bottleneck. The exit status is 1 when any request failed. Everything runs on loopback and is
bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auth.hosts import PLAIN_COOKIE_NAME as COOKIE_NAME  # noqa: E402
from auth.tiers import Tier  # noqa: E402
from tests.support.processes import gunicorn_workers  # noqa: E402
from tests.support.signin import sign_in  # noqa: E402

PASSWORD = "load-benchmark-password"  # a throwaway user in a throwaway provider
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30.0
TICKS = os.sysconf("SC_CLK_TCK")

# (tier the product needs, path, Accept header, weight): what a user of that tier may pick.
HTML = "text/html,application/xhtml+xml,*/*;q=0.8"
JSON = "application/json"
ANY = "*/*"
CATALOGUE: tuple[tuple[Tier, str, str, int], ...] = (
    (Tier.STABLE, "/stable/hello/", HTML, 3),
    (Tier.STABLE, "/stable/hello/static/hello.css", ANY, 2),
    (Tier.STABLE, "/stable/hello/static/hello.js", ANY, 2),
    (Tier.STABLE, "/stable/hello/api/greeting", JSON, 3),
    (Tier.STABLE, "/stable/disagg/", HTML, 2),
    (Tier.STABLE, "/stable/disagg/api/split?total=100&weights=1,2,3,4", JSON, 3),
    (Tier.EA, "/ea/disagg/", HTML, 2),
    (Tier.EA, "/ea/disagg/api/split?total=100&weights=1,2,3&labels=a,b,c", JSON, 3),
    (Tier.EA, "/ea/forecast/", JSON, 1),
    (Tier.EA, "/ea/forecast/api/forecast?values=1,2,3,4,5&window=2&steps=3", JSON, 3),
    (Tier.EA, "/ea/live/", HTML, 2),
    (Tier.EA, "/ea/live/static/live.css", ANY, 1),
    (Tier.EA, "/ea/live/static/live.js", ANY, 1),
    (Tier.DEVEL, "/devel/inspector/", HTML, 2),
    (Tier.DEVEL, "/devel/inspector/deeper/path?x=1", HTML, 1),
)
TIER_SHARES = ((Tier.STABLE, 0.5), (Tier.EA, 0.3), (Tier.DEVEL, 0.2))
ROLES = {Tier.STABLE: [], Tier.EA: ["ea"], Tier.DEVEL: ["devel"]}


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# -- servers -------------------------------------------------------------------------------------


class Server:
    """One gunicorn with the configuration of the checkout at `root` (this one unless another
    version is being compared); `app` overrides its wsgi_app. Ready once
    `ready_path` answers (below 500) and every worker has logged `marker` (its app is loaded)."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_path: Path,
        marker: str,
        app: str | None = None,
        ready_path: str = "/healthz",
        root: Path = ROOT,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.workers = int(env["PORTAL_WORKERS"])
        self.log_path = log_path
        self.ready_path = ready_path
        full_env = {
            **os.environ,
            **env,
            "PORTAL_BASE_URL": self.base_url,
            "PORTAL_BIND": f"{HOST}:{self.port}",
        }
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        command += [app] if app else []
        with open(log_path, "wb") as out:
            self.process = subprocess.Popen(
                command, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_ready(marker, seconds=120)

    def _wait_ready(self, marker: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            loaded = self.log_path.read_text(errors="replace").count(marker)
            if loaded >= self.workers and len(self.worker_pids()) == self.workers:
                try:
                    if requests.get(self.base_url + self.ready_path, timeout=2).status_code < 500:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready within {seconds:.0f} s: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def worker_pids(self) -> list[int]:
        return sorted(gunicorn_workers(self.process.pid))

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        return process_cpu_seconds([self.process.pid, *self.worker_pids()])

    def connection_owners(self) -> dict[int, int]:
        """Client port -> worker pid, for every connection a worker holds on this server."""
        peers: dict[str, int] = {}
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.split(":")[1], 16) == self.port and remote != "00000000:0000":
                    peers[inode] = int(remote.split(":")[1], 16)
        owners = {}
        for pid in self.worker_pids():
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in peers:
                    owners[peers[target[8:-1]]] = pid
        return owners

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- database and users --------------------------------------------------------------------------


class Database:
    """A database of the benchmark's own on the MariaDB server; `drop` removes it."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        self.text = text
        self.name = f"portal_load_{secrets.token_hex(4)}"
        base = make_url(server_url).set(database=None)
        self.admin = create_engine(base)
        with self.admin.begin() as connection:
            self.version = connection.execute(text("SELECT VERSION()")).scalar()
            connection.execute(
                text(
                    f"CREATE DATABASE `{self.name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
        url = base.set(database=self.name, query={"charset": "utf8mb4"})
        self.url = url.render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.begin() as connection:
            connection.execute(self.text(f"DROP DATABASE IF EXISTS `{self.name}`"))
        self.admin.dispose()


@dataclass
class User:
    email: str
    tier: Tier
    cookie: str = ""
    paths: list[tuple[str, str]] = field(default_factory=list)  # (path, accept)
    weights: list[int] = field(default_factory=list)


def plan_users(count: int) -> list[User]:
    tiers: list[Tier] = []
    for tier, share in TIER_SHARES[1:]:
        tiers += [tier] * round(count * share)
    tiers = [Tier.STABLE] * (count - len(tiers)) + tiers
    users = []
    for number, tier in enumerate(tiers[:count]):
        user = User(f"load-user-{number:04d}@bench.example.org", tier)
        for needed, path, accept, weight in CATALOGUE:
            if tier.opens(needed):
                user.paths.append((path, accept))
                user.weights.append(weight)
        users.append(user)
    return users


def make_provider_users(database_url: str, users: list[User]) -> None:
    """The users exist in the development provider before it starts (its SQLite file)."""
    from devidp import DevIdpStore

    store = DevIdpStore(database_url)
    try:
        store.seed_demo_users()
        for number, user in enumerate(users):
            store.add_user(user.email, PASSWORD, ROLES[user.tier], f"Load User {number}")
    finally:
        store.engine.dispose()


def sign_in_all(portal: Server, users: list[User]) -> float:
    """Each user signs in through the real flow; checks the portal sees the right tier."""

    def one(user: User) -> None:
        http = sign_in(portal.base_url, user.email, PASSWORD)
        me = http.get(portal.base_url + "/api/me", timeout=10).json()
        if me.get("tier") != user.tier.value:
            raise RuntimeError(f"{user.email} signed in as {me.get('tier')}, not {user.tier}")
        user.cookie = http.cookies[COOKIE_NAME]
        http.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, users))
    return time.perf_counter() - started


def gate_is_at_work(portal: Server, bare: Server, users: list[User]) -> str:
    """A stable user is refused an ea product by the portal (403), not by the bare server."""
    stable = next(u for u in users if u.tier is Tier.STABLE)
    cookies = {COOKIE_NAME: stable.cookie}
    path = "/ea/forecast/"
    statuses = []
    for server in (portal, bare):
        answer = requests.get(server.base_url + path, cookies=cookies, timeout=10)
        statuses.append(answer.status_code)
    anonymous = requests.get(portal.base_url + path, allow_redirects=False, timeout=10)
    if statuses[0] != 403 or statuses[1] != 200 or anonymous.status_code != 302:
        raise RuntimeError(f"unexpected Gate check: {statuses}, anonymous {anonymous.status_code}")
    return (
        f"Gate check: a stable user on {path} gets 403 from the portal and 200 without the Gate; "
        f"anonymous gets {anonymous.status_code} from the portal"
    )


# -- the load generator --------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; `request` sends prebuilt bytes, reads the answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.port = writer.get_extra_info("sockname")[1]

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, data: bytes) -> tuple[int, bool]:
        """(status, whether the server closes the connection after it)."""
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        chunked = close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    break
                await self.reader.readexactly(size + 2)
        elif length >= 0:
            await self.reader.readexactly(length)
        else:
            await self.reader.read()
            close = True
        return status, close

    def close(self) -> None:
        self.writer.close()


def request_bytes(server: Server, user: User) -> list[bytes]:
    return [
        (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
            f"User-Agent: portal-load-benchmark\r\nAccept: {accept}\r\n"
            f"Cookie: {COOKIE_NAME}={user.cookie}\r\n\r\n"
        ).encode()
        for path, accept in user.paths
    ]


async def healthz(connection: Connection, port: int) -> None:
    data = f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    status, _ = await connection.request(data)
    if status != 200:
        raise RuntimeError(f"/healthz answered {status}")


async def spread(server: Server, count: int) -> tuple[list[Connection], dict[int, int]]:
    """`count` connections, each having answered once, as even over the workers as gunicorn lets
    us within 30 s; every worker must hold some. Returns them and the count per worker pid."""
    per_worker = -(-count // server.workers)
    kept: dict[int, list[Connection]] = {}
    deadline = time.monotonic() + 30
    pending: list[Connection] = []
    while True:
        if time.monotonic() > deadline + 30:
            raise RuntimeError(f"{server.name}: could not tell which worker holds a connection")
        needed = count - sum(map(len, kept.values())) - len(pending)
        fresh = await asyncio.gather(*(Connection.open(server.port) for _ in range(needed)))
        await asyncio.gather(*(healthz(c, server.port) for c in fresh))
        pending += fresh
        owners = server.connection_owners()
        surplus = []
        for connection in pending:
            pid = owners.get(connection.port)
            group = kept.setdefault(pid, []) if pid else None
            if group is not None and (len(group) < per_worker or time.monotonic() > deadline):
                group.append(connection)
            else:
                surplus.append(connection)
        pending = []
        for connection in surplus:
            connection.close()
        if not surplus:
            break
    if len(kept) < server.workers:
        raise RuntimeError(f"{server.name}: only {len(kept)} of {server.workers} workers answered")
    connections = [c for group in kept.values() for c in group]
    return connections, {pid: len(group) for pid, group in sorted(kept.items())}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # (path, status or exception) -> count
    reconnects: int = 0
    last_done: float = 0.0


async def browse(
    server: Server,
    connection: Connection,
    user: User,
    seed: int,
    recording: float,
    stop: float,
    tally: Tally,
) -> None:
    """One user, back to back, until `stop`; answers to requests started after `recording`
    are counted."""
    rng = random.Random(seed)
    prepared = request_bytes(server, user)
    paths = [path for path, _ in user.paths]
    indices = list(range(len(prepared)))
    clock = time.perf_counter
    try:
        while True:
            started = clock()
            if started >= stop:
                return
            index = rng.choices(indices, user.weights)[0]
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status, close = await connection.request(prepared[index])
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError) as error:  # fmt: skip
                if started >= recording:
                    tally.errors[(paths[index], type(error).__name__)] += 1
                connection.close()
                connection = await Connection.open(server.port)
                tally.reconnects += 1
                continue
            done = clock()
            if started >= recording:
                tally.latencies.append(done - started)
                tally.statuses[status] += 1
                tally.last_done = max(tally.last_done, done)
                if not 200 <= status < 400:
                    tally.errors[(paths[index], str(status))] += 1
            if close:
                connection.close()
                connection = await Connection.open(server.port)
                tally.reconnects += 1
    finally:
        connection.close()


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def database_pids() -> list[int]:
    """The MariaDB server's process on this machine, if it runs here (its CPU is reported)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() in {"mariadbd", "mysqld"}:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


async def measure(server: Server, users: list[User], args: argparse.Namespace, seed: int) -> dict:
    connections, per_worker = await spread(server, len(users))
    tally = Tally()
    now = time.perf_counter()
    recording = now + args.warmup
    stop = recording + args.seconds
    tasks = [
        asyncio.create_task(browse(server, c, u, seed + i, recording, stop, tally))
        for i, (c, u) in enumerate(zip(connections, users, strict=True))
    ]
    await asyncio.sleep(max(0.0, recording - time.perf_counter()))
    database = database_pids()
    server_cpu, client_cpu, machine = server.cpu_seconds(), time.process_time(), machine_busy()
    database_cpu = process_cpu_seconds(database)
    await asyncio.sleep(max(0.0, stop - time.perf_counter()))
    server_cpu = server.cpu_seconds() - server_cpu
    # A multithreaded process's scaled CPU times can step back a tick between two reads.
    database_cpu = max(0.0, process_cpu_seconds(database) - database_cpu)
    client_cpu = time.process_time() - client_cpu
    busy, total = (after - before for after, before in zip(machine_busy(), machine, strict=True))
    await asyncio.gather(*tasks)
    elapsed = max(stop, tally.last_done) - recording
    count = len(tally.latencies)
    latencies = sorted(tally.latencies)

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(count * p))] * 1000 if count else float("nan")

    return {
        "side": server.name,
        "requests": count,
        "rate": count / elapsed,
        "p50": percentile(0.50),
        "p90": percentile(0.90),
        "p99": percentile(0.99),
        "errors": sum(tally.errors.values()),
        "error_list": tally.errors,
        "statuses": tally.statuses,
        "reconnects": tally.reconnects,
        "server_cpu": server_cpu / args.seconds,  # cores
        "client_cpu": client_cpu / args.seconds,  # cores
        "database_cpu": database_cpu / args.seconds,  # cores
        "machine_busy": busy / total * os.cpu_count() if total else float("nan"),  # cores
        "server_us": server_cpu / count * 1e6 if count else float("nan"),
        "client_us": client_cpu / count * 1e6 if count else float("nan"),
        "per_worker": per_worker,
    }


# -- report --------------------------------------------------------------------------------------


def row(round_number: int | str, result: dict) -> str:
    workers = "/".join(str(n) for n in result["per_worker"].values())
    return (
        f"{round_number!s:>5}  {result['side']:<8} {result['requests']:>9,} {result['rate']:>8,.0f}"
        f" {result['p50']:>7.1f} {result['p90']:>7.1f} {result['p99']:>7.1f} {result['errors']:>6}"
        f" {result['server_cpu']:>9.2f} {result['database_cpu']:>8.2f} {result['client_cpu']:>9.2f}"
        f" {result['machine_busy']:>8.2f}"
        f"  {workers}"
    )


def report(args: argparse.Namespace, results: list[tuple[int, dict]], facts: list[str]) -> int:
    print()
    for fact in facts:
        print(fact)
    print()
    print(
        "round  side      requests    req/s  p50 ms  p90 ms  p99 ms errors"
        "  srv cores  db cores  cli cores  machine  conns/worker"
    )
    for number, result in results:
        print(row(number, result))
    sides: dict[str, list[dict]] = {}
    for _, result in results:
        sides.setdefault(result["side"], []).append(result)
    portal, bare = sides["portal"], sides["no Gate"]
    print()
    print("Medians over rounds:")
    for name, runs in (("portal", portal), ("no Gate", bare)):
        print(
            f"  {name:<8} {statistics.median(r['rate'] for r in runs):>8,.0f} req/s"
            f"  p50 {statistics.median(r['p50'] for r in runs):.1f} ms"
            f"  p90 {statistics.median(r['p90'] for r in runs):.1f} ms"
            f"  p99 {statistics.median(r['p99'] for r in runs):.1f} ms"
            f"  server CPU {statistics.median(r['server_us'] for r in runs):,.0f} us/request"
        )

    def ratio(key: str) -> float:
        return statistics.median(p[key] / b[key] for p, b in zip(portal, bare, strict=True))

    throughput = ratio("rate")
    print()
    print("Gate overhead (portal / no Gate, median of per-round ratios):")
    print(
        f"  throughput {throughput:.2f}x (the Gate costs {(1 - throughput) * 100:.0f}% of the "
        f"request rate); latency p50 {ratio('p50'):.2f}x, p90 {ratio('p90'):.2f}x, "
        f"p99 {ratio('p99'):.2f}x"
    )
    extra = statistics.median(
        p["server_us"] - b["server_us"] for p, b in zip(portal, bare, strict=True)
    )
    print(
        f"  server CPU per request {ratio('server_us'):.2f}x "
        f"(+{extra:,.0f} us per request for the Gate)"
    )
    errors = sum(r["errors"] for _, r in results)
    statuses: Counter = Counter()
    reconnects = 0
    listed: Counter = Counter()
    for _, result in results:
        statuses.update(result["statuses"])
        reconnects += result["reconnects"]
        listed.update({(result["side"], *k): v for k, v in result["error_list"].items()})
    print()
    shown = ", ".join(f"{code}: {n:,}" for code, n in sorted(statuses.items()))
    print(f"Errors: {errors} (answers outside 2xx/3xx or failed requests); statuses {shown}; "
          f"reconnects {reconnects}")  # fmt: skip
    for (side, path, what), n in listed.most_common(20):
        print(f"  {side}: {path} -> {what} x{n}")
    client = max(r["client_cpu"] for _, r in results)
    busiest = max(r["machine_busy"] for _, r in results)
    share = statistics.median(r["client_us"] / r["server_us"] for _, r in results)
    others = max(
        r["machine_busy"] - r["server_cpu"] - r["database_cpu"] - r["client_cpu"]
        for _, r in results
    )
    verdict = (
        "the client may be the bottleneck"
        if client > 0.8
        else "the client is not the bottleneck (it never neared one full core)"
    )
    print()
    print(
        f"Client: at most {client:.2f} of a core; it spends {share:.2f}x the server's CPU per "
        f"request; the machine was at most {busiest:.2f} of {os.cpu_count()} cores busy: {verdict}."
    )
    print(
        f"Other processes on the machine (not this benchmark's) used up to {others:.2f} cores "
        "during a measurement: on a shared machine, compare the ratios rather than the rates."
    )
    return 1 if errors else 0


def machine_facts(args: argparse.Namespace, users: list[User], version: str) -> list[str]:
    tiers = Counter(u.tier.value for u in users)
    mix = ", ".join(f"{tiers[t.value]} {t.value}" for t, _ in TIER_SHARES)
    return [
        f"Load benchmark: {len(users)} signed-in users ({mix}), closed loop, one keep-alive "
        f"connection each; {args.warmup:g} s warm-up + {args.seconds:g} s measured per side, "
        f"{args.rounds} round(s), order alternating",
        f"Servers: gunicorn (gunicorn.conf.py, gevent) {args.workers} workers each side; "
        f"MariaDB {version}; CPython {platform.python_version()}; "
        f"{os.cpu_count()} cores; client and servers share the machine",
    ]


# -- main ----------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="signed-in users (default 50)")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per side")
    parser.add_argument("--warmup", type=float, default=5, help="unrecorded seconds before each")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both sides (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per side")
    parser.add_argument(
        "--mariadb",
        default="mysql+pymysql://root@127.0.0.1:3306",
        help="MariaDB server URL; the benchmark creates and drops a database of its own",
    )
    args = parser.parse_args(argv)
    if args.users < 2 or args.seconds <= 0 or args.rounds < 1 or args.workers < 1:
        parser.error("need at least 2 users, a positive duration, 1 round and 1 worker")
    return args


def run(args: argparse.Namespace, temp: Path) -> int:
    users = plan_users(args.users)
    instance = temp / "instance"
    instance.mkdir()
    idp_database = f"sqlite:///{instance / 'devidp.sqlite3'}"
    make_provider_users(idp_database, users)
    log(f"{len(users)} users made in the development identity provider")
    database = Database(args.mariadb)
    servers: list[Server] = []
    try:
        env = {
            "DATABASE_URL": database.url,
            "DEV_IDP_DATABASE_URL": idp_database,
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_WORKERS": str(args.workers),
            "PORTAL_LOGIN_RATE_LIMIT": "",
            "PORTAL_ENV": "development",
        }
        servers.append(Server("portal", env, temp / "portal.log", "portal ready:"))
        log(f"portal ready at {servers[0].base_url} (database {database.name})")
        servers.append(
            Server(
                "no Gate",
                env,
                temp / "bare.log",
                "bare products ready:",
                app="benchmarks.load_bare_app:application",
            )
        )
        log(f"no-Gate server ready at {servers[1].base_url}")
        portal, bare = servers
        took = sign_in_all(portal, users)
        log(f"{len(users)} users signed in through the provider in {took:.1f} s")
        facts = [
            *machine_facts(args, users, str(database.version)),
            gate_is_at_work(portal, bare, users),
        ]
        log(facts[-1])
        results = []
        for number in range(1, args.rounds + 1):
            order = (portal, bare) if number % 2 else (bare, portal)
            for server in order:
                log(f"round {number}: {server.name}, {args.warmup:g} + {args.seconds:g} s")
                result = asyncio.run(measure(server, users, args, seed=number * 1000))
                results.append((number, result))
                print(row(number, result), file=sys.stderr, flush=True)
        return report(args, results, facts)
    finally:
        for server in reversed(servers):
            server.stop()
        database.drop()
        log(f"servers stopped, database {database.name} dropped")


def print_rounds(
    title: str,
    header: str,
    results: list[tuple[int, dict]],
    row: Callable[[int, dict], str],
    heading: str,
    medians: list[str],
) -> int:
    """The run's description, each round's row and the medians, on stdout (progress goes to
    stderr); the number of failed requests, which makes the exit status."""
    print()
    print(title)
    print()
    print(header)
    for number, result in results:
        print(row(number, result))
    print()
    print(heading)
    print("\n".join(medians))
    errors = sum(result["errors"] for _, result in results)
    print(f"\nFailed requests: {errors}")
    return errors


def run_within(budget: float, prefix: str, work: Callable[[Path], int]) -> int:
    """`work` in a temporary folder, stopped (and its servers with it, by their `finally`) when
    it runs past `budget` seconds or the benchmark is terminated: never a stray gunicorn."""

    def give_up(signum: int, frame: object) -> None:
        raise TimeoutError(f"the benchmark ran past its {budget:.0f} s budget")

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGALRM, give_up)
    signal.signal(signal.SIGTERM, terminate)
    signal.alarm(int(budget))
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as temp:
            return work(Path(temp))
    finally:
        signal.alarm(0)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    budget = 300 + args.rounds * 2 * (args.seconds + args.warmup + 90)
    return run_within(budget, "portal-load-", partial(run, args))


if __name__ == "__main__":
    sys.exit(main())
