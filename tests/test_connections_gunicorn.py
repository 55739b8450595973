"""What clients do with their connections never wedges gunicorn: the project's gunicorn.conf.py,
two workers, a real sign-in, and thousands of raw sockets that are idle, closed, half-sent or
never closed. (gunicorn 23's gthread worker stopped for good after 2,100 idle connections closed,
and 16 half-sent requests stalled every request of 2 x 8 threads.)

This process holds 2,100 sockets at once: its open-files limit is raised for the module.
"""

import http.client
import re
import resource
import socket
import time
from contextlib import closing

import pytest
import requests

from portal.config import PROJECT_ROOT
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import open_socket, receive_json

pytestmark = pytest.mark.gunicorn

KEEPALIVE = int(
    re.search(r"^keepalive = (\d+)$", (PROJECT_ROOT / "gunicorn.conf.py").read_text(), re.M)[1]
)
IDLE = 2100
HALF_SENT = 600
HALF_SENT_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half-Sent: "
WHOLE_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module", autouse=True)
def enough_open_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE + 1000
    if hard < needed:
        pytest.fail(f"these tests hold {IDLE} sockets; the open-files hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    server = Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(instance),
        },
        workers=2,
        log_path=instance / "gunicorn.log",
    )
    yield server
    server.stop()


def connect(served, count, first_bytes=b""):
    sockets = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", served.port), timeout=10))
            if first_bytes:
                sockets[-1].sendall(first_bytes)
    except BaseException:
        close_all(sockets)
        raise
    return sockets


def close_all(sockets):
    for sock in sockets:
        sock.close()


def waiting(sock):
    """Open at both ends and nothing received: the server neither answered nor closed it."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)
    return False


def read_until_closed(sock, seconds):
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    sock.settimeout(seconds)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {seconds} s") from None
    return received, time.monotonic() - started


def open_idle_then_close(served):
    """2,100 connections that send nothing, held until gunicorn has taken them, then closed."""
    idle = connect(served, IDLE)
    time.sleep(2)
    close_all(idle)


def answered_at_once(served):
    started = time.monotonic()
    status = requests.get(served.base_url + "/healthz", timeout=10).status_code
    return status, time.monotonic() - started < 1


# --- floods -------------------------------------------------------------------------------------


def test_a_request_is_answered_while_2100_idle_connections_are_open(served):
    idle = connect(served, IDLE)
    try:
        assert requests.get(served.base_url + "/healthz", timeout=10).status_code == 200
        assert sum(waiting(sock) for sock in idle) == IDLE
    finally:
        close_all(idle)


def test_a_request_is_answered_at_once_after_2100_idle_connections_close(served):
    workers = served.worker_pids()
    open_idle_then_close(served)
    assert answered_at_once(served) == (200, True)
    assert served.worker_pids() == workers


def test_no_socket_is_left_in_close_wait_after_2100_idle_connections_close(served):
    open_idle_then_close(served)
    deadline = time.monotonic() + 10
    while served.sockets_in_close_wait() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.sockets_in_close_wait() == 0


def test_600_half_sent_requests_do_not_stall_a_signed_in_user(served):
    cookie = {"portal_session": sign_in(served.base_url, "ea").cookies["portal_session"]}
    half_sent = connect(served, HALF_SENT, HALF_SENT_REQUEST)
    try:
        tiers = [
            requests.get(
                served.base_url + "/api/me",
                cookies=cookie,
                headers={"Connection": "close"},  # a new connection each: any worker may take it
                timeout=10,
            ).json()["tier"]
            for _ in range(10)
        ]
        assert tiers == ["ea"] * 10
        assert sum(waiting(sock) for sock in half_sent) == HALF_SENT
    finally:
        close_all(half_sent)


def test_clients_that_never_close_their_connection_do_not_hold_up_other_requests(served):
    """Each asks for `Connection: close` and then neither reads nor closes its socket."""
    request = WHOLE_REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    lingering = connect(served, 50, request)
    try:
        statuses = [requests.get(served.base_url + "/healthz", timeout=10).status_code]
        statuses += [requests.get(served.base_url + "/healthz", timeout=10).status_code]
        assert statuses == [200, 200]
        answers = [read_until_closed(sock, 10)[0] for sock in lingering]
        assert {answer.split(b"\r\n", 1)[0] for answer in answers} == {b"HTTP/1.1 200 OK"}
    finally:
        close_all(lingering)


# --- deadlines ----------------------------------------------------------------------------------


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    with closing(connection):
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("Connection")) == (200, "keep-alive")
        answer.read()
        received, seconds = read_until_closed(connection.sock, KEEPALIVE + 10)
    assert received == b""
    assert KEEPALIVE - 1 < seconds < KEEPALIVE + 10


def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_timeout(served):
    [sock] = connect(served, 1)
    with sock:
        received, seconds = read_until_closed(sock, KEEPALIVE + 10)
    assert received == b""
    assert seconds < KEEPALIVE + 10


def test_a_half_sent_header_block_is_closed_unanswered_after_the_keep_alive_timeout(served):
    [sock] = connect(served, 1, HALF_SENT_REQUEST)
    with sock:
        received, seconds = read_until_closed(sock, KEEPALIVE + 10)
    assert received == b""
    assert seconds < KEEPALIVE + 10


def test_headers_sent_a_byte_a_second_are_cut_at_the_same_deadline(served):
    """The deadline covers the whole request line and header block, not each read."""
    [sock] = connect(served, 1, HALF_SENT_REQUEST)
    started = time.monotonic()
    with sock:
        while waiting(sock) and time.monotonic() - started < KEEPALIVE + 10:
            sock.sendall(b"x")
            time.sleep(1)
        received, _ = read_until_closed(sock, 1)
    assert received == b""
    assert time.monotonic() - started < KEEPALIVE + 10


def test_a_websocket_quiet_for_longer_than_the_timeouts_stays_open(served):
    http = sign_in(served.base_url, "ea")
    with open_socket(served.base_url, "/ea/live/ws", http) as ws:
        assert receive_json(ws)["type"] == "hello"
        time.sleep(KEEPALIVE + 3)
        ws.send("still here")
        assert receive_json(ws) == {"type": "echo", "text": "still here"}
