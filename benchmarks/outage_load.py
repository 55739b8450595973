"""Outage load: signed-in users keep browsing while the database and then Redis stop and return.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/outage_load.py
    .venv/bin/python benchmarks/outage_load.py --users 50 --seconds 60

The portal runs on gunicorn (the project's gunicorn.conf.py, 2 workers) against a MariaDB server
and a Redis server of this run's own (tests/support: `PrivateMariaDB`, `PrivateRedis`), so
stopping them is a real outage that touches nothing else. `--users` users sign in through the
real flow, then each browses back to back on its own keep-alive connection (a thread each):
the dashboard, `/api/me`, and the product pages and JSON routes their tier opens.

The timeline divides `--seconds` in six equal parts: normal, MariaDB stopped, MariaDB back,
Redis stopped, Redis back, normal. Printed: requests and answers by status for each part, and
for each service the recovery time: from the moment it answered again to the last failed
request that started after that, and to the first request that succeeded. The identity cache
keeps its default (5 s), so during the database outage cached sessions keep working for a few
seconds, as they would in production.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.outages import PrivateRedis
from tests.support.private_mariadb import PrivateMariaDB
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import prime_database

PAGES = {
    "stable": ["/", "/api/me", "/stable/hello/", "/stable/hello/api/greeting", "/stable/disagg/"],
    "ea": ["/", "/api/me", "/ea/forecast/", "/ea/disagg/", "/stable/hello/api/greeting"],
    "devel": ["/", "/api/me", "/devel/inspector/", "/ea/forecast/", "/stable/hello/"],
}
PHASES = ("normal", "MariaDB down", "MariaDB back", "Redis down", "Redis back", "normal again")


@dataclass(frozen=True)
class Answer:
    started: float
    ended: float
    outcome: str  # the status code, or the exception's name


def browse(base_url: str, http: requests.Session, paths: list[str], until: float, out: list):
    turn = 0
    while time.monotonic() < until:
        path = paths[turn % len(paths)]
        turn += 1
        started = time.monotonic()
        try:
            status = str(http.get(base_url + path, allow_redirects=False, timeout=30).status_code)
        except requests.RequestException as error:
            status = type(error).__name__
        out.append(Answer(started, time.monotonic(), status))


def ok(answer: Answer) -> bool:
    return answer.outcome.startswith(("2", "3"))


def recovery(answers: list[Answer], back_at: float, until: float) -> str:
    after = [a for a in answers if back_at <= a.started < until]
    failed = [a.ended for a in after if not ok(a)]
    succeeded = [a.ended for a in after if ok(a)]
    first = f"{min(succeeded) - back_at:.2f} s" if succeeded else "never"
    last = f"{max(failed) - back_at:.2f} s" if failed else "none failed"
    return f"first success after {first}; last failure after {last}"


def run(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="outage-load-") as temp,
        PrivateMariaDB() as database,
        PrivateRedis() as cache,
    ):
        env = {"DATABASE_URL": database.url, "PORTAL_INSTANCE_PATH": temp, "REDIS_URL": cache.url}
        prime_database(env)
        server = Gunicorn(env, workers=2, log_path=Path(temp) / "gunicorn.log")
        try:
            return measure(args, server, database, cache)
        finally:
            server.stop()


def measure(args, server: Gunicorn, database: PrivateMariaDB, cache: PrivateRedis) -> int:
    tiers = [("stable", "ea", "devel")[i % 3] for i in range(args.users)]
    print(f"signing in {args.users} users ...", flush=True)
    sessions = [sign_in(server.base_url, tier) for tier in tiers]
    part = args.seconds / len(PHASES)
    start = time.monotonic()
    until = start + args.seconds
    answers: list[Answer] = []
    threads = [
        threading.Thread(
            target=browse, args=(server.base_url, http, PAGES[tier], until, answers), daemon=True
        )
        for http, tier in zip(sessions, tiers, strict=True)
    ]
    for thread in threads:
        thread.start()
    marks = {"start": start}
    steps = [
        ("MariaDB stopped", database.stop),
        ("MariaDB back", database.start),
        ("Redis stopped", cache.stop),
        ("Redis back", cache.start),
    ]
    for number, (name, action) in enumerate(steps, start=1):
        time.sleep(max(0.0, start + number * part - time.monotonic()))
        # An outage starts when the stop begins; a service is back once it answers again.
        before = time.monotonic()
        action()
        marks[name] = before if name.endswith("stopped") else time.monotonic()
        print(f"{marks[name] - start:6.1f} s  {name}", flush=True)
    for thread in threads:
        thread.join(timeout=60)
    report(args, answers, marks, start, part)
    return 0


def report(args, answers: list[Answer], marks: dict, start: float, part: float) -> None:
    edges = [start + i * part for i in range(len(PHASES) + 1)]
    edges[1:5] = [
        marks["MariaDB stopped"],
        marks["MariaDB back"],
        marks["Redis stopped"],
        marks["Redis back"],
    ]
    print(f"\n{args.users} users, {args.seconds:g} s, {len(answers):,} requests")
    print(f"{'part':<14} {'seconds':>7} {'requests':>9} {'req/s':>7}  answers by status")
    for name, low, high in zip(PHASES, edges, edges[1:], strict=False):
        inside = [a for a in answers if low <= a.started < high]
        statuses = Counter(a.outcome for a in inside)
        shown = ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items()))
        seconds = high - low
        print(f"{name:<14} {seconds:7.1f} {len(inside):9,} {len(inside) / seconds:7.0f}  {shown}")
    totals = Counter(a.outcome for a in answers)
    print("all            " + ", ".join(f"{s}: {n:,}" for s, n in sorted(totals.items())))
    print(f"MariaDB recovery: {recovery(answers, marks['MariaDB back'], marks['Redis stopped'])}")
    print(f"Redis recovery:   {recovery(answers, marks['Redis back'], start + args.seconds)}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse(None)))
