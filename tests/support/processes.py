"""Real servers in child processes: gunicorn with the project's own configuration."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from portal.config import PROJECT_ROOT

CLOSE_WAIT = "08"  # the TCP state's code in /proc/net/tcp


def tail(log: str, characters: int = 4000) -> str:
    """The end of a log, for an error message; tests that look for a line read the whole log."""
    return log[-characters:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_answering(server: object, url: str, name: str, seconds: float) -> None:
    """Until `url` answers with any status, or the server's process has exited: then, or after
    `seconds`, the server is stopped and the error shows its log. `server` has `process`,
    `log()` and `stop()`, as the helpers here for nginx and Caddy do."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited: {tail(server.log())}")
        try:
            requests.get(url, timeout=2, allow_redirects=False)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer within {seconds}s: {tail(server.log())}")


class Gunicorn:
    """`host_mode`: the portal on `http://localhost:<port>`, each product on a host of its own
    under it (as `tests.support.live` serves it)."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 2,
        log_path: Path | None = None,
        *,
        host_mode: bool = False,
        wait: bool = True,
        checkout: Path = PROJECT_ROOT,
    ) -> None:
        """`wait=False` returns as soon as the master runs, for tests about how workers boot.
        `checkout`: another checkout's portal, run with its own `.venv`, for a benchmark that
        compares it with this one."""
        self.port = free_port()
        host = f"{'localhost' if host_mode else '127.0.0.1'}:{self.port}"
        self.base_url = f"http://{host}"
        self.log_path = log_path
        full_env = {
            **os.environ,
            "PORTAL_BASE_URL": self.base_url,
            **({"PORTAL_HOST_DOMAIN": host} if host_mode else {}),
            "PORTAL_BIND": f"127.0.0.1:{self.port}",
            "PORTAL_WORKERS": str(workers),
            "PORTAL_LOGIN_RATE_LIMIT": "",
            **env,
        }
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        python = sys.executable if checkout == PROJECT_ROOT else checkout / ".venv/bin/python"
        self.process = subprocess.Popen(
            [str(python), "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=checkout,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}: {tail(self.log())}"
                )
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {seconds}s: {tail(self.log())}")

    def worker_pids(self) -> set[int]:
        """The master's worker processes right now, less the product supervisor."""
        return gunicorn_workers(self.process.pid)

    def supervisor_pid(self) -> int | None:
        """The master's child that runs the process products."""
        return supervisor_of(self.process.pid)

    def sockets_in_close_wait(self) -> int:
        """Server-side sockets on gunicorn's port that the client closed and gunicorn did not."""
        port = f"{self.port:04X}"
        with open("/proc/net/tcp") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        return sum(1 for row in rows if row[1].endswith(f":{port}") and row[3] == CLOSE_WAIT)

    def log(self) -> str:
        """Everything gunicorn has written so far: a line the test looks for never scrolls out."""
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def children_of(pid: int) -> set[int]:
    """A process's children right now, whichever of its threads started them (Linux: /proc;
    gunicorn's master starts a supervisor that died again from a thread of its own)."""
    children = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            children |= {int(child) for child in (task / "children").read_text().split()}
    return children


def supervisor_of(master: int) -> int | None:
    """The gunicorn master's child that runs the process products, if it has one."""
    for pid in children_of(master):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"portal.products.supervisor" in command:
            return pid
    return None


def gunicorn_workers(master: int) -> set[int]:
    """The gunicorn master's workers: its children, less the product supervisor."""
    return children_of(master) - {supervisor_of(master)}
