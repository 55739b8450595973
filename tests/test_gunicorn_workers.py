"""Both worker classes gunicorn.conf.py supports serve the site and its websockets: gevent, the
default, and gthread (`GUNICORN_CMD_ARGS="--worker-class gthread"`, for CPU-heavy products
behind nginx). A websocket route ends its request by raising StopIteration inside gunicorn
(kit/websockets.py `_SocketFinished`): gunicorn must then close the connection and write no
HTTP response after the frames."""

import base64
import os
import signal
import socket
import struct

import pytest

from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import RELOAD_SECONDS, open_socket, receive_json, wait_closed

pytestmark = pytest.mark.gunicorn

LIVE = "/ea/live/ws"
TEXT, CLOSE = 0x1, 0x8


@pytest.fixture(scope="module", params=[None, "gthread"], ids=["default", "gthread"])
def served(request, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(instance),
    }
    if request.param:
        env["GUNICORN_CMD_ARGS"] = f"--worker-class {request.param}"
    server = Gunicorn(env, workers=2, log_path=instance / "gunicorn.log")
    server.worker_class = request.param or "gevent"
    yield server
    server.stop()


def handshake(served, cookie: str) -> socket.socket:
    """A websocket opened by hand, so every byte the server sends afterwards can be read."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {LIVE} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {served.base_url}\r\nCookie: portal_session={cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


def client_close_frame() -> bytes:
    """A masked close frame with code 1000, as a client must send it."""
    mask = os.urandom(4)
    payload = struct.pack("!H", 1000)
    return (
        bytes([0x80 | CLOSE, 0x80 | len(payload)])
        + mask
        + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    )


def read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, f"the connection ended inside a frame: {data!r}"
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """The server's next frame (opcode, payload), or None once it has closed the connection.
    Bytes that are not a frame (an HTTP response) come out as a frame that fails the test."""
    first = sock.recv(1)
    if not first:
        return None
    second = read_exactly(sock, 1)[0]
    assert not second & 0x80, "a server's frame is never masked"
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read_exactly(sock, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read_exactly(sock, 8))
    return first[0] & 0x0F, read_exactly(sock, length)


def test_the_worker_class_is_the_one_configured(served):
    assert f"Using worker: {served.worker_class}\n" in served.log()


def test_a_signed_in_user_is_served(served):
    http = sign_in(served.base_url, "ea")
    assert http.get(served.base_url + "/api/me", timeout=10).json()["tier"] == "ea"


def test_a_websocket_echoes(served):
    http = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, LIVE, http) as ws:
        assert receive_json(ws)["type"] == "hello"
        ws.send("hello, worker")
        assert receive_json(ws) == {"type": "echo", "text": "hello, worker"}


def test_a_finished_websocket_is_closed_with_nothing_after_its_frames(served):
    sock = handshake(served, sign_in(served.base_url, "ea").cookies["portal_session"])
    with sock:
        assert read_frame(sock)[0] == TEXT  # the route's hello
        sock.sendall(client_close_frame())
        after_close = list(iter(lambda: read_frame(sock), None))
    assert after_close == [(CLOSE, struct.pack("!H", 1000))]
    assert "Error handling request" not in served.log()


def test_a_restart_closes_open_websockets_with_1001(served):
    """Last in the module: a reload (SIGHUP) replaces both workers."""
    http = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, LIVE, http) as ws:
        receive_json(ws)
        served.process.send_signal(signal.SIGHUP)
        code, reason = wait_closed(ws, seconds=RELOAD_SECONDS)
    assert code == 1001
    assert "restarting" in reason
