"""MariaDB hangs or stops under a running gunicorn: answers come within their deadlines.

A hung server (SIGSTOP) keeps its connections open and answers nothing; without read deadlines
every request would wait for as long as the hang lasts. Here the portal runs with 2-second
database deadlines, so a request must be answered (503) within twice that plus a margin, and
`/readyz` within a second whatever the database does. A stopped server gives the documented
503s on the sign-in pages too, with `Retry-After`.

The private MariaDB is this module's own (see tests/support/private_mariadb.py); the identity
cache is off so every request reaches the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.outages import hung
from tests.support.private_mariadb import PrivateMariaDB
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import prime_database

pytestmark = pytest.mark.gunicorn

DEADLINE = 2
#: A pooled connection's ping and one new connection may each wait the read deadline.
WORST_CASE = 2 * DEADLINE + 4
LEAKS = ("Traceback", "sqlalchemy", "OperationalError", "pymysql", "Can't connect")
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def database() -> Iterator[PrivateMariaDB]:
    with PrivateMariaDB() as server:
        yield server


@pytest.fixture(scope="module")
def site(database: PrivateMariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "DATABASE_URL": database.url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_IDENTITY_CACHE_SECONDS": "0",
        "PORTAL_DATABASE_CONNECT_TIMEOUT": str(DEADLINE),
        "PORTAL_DATABASE_READ_TIMEOUT": str(DEADLINE),
        "PORTAL_DATABASE_WRITE_TIMEOUT": str(DEADLINE),
    }
    prime_database(env)
    server = Gunicorn(env, workers=2, log_path=instance / "gunicorn.log")
    yield server
    server.stop()


@pytest.fixture
def stopped(database: PrivateMariaDB) -> Iterator[None]:
    database.stop()
    try:
        yield
    finally:
        database.start()


def get(url: str, http: requests.Session | None = None, **kwargs) -> requests.Response:
    """On a new connection (either worker), never waiting longer than a hang would last."""
    client = http or requests
    headers = {"Connection": "close", **kwargs.pop("headers", {})}
    return client.get(url, headers=headers, allow_redirects=False, timeout=30, **kwargs)


def timed(call, *args, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = call(*args, **kwargs)
    return answer, time.monotonic() - started


def assert_clean_503(answer: requests.Response) -> None:
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert [leak for leak in LEAKS if leak in answer.text] == []


def test_a_product_request_gets_a_503_within_the_deadline_while_the_database_hangs(
    site: Gunicorn, database: PrivateMariaDB
) -> None:
    http = sign_in(site.base_url, "stable")
    with hung(database.process):
        answer, seconds = timed(get, site.base_url + "/stable/hello/", http)
    assert_clean_503(answer)
    assert seconds < WORST_CASE


def test_readyz_names_a_hung_database_within_a_second(
    site: Gunicorn, database: PrivateMariaDB
) -> None:
    with hung(database.process):
        answer, seconds = timed(get, site.base_url + "/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "database": "not answering within 0.8 s",
        "identity_provider": "ok",
    }
    assert seconds < 2.0


def test_readyz_keeps_answering_at_once_while_the_hang_goes_on(
    site: Gunicorn, database: PrivateMariaDB
) -> None:
    with hung(database.process):
        answers = [timed(get, site.base_url + "/readyz") for _ in range(4)]
    assert [answer.status_code for answer, _ in answers] == [503] * 4
    assert max(seconds for _, seconds in answers) < 2.0


def test_readyz_with_a_session_cookie_is_not_held_by_the_hung_database(
    site: Gunicorn, database: PrivateMariaDB
) -> None:
    """A probe that carries a browser's cookie (a load balancer forwarding one, a person in a
    browser) is answered as fast as one without: /readyz reads no session."""
    http = sign_in(site.base_url, "stable")
    with hung(database.process):
        answers = [timed(get, site.base_url + "/readyz", http) for _ in range(2)]
    assert [answer.status_code for answer, _ in answers] == [503, 503]
    assert max(seconds for _, seconds in answers) < DEADLINE  # the database's read deadline


def test_readyz_is_ready_again_once_the_hang_ends(site: Gunicorn, database: PrivateMariaDB) -> None:
    with hung(database.process):
        assert get(site.base_url + "/readyz").status_code == 503
    deadline = time.monotonic() + 10
    while get(site.base_url + "/readyz").status_code != 200:
        assert time.monotonic() < deadline, "still not ready 10 s after the hang ended"
        time.sleep(0.2)


def test_the_sign_in_page_is_a_clean_503_while_the_database_is_down(
    site: Gunicorn, stopped: None
) -> None:
    answer = get(site.base_url + "/login?next=/")
    assert_clean_503(answer)
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<h1 id="error-heading">Temporarily unavailable</h1>' in answer.text
    assert "Set-Cookie" not in answer.headers


def test_the_sign_in_page_answers_api_clients_with_a_json_503(
    site: Gunicorn, stopped: None
) -> None:
    answer = get(site.base_url + "/login", headers=JSON)
    assert_clean_503(answer)
    assert answer.json() == {
        "error": "Temporarily unavailable",
        "message": "The portal cannot reach its database right now. Please try again in a minute.",
    }


@pytest.mark.parametrize(
    "path", ["/", "/sessions", "/logout", "/callback?code=x&state=y", "/api/me", "/login"]
)
def test_a_signed_in_users_portal_pages_are_clean_503s_while_the_database_is_down(
    site: Gunicorn, database: PrivateMariaDB, path: str
) -> None:
    http = sign_in(site.base_url, "stable")
    database.stop()
    try:
        answer = get(site.base_url + path, http)
    finally:
        database.start()
    assert_clean_503(answer)


def test_sign_out_is_a_clean_503_while_the_database_is_down(
    site: Gunicorn, database: PrivateMariaDB
) -> None:
    http = sign_in(site.base_url, "stable")
    token = http.get(site.base_url + "/", timeout=10).text.split('name="token" value="')[1]
    database.stop()
    try:
        answer = http.post(
            site.base_url + "/logout",
            data={"token": token.split('"')[0]},
            headers={"Connection": "close"},
            allow_redirects=False,
            timeout=30,
        )
    finally:
        database.start()
    assert_clean_503(answer)


def test_the_gates_json_503_says_when_to_retry(site: Gunicorn, database: PrivateMariaDB) -> None:
    http = sign_in(site.base_url, "stable")
    database.stop()
    try:
        answer = get(site.base_url + "/stable/hello/api/greeting", http, headers=JSON)
    finally:
        database.start()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json() == {
        "error": "unavailable",
        "message": "The portal cannot check your session right now. Please try again in a minute.",
    }
