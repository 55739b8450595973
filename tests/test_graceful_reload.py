"""`kill -HUP` reloads gunicorn's workers gracefully and picks up a new product folder.

gunicorn keeps the listening socket in the master, so connections keep being accepted while the
workers are replaced. A gthread worker that is stopping can still reset a connection it had just
accepted (seen here: at most one per reload under a tight request loop); nginx in front retries
such idempotent requests on its own. What must hold: the reload needs no restart, new workers
serve the new product, and requests succeed once the old workers have gone.

The old workers serve until the new ones are warm: a product whose import waits for a file
(`GATED` from tests/test_import_marks.py) holds the new workers in their import for as long as
the test likes, and every request meanwhile is answered.
"""

import shutil
import signal
import time

import requests

from portal.config import PROJECT_ROOT
from tests.support.processes import Gunicorn
from tests.test_import_marks import GATED, marks_of, product, wait_for

PRODUCT = (
    "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'new']\n"
)


def ask(url):
    """One GET, sent again once if the connection is reset, as nginx does for idempotent ones."""
    try:
        return requests.get(url, allow_redirects=False, timeout=10).status_code
    except requests.ConnectionError:
        return requests.get(url, allow_redirects=False, timeout=10).status_code


def test_a_hup_reload_replaces_the_workers_and_serves_a_new_product(tmp_path):
    apps = tmp_path / "apps"
    shutil.copytree(PROJECT_ROOT / "apps" / "stable" / "hello", apps / "stable" / "hello")
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "PORTAL_APPS_DIR": str(apps),
            "PORTAL_APPS_RECHECK_SECONDS": "3600",
        },
        workers=2,
        log_path=log,
    )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("portal ready") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # both workers booted, so the reload replaces two finished workers
        (apps / "ea" / "fresh").mkdir(parents=True)
        (apps / "ea" / "fresh" / "__init__.py").write_text(PRODUCT)
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while (
            log.read_text().count("portal ready") < 4 or log.read_text().count("Worker exiting") < 2
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log.read_text().count("portal ready") == 4
        assert log.read_text().count("Worker exiting") == 2
        assert {ask(server.base_url + "/healthz") for _ in range(20)} == {200}
        assert ask(server.base_url + "/ea/fresh/") == 302
        assert server.process.poll() is None
    finally:
        server.stop()


def test_old_workers_serve_until_the_new_ones_are_warm(tmp_path):
    apps, gate, marks = tmp_path / "apps", tmp_path / "gate", tmp_path / "instance" / "importing"
    product(apps, "stable/gated", GATED)
    gate.touch()
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "PORTAL_APPS_DIR": str(apps),
            "PORTAL_IMPORT_TIMEOUT_SECONDS": "600",
            "TEST_IMPORT_GATE": str(gate),
        },
        workers=2,
        log_path=log,
    )
    try:
        wait_for(lambda: server.log().count("portal ready") == 2, "both workers booted")
        old = server.worker_pids()
        gate.unlink()
        server.process.send_signal(signal.SIGHUP)
        new = wait_for(
            lambda: (
                len(marks_of(marks, "stable/gated") - old) == 2
                and marks_of(marks, "stable/gated") - old
            ),
            "two new workers importing",
            log=server.log,
        )
        answers = [
            requests.get(
                server.base_url + "/healthz", headers={"Connection": "close"}, timeout=20
            ).status_code
            for _ in range(20)
        ]
        assert answers == [200] * 20
        assert old <= server.worker_pids()  # the old workers served them
        gate.touch()
        wait_for(lambda: server.worker_pids() == new, "the old workers gone", log=server.log)
        assert server.log().count("warm: taking connections") == 4
    finally:
        server.stop()
