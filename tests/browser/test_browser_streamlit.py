"""The Streamlit sample (ea/whatif), run by the portal under gunicorn, in headless Chromium:
it renders, its widgets work over its websocket (relayed by the portal behind the Gate), the
Gate refuses who it should, and signing out closes the socket."""

from __future__ import annotations

import shutil

import pytest
import requests

from portal.config import PROJECT_ROOT
from portal.products.process_files import StateReader, state_folder
from tests.support.browser import sign_in_in_browser
from tests.support.process_products import wait_up
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

MOUNT = "/ea/whatif/"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("streamlit")
    apps, instance = root / "apps", root / "instance"
    shutil.copytree(PROJECT_ROOT / "apps/ea/whatif", apps / "ea/whatif")
    # Two workers: the sign-out may reach the one not holding the socket, which hears of it
    # when its identity cache (a second here) runs out.
    server = Gunicorn(
        {
            "PORTAL_APPS_DIR": str(apps),
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_IDENTITY_CACHE_SECONDS": "1",
        },
        workers=2,
        log_path=root / "gunicorn.log",
    )
    wait_up(StateReader(state_folder(instance, server.process.pid)), "ea/whatif")
    yield server
    server.stop()


def open_signed_in(page, portal, email="ea@example.com", password="ea"):
    sockets = []
    page.on(
        "websocket", lambda socket: sockets.append(socket) if "_stcore/stream" in socket.url else 0
    )
    sign_in_in_browser(page, portal.base_url, email, password, next_path=MOUNT)
    page.get_by_role("heading", name="What-if").wait_for()
    return sockets


def test_the_app_renders_and_its_slider_recomputes_on_the_server(portal, page):
    open_signed_in(page, portal)
    metric = page.get_by_test_id("stMetricValue")
    metric.filter(has_text="162.9").wait_for()
    slider = page.get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    metric.filter(has_text="179.1").wait_for()
    assert metric.inner_text() == "179.1"


def test_the_app_learns_who_is_signed_in_from_the_portal(portal, page):
    open_signed_in(page, portal)
    page.get_by_text("Signed in to the portal as Eve Early").wait_for()


def test_a_stable_user_is_refused(portal):
    page = sign_in(portal.base_url, "stable").get(portal.base_url + MOUNT, timeout=10)
    assert page.status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(portal):
    page = requests.get(portal.base_url + MOUNT, allow_redirects=False, timeout=10)
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/login?next=%2Fea%2Fwhatif%2F")


def test_an_anonymous_websocket_upgrade_is_refused(portal):
    answer = requests.get(
        portal.base_url + MOUNT + "_stcore/stream",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Origin": portal.base_url,
        },
        timeout=10,
    )
    assert answer.status_code == 401


def test_signing_out_closes_the_apps_socket(portal, page):
    sockets = open_signed_in(page, portal)
    page.get_by_test_id("stMetricValue").filter(has_text="162.9").wait_for()
    [socket] = sockets
    other = page.context.new_page()
    other.goto(portal.base_url + "/")
    # Waiting starts before the click: the worker that takes the sign-out may hold the socket
    # and close it before the click returns.
    with socket.expect_event("close", timeout=30_000):
        other.get_by_role("button", name="Sign out").click()
    assert socket.is_closed()
