"""Nodes are interchangeable: two gunicorn instances, one MariaDB, one Redis."""

import os
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.databases import fresh_mariadb
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in

pytestmark = pytest.mark.gunicorn

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CACHE_SECONDS = 2


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    with fresh_mariadb() as url:
        env = {
            "DATABASE_URL": url,
            "PORTAL_INSTANCE_PATH": str(instance),
            "REDIS_URL": REDIS_URL,
            "PORTAL_IDENTITY_CACHE_SECONDS": str(CACHE_SECONDS),
        }
        first = Gunicorn(env, workers=1, log_path=instance / "first.log")
        second = Gunicorn(env, workers=1, log_path=instance / "second.log")
        # Behind a load balancer every node sees the site's one public host, which session
        # cookies are bound to; the first node's address stands in for it here.
        second.public_host = urlsplit(first.base_url).netloc
        yield first, second
        first.stop()
        second.stop()


def status(node, path, cookie):
    headers = {"Host": node.public_host} if hasattr(node, "public_host") else {}
    return requests.get(
        node.base_url + path, cookies=cookie, headers=headers, allow_redirects=False, timeout=10
    ).status_code


def until_changed(node, path, cookie, start):
    """The status once it differs from `start`, waiting at most the cache lifetime and a margin."""
    deadline = time.monotonic() + CACHE_SECONDS + 10
    current = start
    while current == start and time.monotonic() < deadline:
        time.sleep(0.2)
        current = status(node, path, cookie)
    return current


def test_a_session_from_one_node_works_on_the_other(nodes):
    first, second = nodes
    cookie = {"portal_session": sign_in(first.base_url, "ea").cookies["portal_session"]}
    assert status(second, "/ea/forecast/", cookie) == 200


def test_a_session_ended_on_one_node_is_refused_on_the_other(nodes):
    first, second = nodes
    http = sign_in(first.base_url, "ea")
    cookie = {"portal_session": http.cookies["portal_session"]}
    assert status(second, "/ea/forecast/", cookie) == 200
    page = http.get(first.base_url + "/", timeout=10).text
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    http.post(first.base_url + "/logout", data={"token": token}, allow_redirects=False, timeout=10)
    assert until_changed(second, "/ea/forecast/", cookie, 200) == 302


def test_a_tier_change_made_on_one_node_applies_on_the_other(nodes):
    first, second = nodes
    admin = sign_in(first.base_url, "admin")
    user = sign_in(first.base_url, "devel")
    cookie = {"portal_session": user.cookies["portal_session"]}
    assert status(second, "/devel/inspector/", cookie) == 200
    csrf = admin.get(first.base_url + "/admin/manage/api/csrf", timeout=10).json()["csrf_token"]
    changed = admin.post(
        first.base_url + "/admin/manage/api/users/auth0|demo-devel/tier",
        json={"tier": "ea"},
        headers={"X-CSRFToken": csrf},
        timeout=10,
    )
    try:
        assert changed.status_code == 200, changed.text
        assert until_changed(second, "/devel/inspector/", cookie, 200) == 403
    finally:
        admin.post(
            first.base_url + "/admin/manage/api/users/auth0|demo-devel/tier",
            json={"tier": "devel"},
            headers={"X-CSRFToken": csrf},
            timeout=10,
        )
