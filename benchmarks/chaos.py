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
4. **The product supervisor killed.** `--users` devel users GET the process products of the apps
   folder (`/ea/whatif/`, Streamlit, and `/devel/board/`, Django) back to back; 2 s in, the
   supervisor (gunicorn's master's child that is not a worker) gets `kill -9`, and they go on for
   `--seconds`.
5. **A process product hung.** The same, for `--hang-seconds`; 2 s in, the Streamlit process gets
   `kill -STOP` (SIGCONT once the users stop, before anything is stopped). The products keep
   the liveness check their product.toml gives them (the defaults: every 5 s, 3 s each, 3 failures).

For 4 and 5: answers by status, how long after the signal each product served again (its first
200 after its last failed answer), the longest a request waited, and what /readyz (no cookie,
twice a second) answered while one was down. `--project` serves another checkout (with its own
`.venv`) with the same scenarios, to show what a fix changed; `--only 4,5` runs only those.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.settings import PROJECT_ROOT
from tests.support.closing_upstream import ClosingUpstream
from tests.support.processes import Gunicorn, children_of
from tests.support.signin import sign_in
from tests.support.upstreams import upstream_product
from tests.test_import_marks import GATED, marks_of, product, wait_for

#: The process products of the apps folder, as users open them.
PROCESS_PATHS = ["/ea/whatif/", "/devel/board/"]
#: Seconds a request may take: more than a proxied product's 60 s timeout, so a 504 is seen.
REQUEST_SECONDS = 90


class Answer(NamedTuple):
    path: str
    started: float
    ended: float
    #: The status code, or the name of the error the request ended with.
    outcome: str
    retry_after: bool

    @property
    def ok(self) -> bool:
        return self.outcome.startswith(("2", "3"))

    @property
    def waited(self) -> float:
        return self.ended - self.started


def run(args: argparse.Namespace) -> int:
    upstream = ClosingUpstream(drop=0.01)
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        temp = Path(folder)
        apps, gate = temp / "apps", temp / "gate"
        skipped = shutil.ignore_patterns("__pycache__", "node_modules")
        shutil.copytree(args.project / "apps", apps, ignore=skipped)
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
        if 1 in args.only:
            killed_while_importing(env, gate, temp / "instance" / "importing", log, args.project)
        gate.touch()
        server = Gunicorn(env, workers=2, log_path=log, checkout=args.project)
        try:
            wait_for(lambda: server.log().count("portal ready") >= 2, "both workers")
            if 1 in args.only:
                broken = requests.get(server.base_url + "/readyz", timeout=10).json()["products"]
                print(f"1. after kill -9 while importing and a restart: {broken['broken']} broken")
            if {2, 3} & args.only:
                stable_users(server, upstream, args)
            if {4, 5} & args.only:
                print(f"signing in {args.users} devel users ...", flush=True)
                devels = [sign_in(server.base_url, "devel") for _ in range(args.users)]
                if 4 in args.only:
                    print(supervisor_killed(server, devels, args.seconds), flush=True)
                    if not serving(server, devels[0], 30):
                        print("   (they still do not serve: gunicorn is restarted for 5)")
                        server.stop()
                        server = Gunicorn(env, workers=2, log_path=log, checkout=args.project)
                        devels = [sign_in(server.base_url, "devel") for _ in range(args.users)]
                if 5 in args.only:
                    print(product_hung(server, devels, args.hang_seconds), flush=True)
        finally:
            server.stop()
            upstream.stop()
    return 0


def stable_users(server: Gunicorn, upstream: ClosingUpstream, args: argparse.Namespace) -> None:
    """Scenarios 2 and 3."""
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
    print(f"2. {len(flaky):,} GETs of a product closing kept-alive connections: {by_status(flaky)}")
    print(f"   (the product dropped {upstream.dropped['GET']:,} requests it was sent)")
    not_ready = sum(1 for status, _ in probes if status != 200)
    slowest = max(seconds for _, seconds in probes)
    print(
        f"   /readyz with a session cookie meanwhile: {len(probes)} probes, "
        f"{not_ready} not ready, slowest {slowest:.2f} s"
    )
    print(reload_under_load(server, sessions, args.seconds), flush=True)


def by_status(answers: list[Answer]) -> str:
    counts = sorted(Counter(answer.outcome for answer in answers).items())
    return ", ".join(f"{status}: {count:,}" for status, count in counts)


def killed_while_importing(env: dict, gate: Path, marks: Path, log: Path, project: Path) -> None:
    server = Gunicorn(env, workers=2, log_path=log, wait=False, checkout=project)
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


def load(
    base_url: str, sessions: list, paths: list[str], seconds: float, during=None
) -> list[Answer]:
    """Every request the users made for `seconds`, each user going through `paths` in turn."""
    until = time.monotonic() + seconds
    answers: list[Answer] = []

    def browse(http: requests.Session) -> None:
        turn = 0
        while time.monotonic() < until:
            path = paths[turn % len(paths)]
            turn += 1
            started = time.monotonic()
            retry_after = False
            try:
                answer = http.get(base_url + path, allow_redirects=False, timeout=REQUEST_SECONDS)
                outcome = str(answer.status_code)
                retry_after = "Retry-After" in answer.headers
            except requests.RequestException as error:
                outcome = type(error).__name__
            answers.append(Answer(path, started, time.monotonic(), outcome, retry_after))

    threads = [threading.Thread(target=browse, args=(http,), daemon=True) for http in sessions]
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    for thread in threads:
        thread.join(timeout=REQUEST_SECONDS + 30)
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
    before = [a for a in answers if hup - 8 <= a.ended < hup]
    after = [a for a in answers if hup <= a.ended < hup + 8]
    per_second = Counter(int(a.ended - hup) for a in answers if hup <= a.ended < hup + 8)
    slowest = min(per_second.get(s, 0) for s in range(8))
    failed = sum(1 for a in answers if not a.ok)
    longest = max(a.waited for a in answers)
    return (
        f"3. HUP under load: {len(before) / 8:.0f} req/s in the 8 s before, "
        f"{len(after) / 8:.0f} req/s in the 8 s after (slowest second: {slowest}); "
        f"longest wait {longest:.1f} s; {failed} failed"
    )


def supervisor_killed(server: Gunicorn, sessions: list, seconds: float) -> str:
    assert serving(server, sessions[0], 120), "the process products never served"
    killed = server.supervisor_pid()
    assert killed is not None, "gunicorn runs no product supervisor"
    answers, kill, probes = under_signal(
        server, sessions, seconds, lambda: os.kill(killed, signal.SIGKILL)
    )
    return "4. the product supervisor killed (kill -9):\n" + report(answers, kill, probes)


def product_hung(server: Gunicorn, sessions: list, seconds: float) -> str:
    assert serving(server, sessions[0], 120), "the process products never served"
    streamlit = product_process(server, b"streamlit")
    try:
        answers, stop, probes = under_signal(
            server, sessions, seconds, lambda: os.kill(streamlit, signal.SIGSTOP)
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(streamlit, signal.SIGCONT)
    hung = [a for a in answers if a.path == PROCESS_PATHS[0] and a.ended >= stop and not a.ok]
    fast = [a for a in hung if a.outcome == "503" and a.retry_after]
    summary = f"\n   503 with Retry-After: {len(fast):,}"
    if fast:
        first = min(a.ended for a in fast)
        later = [a.waited for a in fast if a.started >= first]
        summary += (
            f", the first {first - stop:.1f} s after the STOP (to the requests waiting since);"
            f" those asked after it waited at most {max(later, default=0):.2f} s"
        )
    return "5. the Streamlit process hung (kill -STOP):\n" + report(answers, stop, probes) + summary


def serving(server: Gunicorn, http: requests.Session, seconds: float) -> bool:
    """Whether every process product answers 200 within `seconds`: started, or started again."""
    deadline = time.monotonic() + seconds
    waiting = list(PROCESS_PATHS)
    while waiting and time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if http.get(server.base_url + waiting[0], timeout=30).status_code == 200:
                waiting.pop(0)
                continue
        time.sleep(0.2)
    return not waiting


def product_process(server: Gunicorn, name: bytes) -> int:
    """The supervisor's child whose command line names `name`."""
    supervisor = server.supervisor_pid()
    assert supervisor is not None, "gunicorn runs no product supervisor"
    for pid in children_of(supervisor):
        with contextlib.suppress(OSError):
            if name in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    raise RuntimeError(f"no process product named {name!r} under the supervisor")


def under_signal(server: Gunicorn, sessions: list, seconds: float, signal_it) -> tuple:
    """The users' answers for `seconds` with `signal_it()` called 2 s in, when it was called,
    and what /readyz answered from then on: (when, status code, what it said)."""
    marks: dict[str, float] = {}
    probes: list[tuple[float, int, str]] = []
    until = time.monotonic() + seconds

    def signal_then_probe() -> None:
        time.sleep(2)
        marks["signal"] = time.monotonic()
        signal_it()
        while time.monotonic() < until:
            asked = time.monotonic()
            try:
                answer = requests.get(server.base_url + "/readyz", timeout=30)
                said = readiness_said(answer)
                probes.append((asked, answer.status_code, said))
            except requests.RequestException as error:
                probes.append((asked, 0, type(error).__name__))
            time.sleep(0.5)

    answers = load(server.base_url, sessions, PROCESS_PATHS, seconds, signal_then_probe)
    return answers, marks["signal"], probes


def readiness_said(answer: requests.Response) -> str:
    body = answer.json()
    degraded = body.get("degraded")
    named = "no 'degraded'" if degraded is None else f"degraded {degraded or '{}'}"
    return f"{answer.status_code} {body.get('status')}, {named}"


def report(answers: list[Answer], signalled: float, probes: list) -> str:
    """Answers by status, each product's recovery, the longest wait, /readyz while down."""
    lines = [f"   {len(answers):,} GETs: {by_status(answers)}"]
    back_by = signalled
    for path in PROCESS_PATHS:
        mine = [a for a in answers if a.path == path and a.ended >= signalled]
        failed = [a.ended for a in mine if not a.ok]
        if not failed:
            lines.append(f"   {path}: never failed")
            continue
        back = [a.ended for a in mine if a.ok and a.ended > max(failed)]
        if back:
            lines.append(
                f"   {path}: {len(failed):,} failed, serving again {min(back) - signalled:.1f} s "
                "after the signal"
            )
            back_by = max(back_by, min(back))
        else:
            lines.append(f"   {path}: {len(failed):,} failed, still not serving at the end")
            back_by = float("inf")
    lines.append(f"   longest wait {max(a.waited for a in answers):.1f} s")
    said_in_turn = [said for asked, _, said in probes if asked <= back_by]
    runs = [(said, len(list(same))) for said, same in itertools.groupby(said_in_turn)]
    shown = " -> ".join(f"{said} (x{count})" for said, count in runs)
    lines.append(f"   /readyz meanwhile, in turn: {shown or 'not asked'}")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--hang-seconds",
        type=float,
        default=75.0,
        help="how long users browse around the hung product: its liveness check and restart "
        "take up to 24 s and more, a proxied request's timeout 60 s",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=PROJECT_ROOT,
        metavar="CHECKOUT",
        help="the checkout whose portal (and apps folder) to serve, with its own .venv",
    )
    parser.add_argument(
        "--only",
        type=lambda text: {int(number) for number in text.split(",")},
        default={1, 2, 3, 4, 5},
        metavar="N,N",
        help="the scenarios to run, by number",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse(None)))
