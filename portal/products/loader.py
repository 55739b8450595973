"""Importing one product's code into the portal's process without letting it stop the portal.

A product's import is someone else's code running inside the portal: it may raise, call
`sys.exit()`, wait forever on a server that is down, or end the process (`os._exit`, a crash in
a C extension). So the import runs in a thread of its own with a deadline, every exception is
caught (`SystemExit` and `KeyboardInterrupt` too), and a mark is left in the instance folder
while it runs: a process that dies in the middle leaves its mark behind, and the next process
(the worker gunicorn starts instead, or the next `portal serve`) finds it. A process can die for
reasons of its own (a `kill -9`, the out-of-memory killer, a deploy), so the next one imports the
product once more; only a product whose import ended two processes in a row is left broken, and
not imported again until its files change. A process told to stop (SIGTERM, SIGINT) while it
imports takes its marks away first. That is as far as loading in-process can contain a product;
one that must be able to crash runs as a process of its own.

Products are modules `apps.<tier>.<name>`, however the portal was started: the `apps` package
and its tier packages are registered here from the apps folder itself, so neither the current
directory nor `sys.path` decides whether products load.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: Folders under a product that never hold its code or templates.
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})


class ProductLoadError(Exception):
    """The product could not be imported; `str()` is one line, `details` the traceback."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


def folder_fingerprint(folder: Path) -> str:
    """What the product's files look like now (names, sizes, modification times): a change to
    any file, a new one or a removed one changes it. Cheap: one stat per file, no reading."""
    digest = hashlib.blake2b(digest_size=16)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith((".pyc", ".swp", "~")):
                continue
            path = os.path.join(root, name)
            with contextlib.suppress(FileNotFoundError):
                stat = os.stat(path)
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


#: Imports a product may end its process in before it is left broken: the first may be the
#: process's own death (killed, out of memory), the second in a row is the product's doing.
IMPORT_ATTEMPTS = 2
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ImportMarks:
    """Marks left in the instance folder while a product imports, one file per process.

    A mark holds the product's fingerprint and which attempt in a row the import is. A mark
    whose process no longer exists means that process died importing the product.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def attempt(self, key: str, fingerprint: str) -> int:
        """Which attempt in a row importing these very files would be: 1 when no process died
        importing them, one more than the most any dead process got to. Marks of dead processes
        are consumed (the new attempt's mark carries the count on); marks for older files are
        cleared."""
        died = 0
        for mark in self._marks(key):
            if _alive(int(mark.suffix[1:])):
                continue
            marked, _, count = mark.read_text(errors="replace").partition(" ")
            reached = int(count) if count.isdigit() else 1
            if marked == fingerprint:
                died = max(died, reached)
            if marked != fingerprint or reached < IMPORT_ATTEMPTS:
                mark.unlink(missing_ok=True)
        return died + 1

    @contextlib.contextmanager
    def importing(self, key: str, fingerprint: str, attempt: int = 1) -> Iterator[None]:
        """Hold a mark while the block runs; it stays only if the process dies inside, and not
        when the process is told to stop meanwhile. Where the instance folder can't be written,
        products still load, unguarded."""
        mark = self.directory / f"{key.replace('/', '.')}.{os.getpid()}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            mark.write_text(f"{fingerprint} {attempt}")
        except OSError as error:
            log.warning("cannot leave an import mark in %s: %s", self.directory, error)
        try:
            with _removed_when_stopped(mark):
                yield
        finally:
            mark.unlink(missing_ok=True)

    def _marks(self, key: str) -> list[Path]:
        if not self.directory.is_dir():
            return []
        prefix = key.replace("/", ".") + "."
        return [
            path
            for path in self.directory.iterdir()
            if path.name.startswith(prefix) and path.name[len(prefix) :].isdigit()
        ]


@contextlib.contextmanager
def _removed_when_stopped(mark: Path) -> Iterator[None]:
    """Remove `mark` first when SIGTERM or SIGINT arrives meanwhile, then do what the signal did
    before (gunicorn's graceful stop, a KeyboardInterrupt, or the default: end the process).

    Python runs signal handlers in the main thread only, so imports elsewhere (the apps folder's
    watcher) are left as they are; a stop during one of those leaves a mark that costs the
    product one retry, no more.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {number: signal.getsignal(number) for number in _STOP_SIGNALS}

    def stop(number: int, frame: object) -> None:
        mark.unlink(missing_ok=True)
        previous = before[number]
        if callable(previous):
            previous(number, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    for number in _STOP_SIGNALS:
        signal.signal(number, stop)
    try:
        yield
    finally:
        for number, previous in before.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register_packages(apps_dir: Path, tier: str) -> None:
    """Make `apps` and `apps.<tier>` importable from `apps_dir`, whatever `sys.path` holds.

    When `apps` is already a package (the project root is on `sys.path`, as in tests), the apps
    folder is added to its search path instead, so absolute imports inside a product
    (`from apps.admin.manage.views import ...`) resolve in the folder it was loaded from.
    """
    for name, folder in (("apps", apps_dir), (f"apps.{tier}", apps_dir / tier)):
        module = sys.modules.get(name)
        if module is None:
            module = _package(name, folder)
            sys.modules[name] = module
            if name != "apps":
                sys.modules["apps"].__dict__.setdefault(tier, module)
        search = getattr(module, "__path__", None)
        if search is not None and str(folder) not in list(search):
            search.append(str(folder))


def _package(name: str, folder: Path) -> types.ModuleType:
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(folder)]
        )
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    module = types.ModuleType(name)
    module.__path__ = [str(folder)]
    return module


def load_product_app(apps_dir: Path, tier: str, folder: Path, *, timeout: float) -> Callable:
    """Import `apps.<tier>.<name>` afresh from its folder and return its WSGI app.

    Raises ProductLoadError for anything the import does wrong, including not finishing within
    `timeout` seconds (its thread is left to finish or hang on its own; the portal goes on).
    If the import fails, the modules of the previous import stay in place, so an instance that
    is still serving keeps working.
    """
    register_packages(apps_dir, tier)
    module_name = f"apps.{tier}.{folder.name}"
    previous = {
        name: module
        for name, module in sys.modules.items()
        if name == module_name or name.startswith(module_name + ".")
    }
    for name in previous:
        del sys.modules[name]
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["app"] = _import(module_name, folder)
        except BaseException as error:  # SystemExit and KeyboardInterrupt are failures too
            outcome["error"] = _failure(error)

    worker = threading.Thread(target=run, name=f"import {module_name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        outcome["error"] = ProductLoadError(
            f"the import did not finish within {timeout:g} s (PORTAL_IMPORT_TIMEOUT_SECONDS); "
            "it is left running and the product is not served"
        )
    error = outcome.get("error")
    if isinstance(error, ProductLoadError):
        for name in [n for n in sys.modules if n == module_name or n.startswith(module_name + ".")]:
            del sys.modules[name]
        sys.modules.update(previous)
        raise error
    return outcome["app"]  # type: ignore[return-value]


def _failure(error: BaseException) -> ProductLoadError:
    if isinstance(error, ProductLoadError):
        return error
    if isinstance(error, SystemExit):
        message = f"SystemExit: the product called sys.exit({error.code!r}) while importing"
    else:
        message = f"{type(error).__name__}: {error}"
    return ProductLoadError(message, traceback.format_exc())


def _import(module_name: str, folder: Path) -> Callable:
    spec = importlib.util.spec_from_file_location(
        module_name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ProductLoadError(f"cannot import {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    app = getattr(module, "app", None)
    factory = getattr(module, "create_app", None)
    if app is None and callable(factory):
        app = factory()
    if app is None or not callable(app):
        raise ProductLoadError(
            "TypeError: the package exposes neither a WSGI `app` nor a `create_app()` factory"
        )
    return app


_django_owner: str | None = None


def one_django_per_process(key: str, app: Callable) -> str | None:
    """Why this product can't be served in this process, if it is a second Django site.

    Django's settings are global to a process: a second site would silently serve the first
    one's views and settings. The first Django product keeps the process; any other is refused
    with a reason that says how to serve it instead.
    """
    global _django_owner
    handler = sys.modules.get("django.core.handlers.wsgi")
    if handler is None:
        return None
    candidate = getattr(app, "application", app)
    if not isinstance(candidate, handler.WSGIHandler):
        return None
    if _django_owner in (None, key):
        _django_owner = key
        return None
    return (
        f"Django allows one site per process and {_django_owner} already is that site here, "
        "so this one would serve its views; a second Django site needs a process of its own "
        "(docs/how-to/products/process.md)"
    )
