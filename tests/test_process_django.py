"""Django sites as process products behind one portal (under gunicorn): each serves its own
view, though all are Django and even share module names, which one process can't hold; an edit
is served by Django's own autoreloader."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests

from portal.config import PROJECT_ROOT
from portal.products.process_files import StateReader, state_folder
from tests.support.process_products import wait_up
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in

pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(180)]

BOARD = PROJECT_ROOT / "apps/devel/board"


def django_site(apps, key, note):
    """The board sample at `key`, with a view of its own."""
    folder = apps / key
    shutil.copytree(BOARD, folder)
    views = folder / "board_site/views.py"
    views.write_text(views.read_text().replace('"Stations 4 and 7', f'"{note}", "Stations 4 and 7'))
    return folder


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("django-sites")
    apps, instance = root / "apps", root / "instance"
    django_site(apps, "ea/alpha", "This is the alpha site.")
    django_site(apps, "ea/beta", "This is the beta site.")
    django_site(apps, "ea/gamma", "This is the gamma site.")
    server = Gunicorn(
        {"PORTAL_APPS_DIR": str(apps), "PORTAL_INSTANCE_PATH": str(instance)},
        workers=2,
        log_path=root / "gunicorn.log",
    )
    states = StateReader(state_folder(instance, server.process.pid))
    for key in ("ea/alpha", "ea/beta", "ea/gamma"):
        wait_up(states, key)
    server.states = states
    server.apps = apps
    yield server
    server.stop()


def test_each_django_site_serves_its_own_view(portal):
    http = sign_in(portal.base_url, "ea")
    alpha = http.get(portal.base_url + "/ea/alpha/", timeout=10)
    beta = http.get(portal.base_url + "/ea/beta/", timeout=10)
    assert alpha.status_code == beta.status_code == 200
    assert "This is the alpha site." in alpha.text
    assert "This is the beta site." not in alpha.text
    assert "This is the beta site." in beta.text
    assert "This is the alpha site." not in beta.text


def test_each_site_makes_its_links_under_its_own_mount(portal):
    http = sign_in(portal.base_url, "ea")
    assert '<a href="/ea/alpha/">Reload</a>' in http.get(portal.base_url + "/ea/alpha/").text
    assert '<a href="/ea/beta/">Reload</a>' in http.get(portal.base_url + "/ea/beta/").text


def test_the_site_learns_who_is_calling_from_the_portal(portal):
    page = sign_in(portal.base_url, "ea").get(portal.base_url + "/ea/alpha/", timeout=10)
    assert "Signed in as Eve Early." in page.text


def test_a_spoofed_identity_header_never_reaches_the_site(portal):
    page = requests.get(
        portal.base_url + "/ea/alpha/",
        headers={"X-Portal-Name": "Mallory"},
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 302
    http = sign_in(portal.base_url, "ea")
    page = http.get(portal.base_url + "/ea/alpha/", headers={"X-Portal-Name": "Mallory"})
    assert "Mallory" not in page.text


def test_a_lower_tier_is_refused_before_the_site_is_asked(portal):
    page = sign_in(portal.base_url, "stable").get(portal.base_url + "/ea/alpha/", timeout=10)
    assert page.status_code == 403


def test_a_site_killed_with_sigkill_serves_again_and_leaves_nothing_behind(portal):
    before = wait_up(portal.states, "ea/beta")
    old_group = group_members(before.pid)
    assert len(old_group) == 2  # Django's autoreloader and the server it runs
    os.kill(before.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    after = portal.states.get("ea/beta")
    while (after is None or not after.serving or after.pid == before.pid) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
        after = portal.states.get("ea/beta")
    assert after.restarts == 1
    assert group_members(before.pid) == []
    page = sign_in(portal.base_url, "ea").get(portal.base_url + "/ea/beta/", timeout=10)
    assert page.status_code == 200
    assert "This is the beta site." in page.text


def group_members(pgid):
    """Live processes in the process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def test_an_edited_view_is_served_without_restarting_the_portal_or_the_product(portal):
    before = wait_up(portal.states, "ea/gamma")
    views = portal.apps / "ea/gamma/board_site/views.py"
    views.write_text(views.read_text().replace("This is the gamma site.", "Gamma, edited."))
    http = sign_in(portal.base_url, "ea")
    deadline = time.monotonic() + 60
    page = http.get(portal.base_url + "/ea/gamma/", timeout=10)
    while "Gamma, edited." not in page.text and time.monotonic() < deadline:
        time.sleep(0.2)
        page = http.get(portal.base_url + "/ea/gamma/", timeout=10)
    assert "Gamma, edited." in page.text
    assert portal.states.get("ea/gamma").pid == before.pid
