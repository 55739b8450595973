"""The state folder: how the supervisor hands its products' states to every worker.

One supervisor per portal runs the `command` products (`portal.products.supervisor`); the
workers that serve requests are other processes, so they learn each product's address and state
from a small folder the supervisor writes: one JSON file per product, each replaced whole
(written beside it, then renamed), so a reader sees the old state or the new one, never half of
one. Readers keep what they read until the file changes (one `stat` per request), and `portal
apps` reads the same files to show a running portal's products.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

from portal.products.process_state import ProcessState

#: The supervisor's own record in the folder (its process id), beside the products' files.
SUPERVISOR_FILE = "supervisor.json"


#: Set by the process that starts the supervisor, so its workers (forked from it, or itself)
#: read that supervisor's folder: nodes sharing an instance folder each have their own. The
#: portal sets it for itself; it is not a setting.
STATE_DIR_VARIABLE = "PORTAL_PROCESS_STATE_DIR"


def states_root(instance_path: Path) -> Path:
    return instance_path / "processes"


def state_folder(instance_path: Path, launcher_pid: int) -> Path:
    """The folder the supervisor started by process `launcher_pid` writes."""
    return states_root(instance_path) / str(launcher_pid)


def current_state_folder() -> Path | None:
    """The folder of the supervisor this portal started (None: it started none, as in tests
    that build the portal in-process)."""
    value = os.environ.get(STATE_DIR_VARIABLE)
    return Path(value) if value else None


def running_state_folders(instance_path: Path) -> list[Path]:
    """The folders of supervisors still running on this instance folder, for `portal apps`."""
    root = states_root(instance_path)
    if not root.is_dir():
        return []
    return [folder for folder in sorted(root.iterdir()) if StateReader(folder).supervisor_running()]


def _file_name(key: str) -> str:
    return key.replace("/", "__") + ".json"


class StateFolder:
    """The supervisor's side: write and remove product states, all or nothing per file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def reset(self, supervisor_pid: int) -> None:
        """Start from an empty folder holding this supervisor's process id, and remove the
        folders of supervisors that are gone (a portal killed with everything in it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for sibling in self.path.parent.iterdir():
            if (
                sibling != self.path
                and sibling.name.isdigit()
                and not StateReader(sibling).supervisor_running()
            ):
                shutil.rmtree(sibling, ignore_errors=True)
        self.clear()
        self._replace(SUPERVISOR_FILE, {"pid": supervisor_pid})

    def remove_all(self) -> None:
        """The supervisor is done: nothing of it is left."""
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, key: str, state: ProcessState) -> None:
        self._replace(_file_name(key), {**state.to_json(), "key": key})

    def remove(self, key: str) -> None:
        (self.path / _file_name(key)).unlink(missing_ok=True)

    def clear(self) -> None:
        for stale in self.path.glob("*.json"):
            stale.unlink(missing_ok=True)

    def _replace(self, name: str, data: dict) -> None:
        fd, draft = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(draft, self.path / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(draft)
            raise


class StateReader:
    """The workers' side: a product's latest state, reread only when its file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], ProcessState]] = {}
        self._supervisor_pid: int | None = None

    def get(self, key: str) -> ProcessState | None:
        """The product's state, or None while no supervisor has written one."""
        file = self.path / _file_name(key)
        try:
            stat = file.stat()
        except FileNotFoundError:
            return None
        version = (stat.st_ino, stat.st_mtime_ns)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = _read(file)
        if found is None:
            return None
        with self._lock:
            self._cache[key] = (version, found[1])
        return found[1]

    def supervisor_running(self) -> bool:
        """Whether the supervisor that writes these states is running (a portal killed with
        everything in it leaves its last states behind; a supervisor that died leaves its
        products' last addresses until its launcher starts another, which writes its own
        process id here). One system call while the known supervisor runs."""
        if self._supervisor_pid is not None and _alive(self._supervisor_pid):
            return True
        try:
            self._supervisor_pid = int(json.loads((self.path / SUPERVISOR_FILE).read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return _alive(self._supervisor_pid)

    def all(self) -> dict[str, ProcessState]:
        """Every product's state, by `tier/name`."""
        found = {}
        for file in sorted(self.path.glob("*__*.json")):
            read = _read(file)
            if read is not None:
                found[read[0]] = read[1]
        return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _read(file: Path) -> tuple[str, ProcessState] | None:
    """The product's key and state; None for a file that is gone or not a state."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return str(data["key"]), ProcessState.from_json(data)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None
