"""Redis stops, hangs and comes back under a running gunicorn: it only ever speeds things up.

The portal runs on one gunicorn worker (so the in-process fallback counts are one process's)
against a `redis-server` of this module's own (tests/support/outages.py), which the tests stop,
hang (SIGSTOP) and start again; every test leaves it running.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from websockets.exceptions import ConnectionClosed

from tests.support.outages import PrivateRedis, hung
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import open_socket, prime_database, receive_json

pytestmark = pytest.mark.gunicorn

LIMIT = 6
LIVE = "/ea/live/ws"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


@pytest.fixture(scope="module")
def site(
    redis_server: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(instance),
        "REDIS_URL": redis_server.url,
        "PORTAL_BROADCAST_PREFIX": f"test-{secrets.token_hex(4)}",
        "PORTAL_REDIS_TIMEOUT": "1",
        # Each test counts sign-ins from an address of its own (X-Forwarded-For).
        "PORTAL_TRUSTED_PROXIES": "1",
    }
    prime_database(env)
    server = Gunicorn(
        {**env, "PORTAL_LOGIN_RATE_LIMIT": f"{LIMIT}/minute"},
        workers=1,
        log_path=instance / "gunicorn.log",
    )
    yield server
    server.stop()


@pytest.fixture
def redis_back(redis_server: PrivateRedis) -> Iterator[PrivateRedis]:
    """Whatever the test did to Redis, it is up again afterwards."""
    try:
        yield redis_server
    finally:
        redis_server.start()


def login_statuses(site: Gunicorn, count: int, address: str) -> list[int]:
    """`count` sign-in starts from one client address (the limit is per address)."""
    return [
        requests.get(
            site.base_url + "/login",
            headers={"X-Forwarded-For": address, "Connection": "close"},
            allow_redirects=False,
            timeout=20,
        ).status_code
        for _ in range(count)
    ]


def wait_for_a_fresh_minute() -> None:
    """Start at the top of a rate-limit window, so all attempts fall in one minute."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def test_sign_in_stays_rate_limited_while_redis_is_down(
    site: Gunicorn, redis_back: PrivateRedis
) -> None:
    wait_for_a_fresh_minute()
    redis_back.stop()
    statuses = login_statuses(site, LIMIT + 4, "203.0.113.7")
    assert statuses == [302] * LIMIT + [429] * 4


def test_the_switch_to_in_process_limits_is_logged_once(
    site: Gunicorn, redis_back: PrivateRedis
) -> None:
    redis_back.stop()
    login_statuses(site, 5, "203.0.113.8")
    log = site.log()
    assert log.count("falling back to in-memory storage") == 1
    assert "Failed to rate limit" not in log


def test_a_sign_in_does_not_wait_on_a_hung_redis(site: Gunicorn, redis_back: PrivateRedis) -> None:
    with hung(redis_back.process):
        started = time.monotonic()
        sign_in(site.base_url, "ea")
        seconds = time.monotonic() - started
    # redis-py's default would wait 5 s per sign-in step; the portal's deadline is 1 s, once.
    assert seconds < 4


class Listener:
    """Everything one websocket receives, with the time it arrived, on a thread of its own."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.received: list[tuple[float, dict]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                self.received.append((time.monotonic(), json.loads(self.ws.recv())))
        except (ConnectionClosed, OSError):
            return

    def texts(self, kind: str) -> dict[str, float]:
        return {item["text"]: at for at, item in self.received if item["type"] == kind}


def test_after_redis_returns_broadcasts_arrive_within_3_s_and_none_is_lost_silently(
    site: Gunicorn, redis_back: PrivateRedis
) -> None:
    http = sign_in(site.base_url, "ea")
    sender = open_socket(site.base_url, LIVE, http)
    receiver = open_socket(site.base_url, LIVE, http)
    assert receive_json(sender)["type"] == "hello"
    assert receive_json(receiver)["type"] == "hello"
    heard, told = Listener(receiver), Listener(sender)
    try:
        redis_back.stop()
        time.sleep(9)  # long enough for a doubling backoff to grow past several seconds
        redis_back.start()
        back_at = time.monotonic()
        sent = []
        while time.monotonic() - back_at < 6:
            text = f"after {time.monotonic() - back_at:.2f}"
            sender.send(text)
            sent.append(text)
            time.sleep(0.1)
        time.sleep(1)
        delivered = heard.texts("message")
        assert delivered, "no broadcast arrived within 6 s of Redis coming back"
        assert min(delivered.values()) - back_at < 3
        # A message that did not arrive was answered with a notice (`BroadcastError`).
        notices = len([1 for _, item in told.received if item["type"] == "notice"])
        assert len(sent) - len([t for t in sent if t in delivered]) == notices
    finally:
        sender.close()
        receiver.close()
