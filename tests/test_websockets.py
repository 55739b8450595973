"""Websockets in products on a real gunicorn with the project's gunicorn.conf.py (two workers,
gthread), broadcasting through a real Redis, driven by a real websocket client after a real
sign-in. The sample product `ea/live` is the product under test."""

import secrets
import signal

import pytest

from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import (
    RELOAD_SECONDS,
    logout,
    open_socket,
    prime_database,
    receive_json,
    redis_url,
    refused,
    sockets_on_two_workers,
    update_user,
    wait_closed,
)

pytestmark = pytest.mark.gunicorn

LIVE = "/ea/live/ws"
#: The sample monolith's hazard service: the product sits in stable, the service needs ea.
HAZARD = "/stable/seistech/svc_hazard/ws"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    database_url = f"sqlite:///{instance / 'portal.sqlite3'}"
    env = {
        "DATABASE_URL": database_url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "REDIS_URL": redis_url(),
        "PORTAL_BROADCAST_PREFIX": f"test-{secrets.token_hex(4)}",
    }
    prime_database(env)
    server = Gunicorn(
        env,
        workers=2,
        log_path=instance / "gunicorn.log",
    )
    server.database_url = database_url
    yield server
    server.stop()


def test_a_signed_in_user_connects_and_gets_an_echo(served):
    http = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, LIVE, http) as ws:
        hello = receive_json(ws)
        assert hello["type"] == "hello"
        assert hello["name"] == "Eve Early"
        ws.send("hello, portal")
        assert receive_json(ws) == {"type": "echo", "text": "hello, portal"}


def test_a_broadcast_reaches_a_socket_on_another_worker(served):
    http = sign_in(served.base_url, "ea")
    (first, first_hello), (second, second_hello) = sockets_on_two_workers(
        served.base_url, LIVE, http
    )
    try:
        first.send("across workers")
        assert receive_json(first)["type"] == "echo"
        heard = receive_json(second)
        assert heard["type"] == "message"
        assert heard["text"] == "across workers"
        assert heard["from"]["pid"] == first_hello["pid"] != second_hello["pid"]
    finally:
        first.close()
        second.close()


def test_signing_out_closes_the_sessions_sockets_on_every_worker(served):
    http = sign_in(served.base_url, "ea")
    sockets = sockets_on_two_workers(served.base_url, LIVE, http)
    other = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, LIVE, other) as unrelated:
        receive_json(unrelated)
        logout(served.base_url, http)
        for ws, _ in sockets:
            code, reason = wait_closed(ws, seconds=10)
            assert code == 4001
            assert "session ended" in reason.lower()
        unrelated.send("still here")
        assert receive_json(unrelated) == {"type": "echo", "text": "still here"}


def test_a_tier_drop_closes_the_socket_within_seconds(served):
    http = sign_in(served.base_url, "devel")
    try:
        with open_socket(served.base_url, LIVE, http) as ws:
            receive_json(ws)
            update_user(served.database_url, "devel@example.com", tier="stable")
            code, reason = wait_closed(ws, seconds=10)
        assert code == 4003
        assert reason == "Your tier no longer opens ea/live."
    finally:
        update_user(served.database_url, "devel@example.com", tier="devel")


def test_blocking_a_user_closes_the_socket(served):
    http = sign_in(served.base_url, "admin")
    try:
        with open_socket(served.base_url, LIVE, http) as ws:
            receive_json(ws)
            update_user(served.database_url, "admin@example.com", blocked=True)
            assert wait_closed(ws, seconds=10) == (4003, "Your account is blocked.")
    finally:
        update_user(served.database_url, "admin@example.com", blocked=False)


def test_a_socket_from_another_site_is_refused_before_the_upgrade(served):
    http = sign_in(served.base_url, "ea")
    status, body = refused(served.base_url, LIVE, http, origin="https://evil.example")
    assert status == 403
    assert body["error"] == "forbidden_origin"


def test_anonymous_sockets_are_refused_before_the_upgrade(served):
    status, body = refused(served.base_url, LIVE)
    assert status == 401
    assert body["error"] == "unauthenticated"


def test_a_tier_too_low_is_refused_before_the_upgrade(served):
    http = sign_in(served.base_url, "stable")
    status, body = refused(served.base_url, LIVE, http)
    assert status == 403
    assert body == {
        "error": "forbidden",
        "message": body["message"],
        "required_tier": "ea",
        "your_tier": "stable",
    }


def test_a_stricter_path_refuses_a_lower_tier_before_the_upgrade(served):
    http = sign_in(served.base_url, "stable")
    status, body = refused(served.base_url, HAZARD, http)
    assert status == 403
    assert (body["required_tier"], body["your_tier"]) == ("ea", "stable")


def test_a_tier_drop_below_a_stricter_path_closes_its_socket(served):
    http = sign_in(served.base_url, "ea")
    try:
        with open_socket(served.base_url, HAZARD, http) as ws:
            assert receive_json(ws) == {"type": "hello", "user": "Eve Early"}
            ws.send("0.5")
            assert receive_json(ws)["type"] == "rate"
            update_user(served.database_url, "ea@example.com", tier="stable")
            code, reason = wait_closed(ws, seconds=10)
        assert (code, reason) == (
            4003,
            "Your tier no longer opens stable/seistech where it needs ea.",
        )
    finally:
        update_user(served.database_url, "ea@example.com", tier="ea")


def test_an_oversized_message_closes_with_1009(served):
    http = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, LIVE, http) as ws:
        receive_json(ws)
        ws.send("x" * 5000)  # the sample allows 4 KiB
        assert wait_closed(ws)[0] == 1009


def test_plain_requests_still_work_while_sockets_are_open(served):
    http = sign_in(served.base_url, "ea")
    sockets = [open_socket(served.base_url, LIVE, http) for _ in range(20)]
    try:
        for ws in sockets:
            receive_json(ws)
        assert http.get(served.base_url + "/ea/live/", timeout=10).status_code == 200
    finally:
        for ws in sockets:
            ws.close()


def test_a_restart_closes_sockets_with_1001_at_once(served):
    """Last in the module: a reload (SIGHUP) replaces both workers."""
    http = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, LIVE, http) as ws:
        receive_json(ws)
        served.process.send_signal(signal.SIGHUP)
        code, reason = wait_closed(ws, seconds=RELOAD_SECONDS)
    assert code == 1001
    assert "restarting" in reason
