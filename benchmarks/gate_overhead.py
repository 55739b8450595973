"""What a product team pays for putting its app behind the portal: one product, bare and gated.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/gate_overhead.py
    .venv/bin/python benchmarks/gate_overhead.py --worker-class gthread --threads 4
    .venv/bin/python benchmarks/gate_overhead.py --databases sqlite --products 10 --rounds 5
    git worktree add ../before main~3 &&
        .venv/bin/python benchmarks/gate_overhead.py --compare-with ../before

The product is one Flask view answering 100 bytes (its worker's pid among them). It is served by
gunicorn with the project's gunicorn.conf.py, the same settings for every side:

- bare:     the product's own Flask app (`benchmarks/gate_bare_app.py`), no portal code at all;
- session:  the whole portal (`wsgi:application`) with the product in its apps folder at
            stable/bench, requested with a signed-in user's session cookie;
- bearer:   the same portal, requested with an access token (`portal token stable`).

The portal runs once per database (`--databases`: SQLite file, a MariaDB database of the
benchmark's own that is dropped at the end) and per apps folder size (`--products`: the product
plus that many minus one other Flask products across the tiers, each mounted). The bare product
is measured twice, once sent the session cookie and once the token, and each gated side is
compared with the bare side sent the same credential, so the bytes gunicorn parses are the same
and the difference is the portal's. Development mode (the built-in identity provider signs the
user in and issues the token) with production's JSON log lines and apps folder recheck.
`--compare-with` serves another checkout's portal next to this one in the same rounds, so a
change to the request path is measured against what it replaces, on the same noisy machine.

Before measuring, each side is warmed up until every worker has answered it (the pid in the body,
over fresh connections) and then under load for `--warmup` seconds. Each of `--rounds` rounds
measures every side once with `wrk -t2 -c16 -d<seconds>s --latency`, in an order rotated from
round to round; a measurement in which one worker did less than a quarter of the work (it happens
when one worker wins the race for nearly all of wrk's connections) is taken again, up to three
times. Printed per round and side: req/s, p50/p99, the server's CPU per request in
microseconds (user + system time of gunicorn's master and workers, from /proc) and each worker's
share of it; then per side the medians and the ratios to bare (median of the per-round ratios,
so a noisy neighbour in one round moves both sides alike). The exit status is 1 when any request
failed (non-2xx answers or socket errors).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auth.hosts import PLAIN_COOKIE_NAME as COOKIE_NAME  # noqa: E402

MEASUREMENT_ATTEMPTS = 3
FAIR_WORKER_SHARE = 0.25
from benchmarks.load_benchmark import (  # noqa: E402
    Database,
    Server,
    log,
    print_rounds,
    process_cpu_seconds,
    run_within,
)
from benchmarks.wrk import run_wrk  # noqa: E402
from tests.support.signin import sign_in  # noqa: E402

PRODUCT = '''"""The benchmark's product: one view, 100 bytes, naming the worker that answered."""

import os

from flask import Flask

app = Flask(__name__)
BODY = (f"bench {os.getpid()} ".ljust(99, ".") + "\\n").encode()


@app.get("/")
def index():
    return BODY, 200, {"Content-Type": "text/plain"}
'''
OTHER_PRODUCT = """from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "another product"
"""
OTHER_TIERS = ("stable", "ea", "devel")
GATED_PATH = "/stable/bench/"


@dataclass
class Side:
    """One thing measured: a server, the path and headers every request of it carries, and the
    bare side it is compared with (the one sending the same credential bytes)."""

    name: str
    group: str  # the database and apps folder size, or "bare"
    server: Server
    path: str
    headers: tuple[str, ...]
    baseline: str = ""


def make_apps(folder: Path, products: int) -> Path:
    """An apps folder holding the benchmark product and `products - 1` others."""
    bench = folder / "stable" / "bench"
    bench.mkdir(parents=True)
    (bench / "__init__.py").write_text(PRODUCT)
    for number in range(1, products):
        other = folder / OTHER_TIERS[number % len(OTHER_TIERS)] / f"other{number:04d}"
        other.mkdir(parents=True)
        (other / "__init__.py").write_text(OTHER_PRODUCT)
    return folder


def portal_token(env: dict[str, str], server: Server, tier: str) -> str:
    """An access token of the portal's API for a demo user, from its own identity provider."""
    command = [str(Path(sys.executable).parent / "portal"), "token", tier]
    full_env = {**os.environ, **env, "PORTAL_BASE_URL": server.base_url}
    done = subprocess.run(
        command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"portal token failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def check_gate(portal: Server, cookie: str, token: str) -> None:
    """The portal answers the product to both credentials and sends anonymous callers away."""
    url = portal.base_url + GATED_PATH
    with_cookie = requests.get(url, cookies={COOKIE_NAME: cookie}, timeout=10)
    with_token = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    anonymous = requests.get(url, allow_redirects=False, timeout=10)
    statuses = (with_cookie.status_code, with_token.status_code, anonymous.status_code)
    if statuses != (200, 200, 302) or not with_cookie.text.startswith("bench "):
        raise RuntimeError(f"{portal.name}: unexpected answers {statuses}: {with_cookie.text!r}")


def every_worker_answers(side: Side) -> None:
    """Fresh connections until each worker's pid has come back in a body."""
    wanted = set(side.server.worker_pids())
    seen: set[int] = set()
    headers = dict(header.split(": ", 1) for header in side.headers)
    deadline = time.monotonic() + 60
    while seen < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{side.name}: only workers {seen} of {wanted} answered")
        body = requests.get(
            side.server.base_url + side.path,
            headers={**headers, "Connection": "close"},
            timeout=10,
        ).text
        seen.add(int(body.split()[1]))


def wrk(side: Side, args: argparse.Namespace, seconds: float) -> dict:
    """One wrk run against the side, with its CPU per worker."""
    pids = [side.server.process.pid, *side.server.worker_pids()]
    before = {pid: process_cpu_seconds([pid]) for pid in pids}
    result = run_wrk(
        side.name,
        side.server.base_url + side.path,
        side.headers,
        threads=args.client_threads,
        connections=args.connections,
        seconds=seconds,
    )
    used = {pid: process_cpu_seconds([pid]) - before[pid] for pid in pids}
    total_cpu = sum(used.values())
    return {
        "side": side.name,
        "group": side.group,
        "baseline": side.baseline,
        **result,
        "server_us": total_cpu / max(result["requests"], 1) * 1e6,
        "worker_shares": [used[pid] / total_cpu if total_cpu else 0 for pid in pids[1:]],
    }


def balanced_wrk(side: Side, args: argparse.Namespace) -> dict:
    """A measurement in which every worker did a fair part of the work.

    gunicorn's workers accept connections as they race for them, and once in a while one worker
    takes nearly all of wrk's connections; such a run measures one worker, not the server.
    """
    for _ in range(MEASUREMENT_ATTEMPTS - 1):
        result = wrk(side, args, args.seconds)
        if min(result["worker_shares"], default=1) >= FAIR_WORKER_SHARE:
            return result
        log(f"{side.name}: workers' shares {result['worker_shares']}, measuring again")
    return wrk(side, args, args.seconds)


def warm_up(side: Side, args: argparse.Namespace) -> None:
    every_worker_answers(side)
    result = wrk(side, args, args.warmup)
    if result["errors"]:
        raise RuntimeError(f"{side.name}: {result['errors']} failed requests while warming up")


def row(number: int, result: dict) -> str:
    shares = "/".join(f"{share:.0%}" for share in result["worker_shares"])
    return (
        f"{number:>5}  {result['group']:<22} {result['side']:<13} {result['rate']:>8,.0f}"
        f" {result['p50']:>7.2f} {result['p99']:>7.2f} {result['server_us']:>8,.0f}"
        f" {result['errors']:>6}  {shares}"
    )


HEADER = (
    "round  group                  side             req/s  p50 ms  p99 ms CPU us/req errors"
    "  workers"
)


def summary(results: list[tuple[int, dict]]) -> list[str]:
    """Medians per side, and each gated side's ratios to its bare side taken round by round (a
    noisy neighbour in one round moves both alike)."""
    by_round: dict[int, dict[tuple[str, str], dict]] = {}
    for number, result in results:
        by_round.setdefault(number, {})[(result["group"], result["side"])] = result
    lines = ["  side                                req/s  ratio   p50 ms  p99 ms  p99 ratio"
             "  CPU us/req  CPU ratio"]  # fmt: skip
    for key in dict.fromkeys((r["group"], r["side"]) for _, r in results):
        runs = [sides for sides in by_round.values() if key in sides]
        baseline = ("bare", runs[0][key]["baseline"]) if runs[0][key]["baseline"] else key
        pairs = [(sides[key], sides[baseline]) for sides in runs if baseline in sides]

        def median(field: str, pairs: list = pairs) -> float:
            return statistics.median(side[field] for side, _ in pairs)

        def ratio(field: str, pairs: list = pairs) -> float:
            return statistics.median(side[field] / bare[field] for side, bare in pairs)

        label = f"{key[0]}: {key[1]}" if key[0] != "bare" else key[1]
        lines.append(
            f"  {label:<33} {median('rate'):>8,.0f}  {ratio('rate'):.3f}  {median('p50'):>7.2f}"
            f" {median('p99'):>7.2f}  {ratio('p99'):>9.2f}  {median('server_us'):>10,.0f}"
            f"  {ratio('server_us'):>9.2f}"
        )
    return lines


def start_portal(
    group: str, env: dict[str, str], temp: Path, root: Path = ROOT
) -> tuple[Server, str, str]:
    """A portal (of the checkout at `root`), a signed-in stable user's cookie and a stable
    user's access token."""
    log_path = temp / (re.sub(r"\W+", "-", group) + ".log")
    portal = Server(group, env, log_path, "portal ready:", root=root)
    cookie = sign_in(portal.base_url, "stable").cookies[COOKIE_NAME]
    token = portal_token(env, portal, "stable")
    check_gate(portal, cookie, token)
    log(f"{group}: portal ready at {portal.base_url}, signed in, token issued")
    return portal, cookie, token


def run(args: argparse.Namespace, temp: Path) -> int:
    folders = {n: make_apps(temp / f"apps-{n}", n) for n in args.products}
    base_env = {
        "PORTAL_ENV": "development",
        "PORTAL_WORKERS": str(args.workers),
        "PORTAL_THREADS": str(args.threads),
        "PORTAL_LOGIN_RATE_LIMIT": "",
        # Production's log format and apps folder recheck (development rescans every second).
        "PORTAL_LOG_FORMAT": "json",
        "PORTAL_APPS_RECHECK_SECONDS": "10",
    }
    if args.worker_class != "gevent":
        base_env["GUNICORN_CMD_ARGS"] = f"--worker-class {args.worker_class}"
    servers: list[Server] = []
    databases: list[Database] = []
    sides: list[Side] = []
    try:
        bare_instance = temp / "instance-bare"
        bare_instance.mkdir()
        bare_env = {
            **base_env,
            "DATABASE_URL": f"sqlite:///{bare_instance / 'unused.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(bare_instance),
            "PORTAL_APPS_DIR": str(folders[min(folders)]),
        }
        bare = Server(
            "bare",
            bare_env,
            temp / "bare.log",
            "bare product ready:",
            app="benchmarks.gate_bare_app:application",
            ready_path="/",
        )
        servers.append(bare)
        checkouts = [("", ROOT)]
        if args.compare_with:
            checkouts.append((f" ({args.compare_with.name})", args.compare_with))
        for kind in args.databases:
            for products, apps in folders.items():
                group = f"{kind}, {products} products"
                for label, root in checkouts:
                    name = f"{group}{label}"
                    instance = temp / ("instance-" + re.sub(r"\W+", "-", name))
                    instance.mkdir()
                    if kind == "mariadb":
                        databases.append(Database(args.mariadb))
                        url = databases[-1].url
                    else:
                        url = f"sqlite:///{instance / 'portal.sqlite3'}"
                    env = {
                        **base_env,
                        "DATABASE_URL": url,
                        "PORTAL_INSTANCE_PATH": str(instance),
                        "PORTAL_APPS_DIR": str(apps),
                    }
                    portal, cookie, token = start_portal(name, env, temp, root)
                    servers.append(portal)
                    credentials = {
                        "session": f"Cookie: {COOKIE_NAME}={cookie}",
                        "bearer": f"Authorization: Bearer {token}",
                    }
                    if not sides:
                        sides += [
                            Side(f"bare, {method}", "bare", bare, "/", (header,))
                            for method, header in credentials.items()
                        ]
                    sides += [
                        Side(method + label, group, portal, GATED_PATH, (h,), f"bare, {method}")
                        for method, h in credentials.items()
                    ]
        for side in sides:
            log(f"warming up {side.group} {side.name}")
            warm_up(side, args)
        results: list[tuple[int, dict]] = []
        print(HEADER, file=sys.stderr)
        for number in range(1, args.rounds + 1):
            shift = (number - 1) % len(sides)
            for side in sides[shift:] + sides[:shift]:
                result = balanced_wrk(side, args)
                results.append((number, result))
                print(row(number, result), file=sys.stderr, flush=True)
        title = (
            f"Gate overhead: gunicorn (gunicorn.conf.py, {args.worker_class}, {args.workers} "
            f"workers{f' x {args.threads} threads' if args.worker_class == 'gthread' else ''}); "
            f"wrk -t{args.client_threads} -c{args.connections} -d{args.seconds:g}s after "
            f"{args.warmup:g} s warm-up; {args.rounds} rounds, order rotated; CPython "
            f"{platform.python_version()}; {os.cpu_count()} cores shared by client and servers"
        )
        heading = "Medians over rounds; ratios to the bare product sent the same credential:"
        errors = print_rounds(title, HEADER, results, row, heading, summary(results))
        return 1 if errors else 0
    finally:
        for server in reversed(servers):
            server.stop()
        for database in databases:
            database.drop()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every side (default 3)")
    parser.add_argument("--seconds", type=float, default=8, help="measured seconds per side")
    parser.add_argument("--warmup", type=float, default=3, help="seconds under load before")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--worker-class", default="gevent", choices=("gevent", "gthread"),
        help="gunicorn worker class (default: the project's, gevent)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--client-threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--databases", type=lambda s: s.split(","), default=["sqlite", "mariadb"],
        help="comma-separated: sqlite, mariadb (default both)",
    )  # fmt: skip
    parser.add_argument(
        "--products", type=lambda s: [int(n) for n in s.split(",")], default=[10, 1000],
        help="comma-separated apps folder sizes to mount (default 10,1000)",
    )  # fmt: skip
    parser.add_argument(
        "--compare-with", type=Path, metavar="CHECKOUT",
        help="another checkout of the portal (say, `git worktree add ../before main`) to serve "
        "and measure next to this one, in the same rounds",
    )  # fmt: skip
    parser.add_argument(
        "--mariadb", default="mysql+pymysql://root@127.0.0.1:3306",
        help="MariaDB server URL; the benchmark creates and drops a database of its own",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not set(args.databases) <= {"sqlite", "mariadb"} or min(args.products) < 1:
        parser.error("databases are sqlite and/or mariadb; products at least 1")
    if shutil.which("wrk") is None:
        parser.error("wrk is needed (apt-get install -y wrk)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    checkouts = 2 if args.compare_with else 1
    sides = len(args.databases) * len(args.products) * 2 * checkouts + 2
    budget = 600 + sides * (args.rounds * (args.seconds + 5) + args.warmup + 60)
    return run_within(budget, "portal-gate-", partial(run, args))


if __name__ == "__main__":
    sys.exit(main())
