"""What fronting a product server costs: reached directly, through the portal's proxy, through
nginx alone and through nginx asking the portal first (forward auth); then 500 websockets
through the portal's proxy at once.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/proxy_benchmark.py
    .venv/bin/python benchmarks/proxy_benchmark.py --rounds 5 --seconds 10 --sockets 500
    .venv/bin/python benchmarks/proxy_benchmark.py --upstream python --sockets 0

The product is a server of its own: Node's `http` module answering 100 bytes to every request
(one process, so it is never the portal's bottleneck on two cores), known to the portal as the
upstream product ea/dash (`upstream = "http://127.0.0.1:<port>"` in its product.toml);
`--upstream python` makes it a bare WSGI app on gunicorn (one gevent worker), the shape of a
Python product. Sides, all sent the same signed-in ea user's session cookie:

- direct:        the Node server itself;
- portal proxy:  gunicorn (gunicorn.conf.py, 2 gevent workers) serving the whole portal, the
                 request going through the Gate and the proxy to Node;
- nginx:         deploy/nginx-forward-auth.conf with its `auth_request` line removed: nginx
                 (one worker) proxying /ea/dash/ to Node;
- nginx + auth:  deploy/nginx-forward-auth.conf as shipped: nginx asks the portal's /auth/check
                 (cached for the identity cache's 5 s, keyed by the session cookie), then
                 proxies to Node;
- nginx + auth, no JWT:  the same without passing X-Portal-Identity on (an upstream only
                 nginx can reach may do without it): what the token's 700 bytes cost;
- nginx + auth, uncached:  the same with `proxy_cache off`, so every request asks the portal
                 (what each distinct person and page costs once per cache lifetime).

Each of `--rounds` rounds measures every side with `wrk -t2 -c16 -d<seconds>s --latency`, in
an order rotated from round to round, after every side was warmed up. Printed per round and
side: req/s, p50 and p99; then medians and the ratios that matter, each the median of the
per-round ratios (a noisy neighbour in one round moves both sides alike): portal proxy / direct,
nginx + auth / nginx. Everything shares the machine's cores with wrk.

Then `--sockets` websockets are opened at once through the portal's proxy to a websocket echo
server (Python's `websockets`, the upstream product ea/echo), each sends `--messages` messages
one after another and waits for every echo; printed: how many opened, how many got every echo,
messages per second over all, and how the sockets spread over the two workers.
The exit status is 1 when any request or socket failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auth.hosts import PLAIN_COOKIE_NAME as COOKIE_NAME  # noqa: E402
from benchmarks.load_benchmark import (  # noqa: E402
    Server,
    free_port,
    log,
    print_rounds,
    run_within,
)
from benchmarks.wrk import run_wrk  # noqa: E402
from tests.support.nginx import PrivateNginx, forward_auth_config  # noqa: E402
from tests.support.signin import sign_in  # noqa: E402

PATH = "/ea/dash/"
HERE = Path(__file__).resolve().parent


class Child:
    """A server in a child process, ready once its port accepts connections. It runs in
    benchmarks/, where no gunicorn.conf.py is, so a gunicorn gets only its own arguments."""

    def __init__(self, name: str, command: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        with open(log_path, "wb") as out:
            self.process = subprocess.Popen(command, cwd=HERE, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: {log_path.read_text()[-2000:]}")
            try:
                requests.get(self.base_url + "/", timeout=2)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class Side:
    name: str
    url: str
    headers: tuple[str, ...]


def wrk(side: Side, args: argparse.Namespace, seconds: float) -> dict:
    threads, connections = args.client_threads, args.connections
    result = run_wrk(
        side.name, side.url, side.headers, threads=threads, connections=connections, seconds=seconds
    )
    return {"side": side.name, **result}


def answers_as_upstream(side: Side) -> None:
    """Each side answers the upstream's own body (so nothing measured is a refusal)."""
    headers = dict(header.split(": ", 1) for header in side.headers)
    answer = requests.get(side.url, headers=headers, timeout=10, allow_redirects=False)
    if answer.status_code != 200 or not answer.text.startswith("upstream "):
        raise RuntimeError(f"{side.name}: {answer.status_code} {answer.text[:300]!r}")


def make_apps(folder: Path, http_upstream: str, ws_upstream: str) -> Path:
    for key, upstream in (("ea/dash", http_upstream), ("ea/echo", ws_upstream)):
        (folder / key).mkdir(parents=True)
        (folder / key / "product.toml").write_text(
            f'title = "{key}"\nupstream = "{upstream}"\n', encoding="utf-8"
        )
    return folder


#: How each nginx side differs from deploy/nginx-forward-auth.conf as shipped.
NGINX_CHANGES = {
    "nginx": ("            auth_request /_portal/auth;\n", ""),
    "auth": None,
    "tokenless": ("proxy_set_header X-Portal-Identity $portal_identity;", ""),
    "uncached": ("proxy_cache portal_auth;", "proxy_cache off;"),
}


def nginx_config(portal: Server, upstream: Child, port: int, cache: Path, kind: str) -> str:
    addresses = (f"127.0.0.1:{portal.port}", f"127.0.0.1:{upstream.port}")
    config = forward_auth_config(*addresses, port, cache)
    change = NGINX_CHANGES[kind]
    if change is not None:
        if change[0] not in config:
            raise RuntimeError(f"deploy/nginx-forward-auth.conf no longer has {change[0]!r}")
        config = config.replace(*change)
    return config


HEADER = "round  side                          req/s    p50 ms    p99 ms  errors"


def row(number: int, result: dict) -> str:
    return (
        f"{number:>5}  {result['side']:<26} {result['rate']:>9,.0f} {result['p50']:>9.2f}"
        f" {result['p99']:>9.2f} {result['errors']:>7}"
    )


RATIOS = (
    ("portal proxy", "direct"),
    ("nginx + auth", "nginx"),
    ("nginx + auth, no JWT", "nginx"),
    ("nginx", "direct"),
)


def summary(results: list[tuple[int, dict]]) -> list[str]:
    by_round: dict[int, dict[str, dict]] = {}
    for number, result in results:
        by_round.setdefault(number, {})[result["side"]] = result
    names = list(dict.fromkeys(result["side"] for _, result in results))
    lines = ["  side                          req/s    p50 ms    p99 ms"]
    for name in names:
        runs = [sides[name] for sides in by_round.values()]
        lines.append(
            f"  {name:<26} {statistics.median(r['rate'] for r in runs):>9,.0f}"
            f" {statistics.median(r['p50'] for r in runs):>9.2f}"
            f" {statistics.median(r['p99'] for r in runs):>9.2f}"
        )
    lines.append("")
    lines.append("  ratio (median of per-round ratios)      req/s    p99")
    for side, base in RATIOS:
        pairs = [(s[side], s[base]) for s in by_round.values() if side in s and base in s]
        if pairs:
            rate = statistics.median(a["rate"] / b["rate"] for a, b in pairs)
            p99 = statistics.median(a["p99"] / b["p99"] for a, b in pairs)
            lines.append(f"  {side + ' / ' + base:<38} {rate:>6.2f}x {p99:>6.2f}x")
    return lines


async def websockets_at_once(
    url: str, cookie: str, origin: str, args: argparse.Namespace, portal: Server
) -> dict:
    """`--sockets` websockets opened together; once all are open (and their spread over the
    workers is read), each echoes `--messages` messages in turn."""
    opened = completed = settled = 0
    all_open = asyncio.Event()
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"}

    def settle() -> None:
        """One more socket is open, or failed to open: the exchange starts when all are."""
        nonlocal settled
        settled += 1
        if settled == args.sockets:
            all_open.set()

    async def one(number: int) -> None:
        nonlocal opened, completed
        try:
            ws = await websockets.connect(
                url, additional_headers=headers, origin=origin, open_timeout=60, max_queue=4
            )
        except (TimeoutError, OSError, websockets.WebSocketException) as error:
            log(f"socket {number} did not open: {type(error).__name__}: {error}")
            settle()
            return
        opened += 1
        settle()
        try:
            await asyncio.wait_for(all_open.wait(), 120)
            for message in range(args.messages):
                text = f"{number}:{message}"
                await ws.send(text)
                if await asyncio.wait_for(ws.recv(), 30) != text:
                    return
            completed += 1
        except (TimeoutError, OSError, websockets.WebSocketException) as error:
            log(f"socket {number} failed: {type(error).__name__}: {error}")
        finally:
            await ws.close()

    started = time.perf_counter()
    tasks = [asyncio.create_task(one(n)) for n in range(args.sockets)]
    await asyncio.wait_for(all_open.wait(), 120)
    opening = time.perf_counter() - started
    spread = sorted(Counter(portal.connection_owners().values()).values(), reverse=True)
    exchange_started = time.perf_counter()
    await asyncio.gather(*tasks)
    exchanging = time.perf_counter() - exchange_started
    return {
        "opened": opened,
        "completed": completed,
        "open_seconds": opening,
        "seconds": exchanging,
        "rate": completed * args.messages / exchanging if exchanging else 0.0,
        "spread": spread,
    }


def run(args: argparse.Namespace, temp: Path) -> int:
    children: list[Child] = []
    servers: list[Server] = []
    nginxes: list[PrivateNginx] = []
    try:
        node_port, ws_port = free_port(), free_port()
        node = Child(
            args.upstream,
            UPSTREAMS[args.upstream](node_port),
            node_port,
            temp / "upstream.log",
        )
        children.append(node)
        ws = Child(
            "ws",
            [sys.executable, str(HERE / "proxy_ws_upstream.py"), str(ws_port)],
            ws_port,
            temp / "ws.log",
        )
        children.append(ws)
        instance = temp / "instance"
        instance.mkdir()
        env = {
            "PORTAL_ENV": "development",
            "PORTAL_WORKERS": str(args.workers),
            "PORTAL_LOGIN_RATE_LIMIT": "",
            "PORTAL_LOG_FORMAT": "json",
            "PORTAL_APPS_RECHECK_SECONDS": "10",
            "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_APPS_DIR": str(make_apps(temp / "apps", node.base_url, ws.base_url)),
        }
        portal = Server("portal", env, temp / "portal.log", "portal ready:")
        servers.append(portal)
        cookie = sign_in(portal.base_url, "ea").cookies[COOKIE_NAME]
        credential = f"Cookie: {COOKIE_NAME}={cookie}"
        portal_host = f"Host: 127.0.0.1:{portal.port}"
        sides = {
            "direct": Side("direct", node.base_url + PATH, (credential,)),
            "portal": Side("portal proxy", portal.base_url + PATH, (credential,)),
        }
        for kind, name in (
            ("nginx", "nginx"),
            ("auth", "nginx + auth"),
            ("tokenless", "nginx + auth, no JWT"),
            ("uncached", "nginx + auth, uncached"),
        ):
            if kind not in args.sides:
                continue
            port = free_port()
            folder = temp / f"nginx-{kind}"
            folder.mkdir()
            config = nginx_config(portal, node, port, folder / "cache", kind)
            nginxes.append(PrivateNginx(config, folder, port))
            sides[kind] = Side(name, f"http://127.0.0.1:{port}{PATH}", (credential, portal_host))
        chosen = [sides[name] for name in args.sides]
        for side in chosen:
            answers_as_upstream(side)
            log(f"warming up {side.name}")
            wrk(side, args, args.warmup)
        results: list[tuple[int, dict]] = []
        print(HEADER, file=sys.stderr)
        for number in range(1, args.rounds + 1):
            shift = (number - 1) % len(chosen)
            for side in chosen[shift:] + chosen[:shift]:
                result = wrk(side, args, args.seconds)
                results.append((number, result))
                print(row(number, result), file=sys.stderr, flush=True)
        sockets = None
        if args.sockets:
            log(f"opening {args.sockets} websockets through the portal's proxy")
            url = portal.base_url.replace("http", "ws", 1) + "/ea/echo/"
            sockets = asyncio.run(websockets_at_once(url, cookie, portal.base_url, args, portal))
        title = (
            f"Proxy benchmark: gunicorn (gunicorn.conf.py, gevent, {args.workers} workers), "
            f"nginx {nginx_version()} (1 worker), upstream: {upstream_name(args.upstream)}; "
            f"wrk -t{args.client_threads} -c{args.connections} -d{args.seconds:g}s after "
            f"{args.warmup:g} s warm-up; {args.rounds} rounds, order rotated; CPython "
            f"{platform.python_version()}; {os.cpu_count()} cores shared by client and servers"
        )
        errors = print_rounds(title, HEADER, results, row, "Medians over rounds:", summary(results))
        if sockets is not None:
            print(
                f"\nWebsockets through the portal's proxy ({args.workers} workers): "
                f"{sockets['opened']}/{args.sockets} opened in {sockets['open_seconds']:.1f} s, "
                f"{sockets['completed']} exchanged all {args.messages} messages, "
                f"{sockets['rate']:,.0f} messages/s (round trips, all sockets at once); "
                f"sockets per worker: {' / '.join(map(str, sockets['spread']))}"
            )
            errors += args.sockets - sockets["completed"]
        return 1 if errors else 0
    finally:
        for nginx in nginxes:
            nginx.stop()
        for server in servers:
            server.stop()
        for child in children:
            child.stop()


def nginx_version() -> str:
    done = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().rsplit("/", 1)[-1]


#: The product server, on a port: Node's http module, or a WSGI app on gunicorn (gevent, one
#: worker), the shape of a Python product.
UPSTREAMS = {
    "node": lambda port: ["node", str(HERE / "proxy_upstream.js"), str(port)],
    "python": lambda port: [
        sys.executable, "-m", "gunicorn", "--worker-class", "gevent", "--workers", "1",
        "--bind", f"127.0.0.1:{port}", "proxy_upstream_app:app",
    ],
}  # fmt: skip


def upstream_name(kind: str) -> str:
    if kind == "node":
        version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        return f"Node {version.strip()} http"
    return "gunicorn, gevent, 1 worker, a bare WSGI app"


ALL_SIDES = ("direct", "portal", "nginx", "auth", "tokenless", "uncached")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every side (default 3)")
    parser.add_argument("--seconds", type=float, default=8, help="measured seconds per side")
    parser.add_argument("--warmup", type=float, default=3, help="seconds under load before")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--client-threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--sides", type=lambda s: s.split(","), default=list(ALL_SIDES),
        help=f"comma-separated, of {','.join(ALL_SIDES)} (default all)",
    )  # fmt: skip
    parser.add_argument(
        "--upstream", choices=sorted(UPSTREAMS), default="node",
        help="the product server: node (default) or python (gunicorn, one gevent worker)",
    )  # fmt: skip
    parser.add_argument("--sockets", type=int, default=500, help="websockets at once (0: none)")
    parser.add_argument("--messages", type=int, default=20, help="messages per websocket")
    args = parser.parse_args(argv)
    if not set(args.sides) <= set(ALL_SIDES):
        parser.error(f"sides are {', '.join(ALL_SIDES)}")
    for tool in ("wrk", "nginx", "node"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is needed (apt-get install -y {tool})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    budget = 600 + len(args.sides) * (args.rounds * (args.seconds + 5) + args.warmup + 30)
    return run_within(budget, "portal-proxy-", partial(run, args))


if __name__ == "__main__":
    sys.exit(main())
