"""`/sessions`: where you are signed in, and signing out of all devices at once."""

import secrets

import pytest
import requests

from tests.support.sessions import signed_in
from tests.support.signin import session_id_of

pytestmark = pytest.mark.site


def new_user(portal):
    email = f"devices-{secrets.token_hex(4)}@example.org"
    portal.idp_store.add_user(email, "pw-123456", ["ea"], "Many Devices")
    return email


def form_token(page):
    marker = 'action="/sessions/end-all"'
    rest = page[page.index(marker) :]
    start = rest.index('name="token" value="') + len('name="token" value="')
    return rest[start:].split('"', 1)[0]


def test_the_page_lists_every_open_session_and_marks_this_one(portal):
    email = new_user(portal)
    laptop = signed_in(portal, email)
    signed_in(portal, email)
    page = laptop.get(portal.base_url + "/sessions", timeout=10).text
    assert page.count("<tr") == 3
    assert page.count("(this browser)") == 1


def test_signing_out_of_all_devices_ends_every_session(portal):
    email = new_user(portal)
    laptop = signed_in(portal, email)
    phone = signed_in(portal, email)
    page = laptop.get(portal.base_url + "/sessions", timeout=10).text
    answer = laptop.post(
        portal.base_url + "/sessions/end-all",
        data={"token": form_token(page)},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    for device in (laptop, phone):
        portal.services.resolver.forget(session_id_of(portal, device))
        status = requests.get(
            portal.base_url + "/ea/forecast/",
            cookies={"portal_session": device.cookies["portal_session"]},
            allow_redirects=False,
            timeout=10,
        ).status_code
        assert status == 302


def test_signing_out_everywhere_needs_the_pages_token(portal):
    email = new_user(portal)
    laptop = signed_in(portal, email)
    answer = laptop.post(portal.base_url + "/sessions/end-all", data={"token": "x"}, timeout=10)
    assert answer.status_code == 400
    assert laptop.get(portal.base_url + "/ea/forecast/", timeout=10).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(portal):
    answer = requests.get(portal.base_url + "/sessions", allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "/login?next=/sessions"
