"""`kill -HUP` reloads gunicorn's workers gracefully and picks up a new product folder.

gunicorn keeps the listening socket in the master, so connections keep being accepted while the
workers are replaced. A gthread worker that is stopping can still reset a connection it had just
accepted (seen here: at most one per reload under a tight request loop); nginx in front retries
such idempotent requests on its own. What must hold: the reload needs no restart, new workers
serve the new product, and requests succeed once the old workers have gone.

The old workers serve until the new ones are warm: a product whose import waits for a file
(`GATED` from tests/test_import_marks.py) holds the new workers in their import for as long as
the test likes, and every request meanwhile is answered.

New workers also know the issuer's signing keys before they take connections, so a script's
bearer token is checked by the first worker it reaches after a reload: the issuer here is a
development provider on a socket of its own, answering its keys late once the test says so.
"""

import shutil
import signal
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from devidp import DevIdpSettings, create_dev_idp
from portal.config import PROJECT_ROOT
from portal.handover import Handover
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.test_failures_identity_provider import CLIENT_ID, CLIENT_SECRET, GREETING, _starting
from tests.test_import_marks import GATED, marks_of, product, wait_for

pytestmark = pytest.mark.gunicorn

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
        # Warm, not just loaded: a worker still waiting for the issuer's keys has not yet
        # taken connections, and a reload ends it at once.
        wait_for(lambda: server.log().count("warm: taking connections") == 2, "both workers warm")
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
        gate.touch()  # a failed run leaves no worker waiting on the import
        server.stop()


def test_a_worker_is_alone_until_another_is_warm_and_again_once_it_is_gone(tmp_path):
    handover = Handover(tmp_path / "workers")
    handover.warm(101, 1)
    assert handover.others_warm(101) is False
    handover.warm(102, 2)
    assert (handover.others_warm(101), handover.others_warm(102)) == (True, True)
    handover.gone(101)
    assert handover.others_warm(102) is False


#: How late the issuer answers its keys once slowed: longer than old workers take to go.
KEYS_DELAY_SECONDS = 2.0


class SlowKeys:
    """The issuer's app, answering its signing keys `KEYS_DELAY_SECONDS` late once `slow` is set."""

    def __init__(self, app) -> None:
        self.app = app
        self.slow = threading.Event()

    def __call__(self, environ, start_response):
        if self.slow.is_set() and environ.get("PATH_INFO") == "/.well-known/jwks.json":
            time.sleep(KEYS_DELAY_SECONDS)
        return self.app(environ, start_response)


def test_after_a_hup_the_first_bearer_request_finds_the_issuers_keys(tmp_path):
    apps = tmp_path / "apps"
    shutil.copytree(PROJECT_ROOT / "apps" / "stable" / "hello", apps / "stable" / "hello")
    idp_server = make_server("127.0.0.1", 0, _starting, threaded=True)
    issuer = f"http://127.0.0.1:{idp_server.server_port}"
    server = Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "PORTAL_APPS_DIR": str(apps),
            "OIDC_ISSUER": issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_AUDIENCE": "portal-api",
        },
        workers=2,
        log_path=tmp_path / "gunicorn.log",
        wait=False,
    )
    provider_app = create_dev_idp(
        DevIdpSettings(
            issuer=issuer,
            database_url=f"sqlite:///{tmp_path / 'provider.sqlite3'}",
            secret_key="provider-reload-tests-0123456789abcdefghijkl",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=(f"{server.base_url}/callback",),
            post_logout_redirect_uris=(f"{server.base_url}/",),
            audience="portal-api",
        )
    )
    keys = SlowKeys(provider_app)
    idp_server.app = keys
    threading.Thread(target=idp_server.serve_forever, daemon=True).start()
    try:
        server.wait_ready()
        wait_for(lambda: server.log().count("portal ready") == 2, "both workers booted")
        sign_in(server.base_url, "stable")  # the portal knows the user a token names
        token = provider_app.extensions["devidp"].access_token_for("stable@example.com")
        bearer = {"Authorization": f"Bearer {token}"}
        old = server.worker_pids()
        keys.slow.set()
        server.process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: len(server.worker_pids() - old) == 2 and not server.worker_pids() & old,
            "the old workers replaced",
            log=server.log,
        )
        answers = [
            requests.get(
                server.base_url + GREETING,
                headers={**bearer, "Connection": "close"},
                timeout=20,
            )
            for _ in range(4)
        ]
        assert [answer.status_code for answer in answers] == [200] * 4, answers[0].text
        assert answers[0].json()["message"] == "Hello, Sam Stable"
    finally:
        server.stop()
        idp_server.shutdown()
        idp_server.server_close()
