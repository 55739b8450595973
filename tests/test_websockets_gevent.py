"""Many-connection mode: the same site and gunicorn.conf.py with gevent workers.

gunicorn's gevent worker monkey-patches the standard library before it loads the app, so
simple-websocket's threads become greenlets and an idle socket costs a few kilobytes instead of
two OS threads. Enabled from the command line, over the project's configuration:

    GUNICORN_CMD_ARGS="--worker-class gevent --worker-connections 10000" \\
        gunicorn -c gunicorn.conf.py
"""

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from tests.support.signin import sign_in
from tests.support.websockets import (
    PatientGunicorn,
    logout,
    open_socket,
    prime_database,
    receive_json,
    redis_url,
    sockets_on_two_workers,
    wait_closed,
    ws_url,
)

pytestmark = pytest.mark.gunicorn

pytest.importorskip("gevent")
LIVE = "/ea/live/ws"
MANY = 600


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(instance),
        "REDIS_URL": redis_url(),
        "PORTAL_BROADCAST_PREFIX": f"test-{secrets.token_hex(4)}",
        "PORTAL_THREADS": "8",  # irrelevant to gevent: sockets must not need threads
        "GUNICORN_CMD_ARGS": "--worker-class gevent --worker-connections 10000",
    }
    prime_database(env)
    server = PatientGunicorn(
        env,
        workers=2,
        log_path=instance / "gunicorn.log",
    )
    yield server
    server.stop()


def test_echo_broadcast_and_sign_out_work_on_gevent_workers(served):
    http = sign_in(served.base_url, "ea")
    (first, _), (second, _) = sockets_on_two_workers(served.base_url, LIVE, http)
    first.send("green")
    assert receive_json(first) == {"type": "echo", "text": "green"}
    assert receive_json(second)["text"] == "green"
    logout(served.base_url, http)
    assert wait_closed(first)[0] == wait_closed(second)[0] == 4001


def test_a_gevent_worker_holds_more_sockets_than_it_has_threads(served):
    http = sign_in(served.base_url, "ea")
    cookie = f"portal_session={http.cookies['portal_session']}"

    async def hold() -> int:
        async def one():
            ws = await websockets.connect(
                ws_url(served.base_url, LIVE),
                additional_headers={"Cookie": cookie},
                origin=served.base_url,
                open_timeout=30,
            )
            await asyncio.wait_for(ws.recv(), 30)
            return ws

        sockets = []
        try:
            for _ in range(MANY // 50):
                sockets += await asyncio.gather(*(one() for _ in range(50)))
            await sockets[0].send("all open")
            return sum(
                1
                for message in await asyncio.gather(
                    *(asyncio.wait_for(ws.recv(), 30) for ws in sockets[1:])
                )
                if "all open" in message
            )
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    # A thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as runner:
        assert runner.submit(asyncio.run, hold()).result(timeout=120) == MANY - 1
    with open_socket(served.base_url, LIVE, http) as ws:
        assert receive_json(ws)["type"] == "hello"
