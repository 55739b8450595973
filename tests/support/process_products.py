"""Process products for tests: folders with a product.toml `command`, the supervisor that runs
them, and a look at which processes are still running in a folder."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import requests

from portal.config import load_settings
from portal.products.process_files import STATE_DIR_VARIABLE, StateReader
from portal.products.process_state import ProcessState
from portal.products.supervision import SupervisorProcess, start_supervisor

#: A product as small as a process product can be: answers every GET with its name and pid.
HTTP_SERVER = textwrap.dedent(
    """
    import http.server, json, os, socketserver, sys

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{os.environ['PORTAL_PRODUCT']} {self.path} pid={os.getpid()}".encode()
            if self.path == "/env":
                body = json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        def get_request(self):
            request, _ = super().get_request()
            return request, ("local", 0)

    print("listening on", sys.argv[1], flush=True)
    if sys.argv[1].startswith("/"):
        UnixServer(sys.argv[1], Answer).serve_forever()
    else:
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Answer).serve_forever()
    """
)


#: `extra` for `http_product`: it takes three seconds to start once a file `slow` is in its
#: folder, so a test that needs it down for a while (being started again) sees it down.
SLOW_START = "import os, time\nif os.path.exists('slow'):\n    time.sleep(3)\n"


def add_product(apps: Path, key: str, command: str, files: dict[str, str] | None = None) -> Path:
    folder = apps / key
    folder.mkdir(parents=True)
    (folder / "product.toml").write_text(f"command = {json.dumps(command)}\n")
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def http_product(
    apps: Path, key: str, *, extra: str = "", listen: str = "{port}", arguments: str = ""
) -> Path:
    """A product serving HTTP on its port (or socket); `extra` runs first. `GET /env` answers
    its command line's arguments and its environment."""
    return add_product(
        apps,
        key,
        f"{sys.executable} server.py {listen} {arguments}".rstrip(),
        {"server.py": extra + HTTP_SERVER},
    )


class Supervised:
    """The supervisor a portal would start, for an apps folder of a test's own."""

    def __init__(self, apps: Path, instance: Path, monkeypatch: object, **env: str) -> None:
        monkeypatch.setenv(STATE_DIR_VARIABLE, "")  # restored when the test ends
        self.settings = load_settings(
            {
                "PORTAL_INSTANCE_PATH": str(instance),
                "PORTAL_APPS_DIR": str(apps),
                "PORTAL_APPS_RECHECK_SECONDS": "0.3",
                **env,
            }
        )
        self.process: SupervisorProcess = start_supervisor(self.settings)
        self.states = StateReader(Path(os.environ[STATE_DIR_VARIABLE]))

    def state(self, key: str) -> ProcessState | None:
        return self.states.get(key)

    def wait_for(
        self, key: str, check: Callable[[ProcessState], bool], seconds: float = 60
    ) -> ProcessState:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = self.state(key)
            if state is not None and check(state):
                return state
            time.sleep(0.05)
        raise AssertionError(f"{key} never reached the expected state; last: {self.state(key)}")

    def wait_up(self, key: str, seconds: float = 60) -> ProcessState:
        return self.wait_for(key, lambda state: state.serving, seconds)

    def stop(self) -> None:
        self.process.stop()


def wait_up(states: StateReader, key: str, seconds: float = 60) -> ProcessState:
    """The product's state once its process is up (as a worker of the portal reads it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = states.get(key)
        if state is not None and state.serving:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{key} is not up: {states.get(key)}")


def wait_up_again(states: StateReader, key: str, old_pid: int, seconds: float = 60) -> ProcessState:
    """The product's state once a process other than `old_pid` serves it, under a running
    supervisor."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = states.get(key)
        if (
            state is not None
            and state.serving
            and state.pid != old_pid
            and states.supervisor_running()
        ):
            return state
        time.sleep(0.05)
    raise AssertionError(f"{key} is not up again: {states.get(key)}")


def get(address: str, path: str = "/") -> requests.Response:
    return requests.get(address + path, timeout=10)


def processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is in `folder`: a product and whatever it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == str(folder) or cwd.startswith(f"{folder}/"):
            found.append(int(entry.name))
    return found


def wait_gone(folder: Path, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while processes_in(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return processes_in(folder)


def ended(pid: int, seconds: float = 30) -> bool:
    """Whether the process ends within `seconds` (a zombie nobody reaps has ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if status.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
