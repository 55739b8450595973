"""MariaDB stops under a running gunicorn, and comes back: clean 503s, then recovery, no restart.

The portal runs on a MariaDB server of this module's own (never the shared one other tests use),
so stopping it is a real outage: the process exits and its port refuses connections. Each test
stops the server itself and the `outage` fixture always starts it again, so the tests are
independent of each other and of their order.

The identity cache is off (`PORTAL_IDENTITY_CACHE_SECONDS=0`): every request then reaches the
database, so the outage shows on the very next request instead of after the cache's few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support.private_mariadb import PrivateMariaDB
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import prime_database

pytestmark = pytest.mark.gunicorn

#: What must never reach a visitor: a traceback, or the driver and library behind the failure.
LEAKS = ("Traceback", "sqlalchemy", "OperationalError", "pymysql", "Can't connect")


@dataclass
class Site:
    gunicorn: Gunicorn
    database: PrivateMariaDB

    @property
    def base_url(self) -> str:
        return self.gunicorn.base_url

    def booted_workers(self) -> int:
        """How many worker processes gunicorn has started so far (its log says each one)."""
        return len(re.findall(r"Booting worker with pid", self.gunicorn.log()))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with PrivateMariaDB() as database:
        instance = tmp_path_factory.mktemp("instance")
        env = {
            "DATABASE_URL": database.url,
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_IDENTITY_CACHE_SECONDS": "0",
        }
        prime_database(env)
        server = Gunicorn(env, workers=2, log_path=instance / "gunicorn.log")
        try:
            yield Site(server, database)
        finally:
            server.stop()


@pytest.fixture
def stable_user(site: Site) -> requests.Session:
    """A user signed in while the database was up (a new session for each test)."""
    return sign_in(site.base_url, "stable")


@pytest.fixture
def outage(site: Site, stable_user: requests.Session) -> Iterator[requests.Session]:
    """The database stopped after the user signed in; started again whatever the test did."""
    site.database.stop()
    try:
        yield stable_user
    finally:
        site.database.start()


def fresh_get(url: str, http: requests.Session | None = None) -> requests.Response:
    """A GET on a new connection, so gunicorn may hand it to either worker."""
    client = http or requests
    return client.get(url, headers={"Connection": "close"}, allow_redirects=False, timeout=20)


def assert_clean_503(answer: requests.Response) -> None:
    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Retry-After"] == "30"
    assert '<h1 id="error-heading">Temporarily unavailable</h1>' in answer.text
    assert "Please try again in a minute." in answer.text
    assert [leak for leak in LEAKS if leak in answer.text] == []


def test_readyz_names_the_database_while_it_is_down(site: Site, outage: requests.Session) -> None:
    answer = fresh_get(site.base_url + "/readyz")

    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {
        "database": "unreachable: OperationalError",
        "identity_provider": "ok",
    }


def test_a_product_page_is_a_clean_503_while_the_database_is_down(
    site: Site, outage: requests.Session
) -> None:
    answer = fresh_get(site.base_url + "/stable/hello/", outage)

    assert_clean_503(answer)
    assert "The portal cannot check your session right now." in answer.text


def test_the_dashboard_is_a_clean_503_while_the_database_is_down(
    site: Site, outage: requests.Session
) -> None:
    assert_clean_503(fresh_get(site.base_url + "/", outage))


def test_readyz_is_ready_again_as_soon_as_the_database_is_back(site: Site) -> None:
    site.database.stop()
    try:
        assert fresh_get(site.base_url + "/readyz").status_code == 503
    finally:
        site.database.start()

    # pool_pre_ping replaces the dead pooled connections on first use: no request fails, on
    # either worker, once the server answers again.
    statuses = [fresh_get(site.base_url + "/readyz").status_code for _ in range(10)]
    assert statuses == [200] * 10


def test_a_session_from_before_the_outage_works_again_without_a_restart(site: Site) -> None:
    http = sign_in(site.base_url, "stable")
    workers_before = site.booted_workers()
    site.database.stop()
    try:
        assert fresh_get(site.base_url + "/stable/hello/", http).status_code == 503
    finally:
        site.database.start()

    product = [fresh_get(site.base_url + "/stable/hello/", http).status_code for _ in range(5)]
    dashboard = [fresh_get(site.base_url + "/", http).status_code for _ in range(5)]
    assert product == [200] * 5
    assert dashboard == [200] * 5
    assert site.gunicorn.process.poll() is None
    assert site.booted_workers() == workers_before
