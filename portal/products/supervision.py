"""Starting and stopping the portal's one supervisor, from the process that owns the workers.

gunicorn's master (`on_starting`, `on_exit` in gunicorn.conf.py) and `portal serve` call these;
the workers never do, so two workers never start two copies of a product. The supervisor's
folder is named in the environment before any worker is forked, so every worker reads the
states of its own portal's supervisor (`portal.products.process_files`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys

from portal.config import Settings
from portal.products.process_files import STATE_DIR_VARIABLE, state_folder
from portal.products.process_runner import STOP_GRACE_SECONDS

log = logging.getLogger(__name__)


class SupervisorProcess:
    """The running supervisor, as its parent holds it."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Stop every product and the supervisor; SIGKILL it if it outlives its products'
        grace by far (its watchdog still ends their groups then)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_SECONDS + 10)
        except subprocess.TimeoutExpired:
            log.error("the product supervisor did not stop in time; killing it")
            self.process.kill()
            self.process.wait()


def start_supervisor(settings: Settings) -> SupervisorProcess:
    """Start the supervisor for this portal's `command` products, as a child of this process."""
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
        "--parent",
        str(os.getpid()),
    ]
    for pattern in settings.apps_patterns:
        argv += ["--apps", pattern]
    if settings.json_logs:
        argv.append("--json-logs")
    return SupervisorProcess(subprocess.Popen(argv, stdin=subprocess.DEVNULL))  # noqa: S603
