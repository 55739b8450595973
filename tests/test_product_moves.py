"""Moving a product to another tier takes effect at once on every worker, and its old address
keeps redirecting after restarts, whether the folder was moved by hand or by `portal promote`."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import requests

from portal.config import PROJECT_ROOT
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in

pytestmark = pytest.mark.gunicorn

WIDGETS = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"widgets"]
"""


def make_apps(tmp_path):
    apps = tmp_path / "apps"
    (apps / "ea" / "widgets").mkdir(parents=True)
    (apps / "ea" / "widgets" / "__init__.py").write_text(textwrap.dedent(WIDGETS))
    (apps / "devel").mkdir()
    return apps


def serve(tmp_path, apps):
    return Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "PORTAL_APPS_DIR": str(apps),
            "PORTAL_APPS_RECHECK_SECONDS": "3600",  # only the moves themselves may be noticed
        },
        workers=2,
        log_path=tmp_path / "gunicorn.log",
    )


@pytest.fixture
def moved_apps(tmp_path):
    return tmp_path, make_apps(tmp_path)


def test_a_product_moved_up_a_tier_is_never_served_again_from_its_old_address(moved_apps):
    tmp_path, apps = moved_apps
    server = serve(tmp_path, apps)
    try:
        ea = sign_in(server.base_url, "ea")
        fresh = {"Connection": "close"}  # new connections, so both workers answer
        before = [ea.get(server.base_url + "/ea/widgets/", headers=fresh) for _ in range(16)]
        assert {answer.status_code for answer in before} == {200}
        shutil.move(apps / "ea" / "widgets", apps / "devel" / "widgets")
        after = [
            ea.get(server.base_url + "/ea/widgets/", headers=fresh, allow_redirects=False)
            for _ in range(64)
        ]
        assert [(a.status_code, a.headers.get("Location")) for a in after] == [
            (308, "/devel/widgets/")
        ] * 64
        assert ea.get(server.base_url + "/devel/widgets/", timeout=10).status_code == 403
    finally:
        server.stop()


def test_the_old_address_still_redirects_after_a_restart(moved_apps):
    tmp_path, apps = moved_apps
    server = serve(tmp_path, apps)
    try:
        admin = sign_in(server.base_url, "admin")
        assert admin.get(server.base_url + "/ea/widgets/", timeout=10).text == "widgets"
        shutil.move(apps / "ea" / "widgets", apps / "devel" / "widgets")
        assert admin.get(server.base_url + "/ea/widgets/", timeout=10).text == "widgets"
    finally:
        server.stop()
    restarted = serve(tmp_path, apps)
    try:
        answer = requests.get(
            restarted.base_url + "/ea/widgets/page?x=1", allow_redirects=False, timeout=10
        )
        assert (answer.status_code, answer.headers["Location"]) == (308, "/devel/widgets/page?x=1")
    finally:
        restarted.stop()


def test_portal_promote_records_the_move_for_the_next_start(moved_apps):
    tmp_path, apps = moved_apps
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "PORTAL_APPS_DIR": str(apps),
    }
    subprocess.run(
        [sys.executable, "-m", "portal.cli", "db", "upgrade"], cwd=PROJECT_ROOT, env=env, check=True
    )
    promoted = subprocess.run(
        [sys.executable, "-m", "portal.cli", "promote", "ea/widgets", "devel"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert promoted.stdout.strip() == (
        f"Moved {apps / 'ea' / 'widgets'} to {apps / 'devel' / 'widgets'}. "
        "It is served at /devel/widgets/ (a running portal picks the move up at once), "
        "and /ea/widgets/ redirects there."
    )
    server = serve(tmp_path, apps)
    try:
        answer = requests.get(server.base_url + "/ea/widgets/", allow_redirects=False, timeout=10)
        assert (answer.status_code, answer.headers["Location"]) == (308, "/devel/widgets/")
    finally:
        server.stop()
