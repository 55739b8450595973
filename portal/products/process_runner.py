"""One process product, kept running: start, wait for health, restart with backoff, stop.

The command runs in the product's folder, in a process group of its own, so stopping it ends
everything it started (Django's autoreloader runs the server as a child; a group signal reaches
both). Its output is echoed to the portal's log and the last lines are kept, because when a
product fails the last thing it said is nearly always why.

A product that keeps exiting quickly (before its health path answered, or within
`QUICK_EXIT_SECONDS`) is restarted after a pause that doubles each time, and marked failed after
`MAX_QUICK_EXITS` in a row: restarting it faster would only burn the machine. A failed product is
tried again when its files change (`retry`). One that ran for a while and died is restarted
after the shortest pause.

A process that is up is asked its health path again and again (`[liveness]` in product.toml:
every `interval` seconds, `timeout` seconds for each answer): after `failures` failed answers in
a row it is marked unhealthy, so the workers answer its requests with a 503 at once instead of
waiting for a hung server, and its group is ended (SIGTERM and SIGCONT, SIGKILL after the
grace) and started again like a process that died.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import logging
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from auth.product_kinds import DEFAULT_LIVENESS, Liveness
from portal.products.process_files import StateFolder
from portal.products.process_state import ProcessState, State
from portal.products.watchdog import GRACE_SECONDS, end_groups

log = logging.getLogger(__name__)

OUTPUT_LINES = 40
QUICK_EXIT_SECONDS = 10.0
MAX_QUICK_EXITS = 3
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
#: How long a product may take from its start to its health path's first answer.
START_SECONDS = 60.0
#: Between SIGTERM to a product's group and SIGKILL.
STOP_GRACE_SECONDS = GRACE_SECONDS
HEALTH_INTERVAL_SECONDS = 0.25
HEALTH_REQUEST_SECONDS = 2.0


@dataclass(frozen=True)
class ProcessSpec:
    """What the supervisor runs for one product, from its product.toml."""

    key: str
    command: str
    folder: Path
    #: The path it is mounted at, `/<tier>/<name>`.
    prefix: str
    health: str
    liveness: Liveness = DEFAULT_LIVENESS

    @property
    def on_socket(self) -> bool:
        return "{socket}" in self.command

    @property
    def health_path(self) -> str:
        """The health path on the product's server: below its mount, like every path the
        proxy passes on (a process product serves under its prefix)."""
        return self.prefix + self.health


class ProcessRunner:
    """Keeps one product's process running in a thread of its own until `stop()`."""

    def __init__(
        self,
        spec: ProcessSpec,
        states: StateFolder,
        *,
        env: Mapping[str, str],
        runtime_dir: Path,
        on_spawn: Callable[[int], None] = lambda pid: None,
        on_end: Callable[[int], None] = lambda pid: None,
        start_seconds: float = START_SECONDS,
    ) -> None:
        self.spec = spec
        self.states = states
        self.env = dict(env)
        self.runtime_dir = runtime_dir
        self.on_spawn = on_spawn
        self.on_end = on_end
        self.start_seconds = start_seconds
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES)
        self.restarts = 0
        self.state: ProcessState | None = None
        self._stopping = threading.Event()
        self._retry = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"product {spec.key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def retry(self) -> None:
        """Start a failed product again (its files changed); no effect on a running one."""
        self._retry.set()

    def stop(self) -> None:
        """End the process (SIGTERM to its group, SIGKILL after the grace) and wait for it."""
        self._stopping.set()
        self._retry.set()
        if self._thread.is_alive():
            self._thread.join()
        self.states.remove(self.spec.key)

    def _run(self) -> None:
        quick_exits = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            healthy, ending = self._one_run()
            if self._stopping.is_set():
                return
            quick = not healthy or time.monotonic() - started < QUICK_EXIT_SECONDS
            quick_exits = quick_exits + 1 if quick else 0
            if quick_exits >= MAX_QUICK_EXITS:
                self._publish(
                    State.FAILED,
                    reason=f"{ending}, {quick_exits} times in a row soon after starting; "
                    "it is started again when its files change",
                )
                log.error("product %s failed: %s", self.spec.key, self.state.detail)
                self._retry.wait()
                self._retry.clear()
                quick_exits = 0
            else:
                pause = backoff(quick_exits)
                self._publish(
                    State.RESTARTING,
                    reason=f"{ending}; starting it again in {pause:g} s",
                )
                log.warning("product %s: %s", self.spec.key, self.state.detail)
                if self._stopping.wait(pause):
                    return
            if not self._stopping.is_set():
                self.restarts += 1

    def _one_run(self) -> tuple[bool, str]:
        """Start the command, publish its state until it ends; whether it ever answered, and
        how it ended, in words."""
        address, argv = self._command_line()
        try:
            process = subprocess.Popen(  # noqa: S603 - the product's own command, from its folder
                argv,
                cwd=self.spec.folder,
                env=self.env | self._listen_env(address),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            self.output.append(f"could not start {argv[0]!r}: {error}")
            return False, _ended(None)
        self.on_spawn(process.pid)
        ended = threading.Event()
        reader = threading.Thread(target=self._read_output, args=(process,), daemon=True)
        reader.start()
        threading.Thread(target=_wait_then_set, args=(process, ended), daemon=True).start()
        self._publish(State.STARTING, address=address, pid=process.pid)
        healthy = self._wait_healthy(address, ended)
        hung = ""
        if healthy:
            self._publish(State.UP, address=address, pid=process.pid)
            log.info("product %s is up on %s", self.spec.key, address)
            hung = self._watch(address, ended)
            if hung:
                self._publish(State.UNHEALTHY, address=address, pid=process.pid, reason=hung)
                log.error("product %s is unhealthy: %s; ending it", self.spec.key, hung)
        silent = not healthy and not ended.is_set() and not self._stopping.is_set()
        self._end_group(process)
        reader.join(timeout=STOP_GRACE_SECONDS)
        self.on_end(process.pid)
        if silent:
            return False, (
                f"its health path {self.spec.health_path} did not answer within "
                f"{self.start_seconds:g} s"
            )
        return healthy, hung or _ended(process.returncode)

    def _watch(self, address: str, ended: threading.Event) -> str:
        """Ask the health path of the running process until it ends or the product stops;
        why it is unhealthy once it failed `failures` times in a row, else ""."""
        liveness = self.spec.liveness
        failures = 0
        while not ended.wait(liveness.interval) and not self._stopping.is_set():
            if answers(address, self.spec.health_path, liveness.timeout):
                failures = 0
                continue
            failures += 1
            if failures >= liveness.failures and not ended.is_set():
                return (
                    f"its health path {self.spec.health_path} did not answer within "
                    f"{liveness.timeout:g} s, {failures} times in a row"
                )
        return ""

    def _command_line(self) -> tuple[str, list[str]]:
        if self.spec.on_socket:
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            path = self.runtime_dir / (self.spec.key.replace("/", "-") + ".sock")
            path.unlink(missing_ok=True)
            values = {"socket": str(path), "port": "", "prefix": self.spec.prefix}
            address = f"unix:{path}"
        else:
            port = _free_port()
            values = {"port": str(port), "socket": "", "prefix": self.spec.prefix}
            address = f"http://127.0.0.1:{port}"
        return address, [token.format(**values) for token in shlex.split(self.spec.command)]

    def _listen_env(self, address: str) -> dict[str, str]:
        if address.startswith("unix:"):
            return {"PORTAL_SOCKET": address.removeprefix("unix:")}
        return {"PORTAL_PORT": address.rsplit(":", 1)[1]}

    def _read_output(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                self.output.append(line)
                log.info("%s | %s", self.spec.key, line)

    def _wait_healthy(self, address: str, ended: threading.Event) -> bool:
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            if ended.is_set():
                return False
            if answers(address, self.spec.health_path):
                return True
            ended.wait(HEALTH_INTERVAL_SECONDS)
        return False

    def _end_group(self, process: subprocess.Popen) -> None:
        """SIGTERM to the group, SIGKILL to whatever is left after the grace: what the
        command started ends with it, even when the command itself is already gone."""
        end_group(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_SECONDS)

    def _publish(
        self, state: State, *, address: str | None = None, pid: int | None = None, reason: str = ""
    ) -> None:
        previous = self.state
        self.state = ProcessState(
            state,
            detail=reason,
            output="\n".join(self.output),
            address=address or (previous.address if previous else ""),
            pid=pid,
            restarts=self.restarts,
        )
        self.states.write(self.spec.key, self.state)


def backoff(quick_exits: int) -> float:
    """The pause before the next start: doubling with each quick exit in a row, capped."""
    return min(BACKOFF_FIRST_SECONDS * 2 ** max(quick_exits - 1, 0), BACKOFF_MAX_SECONDS)


def _wait_then_set(process: subprocess.Popen, ended: threading.Event) -> None:
    process.wait()
    ended.set()


def end_group(pgid: int) -> None:
    """SIGTERM to a process group, then SIGKILL when anything of it outlives the grace (the
    watchdog ends groups the same way when the supervisor can't)."""
    end_groups({pgid}, STOP_GRACE_SECONDS)


def answers(address: str, path: str, timeout: float = HEALTH_REQUEST_SECONDS) -> bool:
    """Whether the server answers `GET path` with a 2xx or 3xx within `timeout` seconds (to
    connect, and between reads), as upstreams' health checks count it
    (`portal.products.upstream_health`)."""
    if address.startswith("unix:"):
        connection: http.client.HTTPConnection = _UnixConnection(
            address.removeprefix("unix:"), timeout
        )
    else:
        host, port = address.removeprefix("http://").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "portal-supervisor"})
        return connection.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ended(code: int | None) -> str:
    if code is None:
        return "it could not be started"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"it was ended by {signal.Signals(-code).name}"
    return f"it exited with status {code}"
