"""An import mark outlives no process that was merely killed or stopped: a product is left broken
only when its import ended the portal's process twice in a row.

The products here wait, while they are imported, for a file the test creates (`GATED`), so a
test can kill or stop a process exactly while its mark is in the instance folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from portal.config import PROJECT_ROOT
from portal.products.discovery import PROCESS_DIED, Loading, Status, discover
from portal.products.loader import ImportMarks
from tests.support.processes import Gunicorn, free_port, tail
from tests.support.signin import sign_in

pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(240)]

GATED = """
import os
import time
from pathlib import Path

while not Path(os.environ["TEST_IMPORT_GATE"]).exists():
    time.sleep(0.05)

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"gated"]
"""
KILLER = "import os\nos._exit(7)\n"
DISCOVER = (
    "import sys\nfrom pathlib import Path\n"
    "from portal.products.discovery import Loading, discover\n"
    "from portal.products.loader import ImportMarks\n"
    "discover(Path(sys.argv[1]), loading=Loading(marks=ImportMarks(Path(sys.argv[2]))))\n"
)


def product(apps: Path, key: str, source: str) -> Path:
    folder = apps / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(textwrap.dedent(source))
    return folder


def wait_for(condition, what: str, seconds: float = 90, log=lambda: ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} within {seconds} s\n{tail(log())}")


def marks_of(folder: Path, key: str) -> set[int]:
    """The processes holding a mark for `key` now."""
    prefix = key.replace("/", ".") + "."
    if not folder.is_dir():
        return set()
    return {int(p.name[len(prefix) :]) for p in folder.iterdir() if p.name.startswith(prefix)}


@pytest.fixture
def instance(tmp_path: Path) -> dict:
    apps = tmp_path / "apps"
    product(apps, "stable/gated", GATED)
    return {
        "apps": apps,
        "gate": tmp_path / "gate",
        "marks": tmp_path / "instance" / "importing",
        "env": {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "PORTAL_APPS_DIR": str(apps),
            "PORTAL_IMPORT_TIMEOUT_SECONDS": "600",
            "TEST_IMPORT_GATE": str(tmp_path / "gate"),
        },
    }


def test_products_load_after_every_worker_was_killed_while_importing_them(instance, tmp_path):
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(instance["env"], workers=2, log_path=log, wait=False)
    try:
        importing = wait_for(
            lambda: (
                len(marks_of(instance["marks"], "stable/gated")) == 2
                and marks_of(instance["marks"], "stable/gated")
            ),
            "both workers importing",
            log=server.log,
        )
        assert importing == server.worker_pids()
        for pid in importing:
            os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: len(marks_of(instance["marks"], "stable/gated") - importing) == 2,
            "the workers started instead importing the product again",
            log=server.log,
        )
        instance["gate"].touch()
        server.wait_ready()
    finally:
        server.stop()
    restarted = Gunicorn(instance["env"], workers=2, log_path=log)
    try:
        ready = requests.get(restarted.base_url + "/readyz", timeout=10).json()
        assert ready["products"]["broken"] == 0
        page = sign_in(restarted.base_url, "stable").get(
            restarted.base_url + "/stable/gated/", timeout=10
        )
        assert (page.status_code, page.text) == (200, "gated")
        assert marks_of(instance["marks"], "stable/gated") == set()
    finally:
        restarted.stop()


def test_a_product_that_ends_its_process_on_two_boots_in_a_row_stays_broken(tmp_path):
    apps, marks = tmp_path / "apps", tmp_path / "marks"
    product(apps, "ea/killer", KILLER)
    product(apps, "stable/good", GATED)
    (tmp_path / "gate").touch()
    env = {**os.environ, "TEST_IMPORT_GATE": str(tmp_path / "gate")}
    boots = [
        subprocess.run(
            [sys.executable, "-c", DISCOVER, str(apps), str(marks)],
            cwd=PROJECT_ROOT,
            env=env,
            timeout=60,
        ).returncode
        for _ in range(2)
    ]
    assert boots == [7, 7]  # the second boot imported it again: the first death may not be its own
    os.environ["TEST_IMPORT_GATE"] = str(tmp_path / "gate")
    try:
        found = {
            p.info.key: p
            for p in discover(apps, loading=Loading(marks=ImportMarks(marks))).products
        }
    finally:
        del os.environ["TEST_IMPORT_GATE"]
    assert (found["ea/killer"].status, found["ea/killer"].error) == (Status.BROKEN, PROCESS_DIED)
    assert found["stable/good"].status is Status.LOADED


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_portal_serve_stopped_while_importing_leaves_no_mark(instance, signum):
    env = {**os.environ, **instance["env"]}
    env.pop("PORTAL_BASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "serve", "--port", str(free_port())],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: marks_of(instance["marks"], "stable/gated"), "the import's mark")
        os.kill(process.pid, signum)
        process.wait(timeout=60)
        assert list(instance["marks"].iterdir()) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
