"""Starting, keeping and stopping the portal's one supervisor, from the process that owns the
workers.

gunicorn's master (`on_starting`, `on_exit` in gunicorn.conf.py) and `portal serve` call these;
the workers never do, so two workers never start two copies of a product. The supervisor's
folder is named in the environment before any worker is forked, so every worker reads the
states of its own portal's supervisor (`portal.products.process_files`).

The supervisor is kept running like it keeps its products: a thread of the launching process
waits for it and, if it ends without being asked (SIGKILL, the out-of-memory killer, a crash),
starts another on the same state folder after half a second (doubling, as for products, while
each one dies within `STEADY_SECONDS` of its start). The dead one's watchdog ends its products;
the new one starts them afresh, so they serve again after that pause and their own start.

The thread waits on the process itself, and gunicorn's master reaps every child with
`waitpid(-1)` when it gets SIGCHLD, so the wait may end in ECHILD instead of a status: Python
reports that as an exit all the same.
The thread must outlive every supervisor it starts, because `PR_SET_PDEATHSIG` (how the kernel
ends the supervisor with its launcher) fires when the *thread* that started it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from portal.products.process_files import STATE_DIR_VARIABLE, state_folder
from portal.products.process_runner import STOP_GRACE_SECONDS, backoff
from portal.settings import Settings

log = logging.getLogger(__name__)

#: A supervisor that ran this long before it died is started again after the shortest pause.
STEADY_SECONDS = 30.0


class SupervisorProcess:
    """The running supervisor, as its launcher holds it: started again whenever it dies,
    until `stop()`."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.process = self._spawn()
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="portal-supervisor", daemon=True)
        self._keeper.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Stop every product and the supervisor; SIGKILL it if it outlives its products'
        grace by far (its watchdog still ends their groups then)."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        self._keeper.join(timeout=STOP_GRACE_SECONDS + 10)
        if process.poll() is None:
            log.error("the product supervisor did not stop in time; killing it")
            process.kill()
            process.wait()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)  # noqa: S603

    def _keep(self) -> None:
        young = 0
        while True:
            started = time.monotonic()
            self.process.wait()  # its status is lost when gunicorn's master reaps it first
            if self._stopping.is_set():
                return
            young = young + 1 if time.monotonic() - started < STEADY_SECONDS else 1
            pause = backoff(young)
            log.error(
                "the product supervisor (pid %d) ended without being asked; "
                "starting another in %g s",
                self.process.pid,
                pause,
            )
            if self._stopping.wait(pause):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._spawn()
                self.restarts += 1


_running: list[SupervisorProcess] = []


def stop_supervisor() -> None:
    """Stop the supervisor this process started, if it started one."""
    while _running:
        _running.pop().stop()


def start_supervisor(settings: Settings) -> SupervisorProcess:
    """Start the supervisor for this portal's `command` products, as a child of this process,
    and keep it running."""
    folder = state_folder(settings.instance_path, os.getpid())
    os.environ[STATE_DIR_VARIABLE] = str(folder)
    argv = [
        sys.executable,
        "-m",
        "portal.products.supervisor",
        "--apps-dir",
        str(settings.apps_dir),
        "--state-dir",
        str(folder),
        "--recheck",
        str(settings.apps_recheck_seconds),
        "--base-url",
        settings.base_url,
        "--bind",
        settings.bind,
        "--parent",
        str(os.getpid()),
    ]
    for pattern in settings.apps_patterns:
        argv += ["--apps", pattern]
    if settings.json_logs:
        argv.append("--json-logs")
    supervisor = SupervisorProcess(argv)
    _running.append(supervisor)
    return supervisor
