"""Chaos: what users see when workers die while importing, a product closes kept-alive
connections, and gunicorn reloads under load.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/chaos.py
    .venv/bin/python benchmarks/chaos.py --users 50 --seconds 20

gunicorn (the project's gunicorn.conf.py, 2 workers) serves a copy of the project's apps folder
on a fresh instance folder and SQLite, plus two products of this run's own:

1. **Killed while importing.** `stable/gated` waits, while it is imported, for a file this run
   creates. Both workers are killed (`kill -9`) while they import it, the file is created, and
   gunicorn is stopped and started again. Printed: the products /readyz counts as broken then.
2. **A product that closes kept-alive connections.** `stable/flaky` is fronted by the portal
   (`upstream =`); its server (tests/support/closing_upstream.py) drops 1% of the requests that
   arrive on a connection it already answered on, without a byte of answer. `--users` signed-in
   users GET it back to back for `--seconds`, while /readyz is asked twice a second with a
   session cookie. Printed: answers by status, and how /readyz did.
3. **HUP under load.** The same users browse `/stable/hello/` and the dashboard; halfway, gunicorn
   gets a HUP. Printed: requests a second before it, in the 8 s after it and the slowest second
   after it, and the longest any request waited.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.config import PROJECT_ROOT
from tests.support.closing_upstream import ClosingUpstream
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.upstreams import upstream_product
from tests.test_import_marks import GATED, marks_of, product, wait_for


def run(args: argparse.Namespace) -> int:
    upstream = ClosingUpstream(drop=0.01)
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        temp = Path(folder)
        apps, gate = temp / "apps", temp / "gate"
        skipped = shutil.ignore_patterns("__pycache__", "node_modules")
        shutil.copytree(PROJECT_ROOT / "apps", apps, ignore=skipped)
        product(apps, "stable/gated", GATED)
        upstream_product(apps, "stable/flaky", upstream.url)
        env = {
            "DATABASE_URL": f"sqlite:///{temp / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(temp / "instance"),
            "PORTAL_APPS_DIR": str(apps),
            "PORTAL_IMPORT_TIMEOUT_SECONDS": "600",
            "PORTAL_APPS_RECHECK_SECONDS": "3600",
            "TEST_IMPORT_GATE": str(gate),
        }
        log = temp / "gunicorn.log"
        killed_while_importing(env, gate, temp / "instance" / "importing", log)
        server = Gunicorn(env, workers=2, log_path=log)
        try:
            broken = requests.get(server.base_url + "/readyz", timeout=10).json()["products"]
            print(f"1. after kill -9 while importing and a restart: {broken['broken']} broken")
            wait_for(lambda: server.log().count("portal ready") >= 2, "both workers")
            print(f"signing in {args.users} users ...", flush=True)
            sessions = [sign_in(server.base_url, "stable") for _ in range(args.users)]
            probes: list[tuple[int, float]] = []
            flaky = load(
                server.base_url,
                sessions,
                ["/stable/flaky/"],
                args.seconds,
                lambda: probe_readiness(server.base_url, sessions[0], args.seconds, probes),
            )
            statuses = sorted(Counter(outcome for _, _, outcome in flaky).items())
            shown = ", ".join(f"{status}: {count:,}" for status, count in statuses)
            print(f"2. {len(flaky):,} GETs of a product closing kept-alive connections: {shown}")
            print(f"   (the product dropped {upstream.dropped['GET']:,} requests it was sent)")
            not_ready = sum(1 for status, _ in probes if status != 200)
            slowest = max(seconds for _, seconds in probes)
            print(
                f"   /readyz with a session cookie meanwhile: {len(probes)} probes, "
                f"{not_ready} not ready, slowest {slowest:.2f} s"
            )
            hup = reload_under_load(server, sessions, args.seconds)
            print(hup)
        finally:
            server.stop()
            upstream.stop()
    return 0


def killed_while_importing(env: dict, gate: Path, marks: Path, log: Path) -> None:
    server = Gunicorn(env, workers=2, log_path=log, wait=False)
    try:
        importing = wait_for(
            lambda: len(marks_of(marks, "stable/gated")) == 2 and marks_of(marks, "stable/gated"),
            "both workers importing",
        )
        for pid in importing:
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)  # gunicorn starts two workers in their place
        gate.touch()
        server.wait_ready()
    finally:
        server.stop()


def load(base_url: str, sessions: list, paths: list[str], seconds: float, during=None) -> list:
    """(started, ended, status or error) of every request the users made for `seconds`."""
    until = time.monotonic() + seconds
    answers: list[tuple[float, float, str]] = []

    def browse(http: requests.Session) -> None:
        turn = 0
        while time.monotonic() < until:
            path = paths[turn % len(paths)]
            turn += 1
            started = time.monotonic()
            try:
                answer = http.get(base_url + path, allow_redirects=False, timeout=60)
                outcome = str(answer.status_code)
            except requests.RequestException as error:
                outcome = type(error).__name__
            answers.append((started, time.monotonic(), outcome))

    threads = [threading.Thread(target=browse, args=(http,), daemon=True) for http in sessions]
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def probe_readiness(base_url: str, http: requests.Session, seconds: float, out: list) -> None:
    """/readyz twice a second, with a signed-in user's cookie, as a probe through a proxy might."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.monotonic()
        status = http.get(base_url + "/readyz", timeout=30).status_code
        out.append((status, time.monotonic() - started))
        time.sleep(0.5)


def reload_under_load(server: Gunicorn, sessions: list, seconds: float) -> str:
    marks: dict[str, float] = {}

    def hup_halfway() -> None:
        time.sleep(seconds / 2)
        marks["hup"] = time.monotonic()
        server.process.send_signal(signal.SIGHUP)

    answers = load(server.base_url, sessions, ["/stable/hello/", "/"], seconds, hup_halfway)
    hup = marks["hup"]
    before = [a for a in answers if hup - 8 <= a[1] < hup]
    after = [a for a in answers if hup <= a[1] < hup + 8]
    per_second = Counter(int(ended - hup) for _, ended, _ in answers if hup <= ended < hup + 8)
    slowest = min(per_second.get(s, 0) for s in range(8))
    failed = sum(1 for a in answers if not a[2].startswith(("2", "3")))
    longest = max(ended - started for started, ended, _ in answers)
    return (
        f"3. HUP under load: {len(before) / 8:.0f} req/s in the 8 s before, "
        f"{len(after) / 8:.0f} req/s in the 8 s after (slowest second: {slowest}); "
        f"longest wait {longest:.1f} s; {failed} failed"
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse(None)))
