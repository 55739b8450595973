"""The proxy in a real gunicorn (the project's gunicorn.conf.py, gevent workers) in front of a
Node.js upstream: large bodies stream both ways in flat memory, events are not held back, and
relayed websockets are closed by sign-out like the portal's own."""

import json
import threading
import time
from pathlib import Path

import pytest
import requests
from websockets.sync.server import serve

from tests.support.signin import sign_in
from tests.support.upstreams import NodeUpstream, upstream_product
from tests.support.websockets import (
    PatientGunicorn,
    logout,
    open_socket,
    prime_database,
    wait_closed,
)

pytestmark = pytest.mark.gunicorn

BIG = 200 * 1024 * 1024
MB = 1024 * 1024
#: What a 200 MB body may add to the worker's peak memory: a few buffers, not the body.
MEMORY_BOUND = 40 * MB


@pytest.fixture(scope="module")
def node():
    server = NodeUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def websocket_upstream():
    def handler(ws):
        ws.send(json.dumps({"user": ws.request.headers["X-Portal-User"]}))
        for message in ws:
            ws.send(message)

    server = serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory, node, websocket_upstream):
    instance = tmp_path_factory.mktemp("instance")
    apps = instance / "apps"
    upstream_product(apps, "ea/node", node.url, health="/health")
    upstream_product(apps, "ea/relay", websocket_upstream)
    env = {
        "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_APPS_DIR": str(apps),
    }
    prime_database(env)
    server = PatientGunicorn(env, workers=1, log_path=instance / "gunicorn.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ea(served):
    return sign_in(served.base_url, "ea")


def memory(pid: int) -> dict[str, int]:
    """The worker's resident memory now and its peak so far (VmRSS, VmHWM), in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {name: int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}


@pytest.fixture
def worker(served, ea):
    """The one worker's pid, after a warm-up round of every kind of request measured here."""
    [pid] = served.worker_pids()
    ea.post(served.base_url + "/ea/node/upload", data=b"w" * MB, timeout=30)
    ea.post(
        served.base_url + "/ea/node/upload", data=(b"w" * 1000 for _ in range(1000)), timeout=30
    )
    ea.get(served.base_url + f"/ea/node/download?bytes={MB}", timeout=30)
    return pid


def test_a_200_mb_download_streams_through_in_flat_memory(served, ea, worker):
    before = memory(worker)["VmRSS"]
    received = 0
    with ea.get(served.base_url + f"/ea/node/download?bytes={BIG}", stream=True, timeout=60) as r:
        assert r.headers["Content-Length"] == str(BIG)
        for chunk in r.iter_content(MB):
            received += len(chunk)
    peak = memory(worker)["VmHWM"]
    assert received == BIG
    assert peak - before < MEMORY_BOUND, f"the worker grew by {(peak - before) / MB:.0f} MB"


def test_a_200_mb_chunked_upload_streams_through_in_flat_memory(served, ea, worker):
    before = memory(worker)["VmRSS"]
    pieces = (b"u" * MB for _ in range(BIG // MB))
    answer = ea.post(served.base_url + "/ea/node/upload", data=pieces, timeout=120).json()
    peak = memory(worker)["VmHWM"]
    assert (answer["bytes"], answer["chunked"]) == (BIG, True)
    assert peak - before < MEMORY_BOUND, f"the worker grew by {(peak - before) / MB:.0f} MB"


def test_a_200_mb_sized_upload_streams_through_in_flat_memory(served, ea, worker, tmp_path):
    body = tmp_path / "body.bin"
    with body.open("wb") as sparse:
        sparse.truncate(BIG)
    before = memory(worker)["VmRSS"]
    with body.open("rb") as upload:
        answer = ea.post(served.base_url + "/ea/node/upload", data=upload, timeout=120).json()
    peak = memory(worker)["VmHWM"]
    assert (answer["bytes"], answer["chunked"]) == (BIG, False)
    assert peak - before < MEMORY_BOUND, f"the worker grew by {(peak - before) / MB:.0f} MB"


def read_event(response) -> bytes:
    seen = b""
    while b"\n\n" not in seen:
        chunk = response.raw.read1(1024)
        assert chunk, f"the stream ended after {seen!r}"
        seen += chunk
    return seen


def test_server_sent_events_are_not_held_back_by_gunicorn(served, ea, node):
    stream = ea.get(served.base_url + "/ea/node/sse", stream=True, timeout=10)
    assert read_event(stream) == b"data: first\n\n"
    requests.get(node.url + "/sse/release", timeout=10)
    assert read_event(stream) == b"data: second\n\n"
    stream.close()


def test_identity_headers_arrive_through_gunicorn(served, ea):
    headers = ea.get(served.base_url + "/ea/node/echo", timeout=10).json()["headers"]
    assert (headers["x-portal-user"], headers["x-portal-tier"]) == ("auth0|demo-ea", "ea")


def test_a_relayed_websocket_on_gunicorn_echoes_and_is_closed_by_sign_out(served):
    http = sign_in(served.base_url, "ea")
    ws = open_socket(served.base_url, "/ea/relay/chat", http)
    assert json.loads(ws.recv(timeout=10)) == {"user": "auth0|demo-ea"}
    ws.send("over gevent")
    assert ws.recv(timeout=10) == "over gevent"
    logout(served.base_url, http)
    assert wait_closed(ws) == (4001, "Your session ended: signed out.")


def test_a_client_that_leaves_a_download_ends_the_upstreams_transfer_too(served, ea, node):
    before = requests.get(node.url + "/stats", timeout=10).json()["abandoned"]
    with ea.get(served.base_url + f"/ea/node/download?bytes={BIG}", stream=True, timeout=60) as r:
        r.raw.read(MB)
    deadline = time.monotonic() + 10
    abandoned = before
    while abandoned == before and time.monotonic() < deadline:
        time.sleep(0.05)
        abandoned = requests.get(node.url + "/stats", timeout=10).json()["abandoned"]
    assert abandoned == before + 1


def test_head_and_range_pass_through_gunicorn(served, ea):
    head = ea.head(served.base_url + "/ea/node/file", timeout=10)
    part = ea.get(served.base_url + "/ea/node/file", headers={"Range": "bytes=0-2"}, timeout=10)
    assert (head.status_code, head.headers["Content-Length"], head.content) == (200, "1000", b"")
    assert (part.status_code, part.headers["Content-Range"], part.content) == (
        206,
        "bytes 0-2/1000",
        b"ABC",
    )
