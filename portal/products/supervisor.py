"""The one process per portal that runs its `command` products.

gunicorn forks several workers, and each would start its own copy of every product if they
supervised; so the portal starts this as a child of gunicorn's master (`gunicorn.conf.py`) or
of `portal serve`, and the workers only read the state folder it writes
(`portal.products.process_files`). It follows the apps folder like the workers do: a product
added is started, one removed or moved is stopped (and started at its new address), one whose
product.toml changed is started afresh, and a failed one is tried again when its files change.

It ends with its parent: SIGTERM or SIGINT stop every product (SIGTERM to each process group,
SIGKILL after a grace), the kernel sends it SIGTERM when its parent dies without asking
(`PR_SET_PDEATHSIG`), and a watchdog child ends the products' groups if this process is killed
outright (`portal.products.watchdog`).

    python -m portal.products.supervisor --apps-dir apps --state-dir instance/processes
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from auth.identity import read_product_info
from auth.tiers import TIERS_DESCENDING
from portal.products.discovery import selected
from portal.products.loader import folder_fingerprint
from portal.products.process_files import StateFolder
from portal.products.process_runner import ProcessRunner, ProcessSpec
from portal.products.process_state import State
from portal.settings.derived import portal_addresses

log = logging.getLogger("portal.products.supervisor")

#: Settings of the portal itself that products never see: secrets, the database, the identity
#: provider. A product gets what it needs through its own environment variables.
PORTAL_ONLY_PREFIXES = ("PORTAL_", "OIDC_", "AUTH0_", "DEV_IDP_", "SESSION_", "GUNICORN_")
PORTAL_ONLY_NAMES = frozenset(
    {
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "PROMETHEUS_MULTIPROC_DIR",
        "FORWARDED_ALLOW_IPS",
        "AUTHLIB_INSECURE_TRANSPORT",
    }
)
_PR_SET_PDEATHSIG = 1


def product_environment(environ: Mapping[str, str], base_url: str) -> dict[str, str]:
    """The environment every product starts with: the portal's, less its own settings, with
    the portal's Python first on PATH (so `streamlit`, `python`, `gunicorn` are the ones
    installed beside the portal) and unbuffered Python output (so its lines arrive as
    written)."""
    env = {
        name: value
        for name, value in environ.items()
        if not name.startswith(PORTAL_ONLY_PREFIXES) and name not in PORTAL_ONLY_NAMES
    }
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([bin_dir, *filter(None, env.get("PATH", "").split(os.pathsep))])
    env["PYTHONUNBUFFERED"] = "1"
    env["PORTAL_BASE_URL"] = base_url
    return env


def process_specs(
    apps_dir: Path, patterns: Sequence[str], portal_addresses: Sequence[str] = ()
) -> dict[str, ProcessSpec | None]:
    """The `command` products under the apps folder that the portal serves, by `tier/name`
    (never one naming `portal_addresses`, where the portal itself listens);
    None for a folder whose product.toml does not read now (the portal keeps serving such a
    product as it was, so it keeps running). A folder whose name the portal refuses is left
    out."""
    specs: dict[str, ProcessSpec | None] = {}
    for tier in TIERS_DESCENDING:
        tier_dir = apps_dir / tier.value
        if not tier_dir.is_dir():
            continue
        for folder in sorted(tier_dir.iterdir()):
            key = f"{tier.value}/{folder.name}"
            if not folder.is_dir() or folder.name.startswith((".", "_")):
                continue
            if not folder.name.isidentifier() or not folder.name.islower():
                continue
            if not selected(key, patterns):
                continue
            try:
                info = read_product_info(tier, folder, portal_addresses=portal_addresses)
            except ValueError:
                specs[key] = None
                continue
            if info.command:
                specs[key] = ProcessSpec(
                    key, info.command, folder, info.mount_path, info.health, info.liveness
                )
    return specs


class Supervisor:
    def __init__(
        self,
        apps_dir: Path,
        patterns: Sequence[str],
        states: StateFolder,
        *,
        env: Mapping[str, str],
        runtime_dir: Path,
        watchdog: subprocess.Popen | None = None,
        portal_addresses: Sequence[str] = (),
    ) -> None:
        self.apps_dir = apps_dir
        self.portal_addresses = tuple(portal_addresses)
        self.patterns = tuple(patterns)
        self.states = states
        self.env = dict(env)
        self.runtime_dir = runtime_dir
        self.watchdog = watchdog
        self.runners: dict[str, ProcessRunner] = {}
        self._fingerprints: dict[str, str] = {}
        self._announce_lock = threading.Lock()

    def scan(self) -> None:
        """Bring the running products in line with the apps folder."""
        found = process_specs(self.apps_dir, self.patterns, self.portal_addresses)
        changed = [
            key
            for key, runner in self.runners.items()
            if key not in found or found[key] not in (None, runner.spec)
        ]
        self._stop(changed)
        for key, spec in found.items():
            if spec is None:
                continue
            fingerprint = folder_fingerprint(spec.folder)
            runner = self.runners.get(key)
            if runner is None:
                self._start(spec)
            elif (
                fingerprint != self._fingerprints.get(key)
                and runner.state is not None
                and runner.state.state is State.FAILED
            ):
                log.info("product %s: its files changed; starting it again", key)
                runner.retry()
            self._fingerprints[key] = fingerprint

    def stop_all(self) -> None:
        self._stop(list(self.runners))

    def _start(self, spec: ProcessSpec) -> None:
        log.info("starting product %s: %s", spec.key, " ".join(spec.command.split()))
        runner = ProcessRunner(
            spec,
            self.states,
            env=self.env
            | {
                "PORTAL_PRODUCT": spec.key,
                "PORTAL_PRODUCT_TIER": spec.key.split("/")[0],
                "PORTAL_PRODUCT_NAME": spec.key.split("/")[1],
                "PORTAL_PREFIX": spec.prefix,
            },
            runtime_dir=self.runtime_dir,
            on_spawn=lambda pid: self._announce(f"+{pid}"),
            on_end=lambda pid: self._announce(f"-{pid}"),
        )
        self.runners[spec.key] = runner
        runner.start()

    def _stop(self, keys: Sequence[str]) -> None:
        """Stop these products at once, each in its own thread: the grace runs side by side."""
        runners = [self.runners.pop(key) for key in keys]
        for key in keys:
            self._fingerprints.pop(key, None)
            log.info("stopping product %s", key)
        if runners:
            with ThreadPoolExecutor(max_workers=len(runners)) as pool:
                list(pool.map(ProcessRunner.stop, runners))

    def _announce(self, line: str) -> None:
        if self.watchdog is None or self.watchdog.stdin is None:
            return
        with self._announce_lock, contextlib.suppress(OSError):
            self.watchdog.stdin.write(line + "\n")
            self.watchdog.stdin.flush()


def die_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM when the parent dies; exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(0)


#: A unix socket's path must fit in 108 bytes, with room for `<tier>-<name>.sock`.
_SOCKET_FOLDER_MAX = 60


def _socket_folder(state_dir: Path) -> Path:
    """Where products' sockets go: beside the states (writable wherever the portal runs, even
    on a read-only root), or in a temporary folder when that path is too long for a socket."""
    folder = state_dir / "sockets"
    if len(str(folder)) <= _SOCKET_FOLDER_MAX:
        return folder
    return Path(tempfile.mkdtemp(prefix="portal-sockets-"))


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m portal.products.supervisor")
    parser.add_argument("--apps-dir", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--apps", action="append", default=[], help="a PORTAL_APPS pattern")
    parser.add_argument("--recheck", type=float, default=1.0, help="seconds between rescans")
    parser.add_argument("--base-url", default="")
    parser.add_argument("--bind", default="", help="where the portal's gunicorn listens")
    parser.add_argument("--parent", type=int, default=0, help="end when this process ends")
    parser.add_argument("--json-logs", action="store_true")
    return parser.parse_args(argv)


class StopSignals:
    """SIGTERM or SIGINT ends the supervisor's loop.

    A Python signal handler runs between two bytecodes of the main thread, also while that
    thread holds a lock: a handler that sets a `threading.Event` deadlocks when a second signal
    lands inside the first one's `set()` (a burst of them left a supervisor stuck, outliving its
    portal with its products). So the handler takes no lock: it records the signal, and the
    interpreter's own write to a wakeup pipe ends the wait at once.
    """

    def __init__(self) -> None:
        self._signals: list[int] = []
        self._wakeup, writer = os.pipe()
        os.set_blocking(writer, False)
        signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, _frame: self._signals.append(number))

    def received(self) -> bool:
        return bool(self._signals)

    def wait(self, seconds: float) -> None:
        """Return after `seconds`, or as soon as a stop signal arrives."""
        if not self._signals:
            select.select([self._wakeup], [], [], seconds)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    from portal.logs import configure_logging

    configure_logging(json_lines=args.json_logs)
    if args.parent:
        die_with_parent(args.parent)
    stop = StopSignals()
    states = StateFolder(args.state_dir)
    states.reset(os.getpid())
    runtime_dir = _socket_folder(args.state_dir)
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "portal.products.watchdog"],
        stdin=subprocess.PIPE,
        text=True,
    )
    supervisor = Supervisor(
        args.apps_dir,
        args.apps,
        states,
        env=product_environment(os.environ, args.base_url),
        runtime_dir=runtime_dir,
        watchdog=watchdog,
        portal_addresses=portal_addresses(args.base_url, args.bind),
    )
    try:
        while not stop.received():
            try:
                supervisor.scan()
            except Exception:
                log.exception("could not rescan the apps folder for process products")
            if args.parent and os.getppid() != args.parent:
                break
            stop.wait(max(args.recheck, 0.2))
    finally:
        supervisor.stop_all()
        states.remove_all()
        shutil.rmtree(runtime_dir, ignore_errors=True)
        if watchdog.stdin is not None:
            watchdog.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            watchdog.wait(timeout=10)


if __name__ == "__main__":
    main()
