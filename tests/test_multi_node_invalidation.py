"""A change on one node reaches the other node's cache at once, through Redis.

Two portal processes (gunicorn, one worker each) share one MariaDB database and one private
Redis. Their identity cache lasts a minute here, far longer than the one second each change is
given: only the invalidation channel can make the other node let go in time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.databases import fresh_mariadb
from tests.support.outages import PrivateRedis
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import prime_database

pytestmark = pytest.mark.gunicorn

CACHE_SECONDS = 60
WITHIN = 1.0


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gunicorn, Gunicorn]]:
    instance = tmp_path_factory.mktemp("instance")
    with fresh_mariadb() as url, PrivateRedis() as redis_server:
        env = {
            "DATABASE_URL": url,
            "PORTAL_INSTANCE_PATH": str(instance),
            "REDIS_URL": redis_server.url,
            "PORTAL_IDENTITY_CACHE_SECONDS": str(CACHE_SECONDS),
        }
        prime_database(env)
        first = Gunicorn(env, workers=1, log_path=instance / "first.log")
        second = Gunicorn(env, workers=1, log_path=instance / "second.log")
        # Behind a load balancer every node sees the site's one public host, which session
        # cookies are bound to; the first node's address stands in for it here.
        second.public_host = urlsplit(first.base_url).netloc
        try:
            yield first, second
        finally:
            first.stop()
            second.stop()


def get(node: Gunicorn, path: str, cookie: dict, **headers: str) -> requests.Response:
    if hasattr(node, "public_host"):
        headers["Host"] = node.public_host
    return requests.get(
        node.base_url + path, cookies=cookie, headers=headers, allow_redirects=False, timeout=10
    )


def changed_within(node: Gunicorn, path: str, cookie: dict, seconds: float) -> int:
    """The first status other than 200 seen within `seconds`, or 200 if none was."""
    deadline = time.monotonic() + seconds
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = get(node, path, cookie).status_code
        if status == 200:
            time.sleep(0.05)
    return status


def cookie_of(http: requests.Session) -> dict:
    return {"portal_session": http.cookies["portal_session"]}


def admin_api(node: Gunicorn, admin: requests.Session, path: str, body: dict | None = None):
    csrf = admin.get(node.base_url + "/admin/manage/api/csrf", timeout=10).json()["csrf_token"]
    answer = admin.post(
        node.base_url + "/admin/manage/api" + path,
        json=body,
        headers={"X-CSRFToken": csrf},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer


def test_a_sign_out_on_one_node_is_refused_on_the_other_within_a_second(nodes) -> None:
    first, second = nodes
    http = sign_in(first.base_url, "ea")
    cookie = cookie_of(http)
    assert get(second, "/ea/forecast/", cookie).status_code == 200
    page = http.get(first.base_url + "/", timeout=10).text
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    http.post(first.base_url + "/logout", data={"token": token}, allow_redirects=False, timeout=10)
    assert changed_within(second, "/ea/forecast/", cookie, WITHIN) == 302


def test_signing_out_everywhere_on_one_node_ends_the_session_on_the_other_within_a_second(
    nodes,
) -> None:
    first, second = nodes
    http = sign_in(first.base_url, "ea")
    cookie = cookie_of(http)
    assert get(second, "/ea/forecast/", cookie).status_code == 200
    page = http.get(first.base_url + "/sessions", timeout=10).text
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    ended = http.post(
        first.base_url + "/sessions/end-all",
        data={"token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert ended.status_code == 302
    assert changed_within(second, "/ea/forecast/", cookie, WITHIN) == 302


def test_a_tier_change_on_one_node_applies_on_the_other_within_a_second(nodes) -> None:
    first, second = nodes
    admin = sign_in(first.base_url, "admin")
    cookie = cookie_of(sign_in(first.base_url, "devel"))
    assert get(second, "/devel/inspector/", cookie).status_code == 200
    admin_api(first, admin, "/users/auth0|demo-devel/tier", {"tier": "ea"})
    try:
        assert changed_within(second, "/devel/inspector/", cookie, WITHIN) == 403
    finally:
        admin_api(first, admin, "/users/auth0|demo-devel/tier", {"tier": "devel"})


def test_a_block_on_one_node_applies_on_the_other_within_a_second(nodes) -> None:
    first, second = nodes
    admin = sign_in(first.base_url, "admin")
    cookie = cookie_of(sign_in(first.base_url, "stable"))
    assert get(second, "/stable/hello/", cookie).status_code == 200
    admin_api(first, admin, "/users/auth0|demo-stable/block")
    try:
        assert changed_within(second, "/stable/hello/", cookie, WITHIN) == 403
    finally:
        admin_api(first, admin, "/users/auth0|demo-stable/unblock")
