"""A real websocket client against the real site: signed-in handshakes, closes, refusals, Redis."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import suppress

import redis
import requests
from sqlalchemy import create_engine, text
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from portal.config import PROJECT_ROOT
from tests.support.processes import Gunicorn
from tests.support.required import unavailable

REDIS_ENV = "PORTAL_TEST_REDIS_URL"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The Redis for broadcast tests; in CI its absence fails the run instead of skipping."""
    url = os.environ.get(REDIS_ENV, DEFAULT_REDIS)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"Redis at {url} is not reachable ({error}); set {REDIS_ENV}"
        unavailable(message, "broadcast")
    return url


class PatientGunicorn(Gunicorn):
    """`Gunicorn` that also waits out a worker still loading the app when the first health check
    arrives (gevent workers load slower than the check's 2-second read timeout)."""

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return super().wait_ready(max(1.0, deadline - time.monotonic()))
            except requests.Timeout:
                if time.monotonic() > deadline:
                    self.stop()
                    raise


def prime_database(env: dict[str, str]) -> None:
    """Build the site once before gunicorn does, so its workers don't race to seed the demo users
    into a fresh database (a worker that loses that race fails to boot and stops gunicorn)."""
    subprocess.run(
        [sys.executable, "-c", "from portal.application import create_app as c; c()"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )


def ws_url(base_url: str, path: str) -> str:
    return "ws" + base_url.removeprefix("http") + path


def open_socket(
    base_url: str,
    path: str,
    http: requests.Session | None = None,
    *,
    origin: str | None = None,
    **options,
) -> ClientConnection:
    """A websocket as the portal's own page would open it: its cookie and its Origin."""
    headers = {}
    if http is not None:
        headers["Cookie"] = f"portal_session={http.cookies['portal_session']}"
    return connect(
        ws_url(base_url, path),
        additional_headers=headers,
        origin=origin or base_url,
        open_timeout=10,
        close_timeout=5,
        legacy=True,  # tests hold several sockets at once, outside `with` blocks
        **options,
    )


def refused(base_url: str, path: str, http: requests.Session | None = None, **kwargs) -> tuple:
    """The status and JSON body of an upgrade the server answers without upgrading."""
    try:
        ws = open_socket(base_url, path, http, **kwargs)
    except InvalidStatus as error:
        return error.response.status_code, json.loads(error.response.body)
    ws.close()
    raise AssertionError("the upgrade was accepted")


def receive_json(ws: ClientConnection, seconds: float = 10) -> dict:
    return json.loads(ws.recv(timeout=seconds))


#: How long a reload may take to close a worker's sockets: an old worker keeps serving until its
#: successors are warm, at most gunicorn's `timeout` (60 s, gunicorn.conf.py), and then closes
#: them with 1001. A busy machine may need all of it; a cut socket fails the test either way.
RELOAD_SECONDS = 60 + 15


def wait_closed(ws: ClientConnection, seconds: float = 10) -> tuple[int, str]:
    """Read until the server closes (bounded); the close code and reason it sent."""
    deadline = time.monotonic() + seconds
    with suppress(ConnectionClosed):
        while time.monotonic() < deadline:
            with suppress(TimeoutError):
                ws.recv(timeout=max(0.05, deadline - time.monotonic()))
        raise AssertionError(f"the server did not close the socket within {seconds}s")
    assert ws.close_code is not None, "closed without a close frame"
    return ws.close_code, ws.close_reason or ""


def sockets_on_two_workers(base_url: str, path: str, http: requests.Session, seconds: float = 30):
    """Two sockets held by two different worker processes (the sample says which in `hello`).

    gunicorn does not spread connections evenly, and a worker may still be booting when the
    first socket connects, so open (and close) sockets until two pids answered, within `seconds`.
    """
    held: dict[int, tuple[ClientConnection, dict]] = {}
    deadline = time.monotonic() + seconds
    while len(held) < 2 and time.monotonic() < deadline:
        ws = open_socket(base_url, path, http)
        hello = receive_json(ws)
        if hello["pid"] in held:
            ws.close()
            time.sleep(0.05)
        else:
            held[hello["pid"]] = (ws, hello)
    assert len(held) == 2, f"every socket landed on one worker within {seconds}s"
    return list(held.values())


def logout(base_url: str, http: requests.Session) -> None:
    """Sign out as the dashboard's button does: POST /logout with the page's token."""
    page = http.get(base_url + "/", timeout=10).text
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    answer = http.post(base_url + "/logout", data={"token": token}, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]


def update_user(database_url: str, email: str, **values) -> None:
    """Change a user's row behind the portal's back, as an admin or a sync would."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            assignments = ", ".join(f"{name} = :{name}" for name in values)
            connection.execute(
                text(f"UPDATE users SET {assignments} WHERE email = :email"),
                {**values, "email": email},
            )
    finally:
        engine.dispose()
