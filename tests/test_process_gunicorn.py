"""Process products under a real gunicorn: one supervisor for the whole portal, not one per
worker, and nothing left running when gunicorn stops or is killed."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from portal.products.process_files import StateReader, state_folder
from tests.support.process_products import (
    SLOW_START,
    ended,
    http_product,
    processes_in,
    wait_gone,
    wait_up,
)
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in

pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(120)]


@pytest.fixture
def started(tmp_path):
    apps, instance = tmp_path / "apps", tmp_path / "instance"
    folder = http_product(apps, "ea/web")
    server = Gunicorn(
        {"PORTAL_APPS_DIR": str(apps), "PORTAL_INSTANCE_PATH": str(instance)},
        workers=2,
        log_path=tmp_path / "gunicorn.log",
    )
    states = StateReader(state_folder(instance, server.process.pid))
    yield server, folder, states
    server.stop()


def test_two_workers_share_one_copy_of_each_product(started):
    server, folder, states = started
    state = wait_up(states, "ea/web")
    assert len(server.worker_pids()) == 2
    assert processes_in(folder) == [state.pid]


def test_the_product_stops_when_gunicorn_stops(started):
    server, folder, states = started
    wait_up(states, "ea/web")
    server.stop()
    assert processes_in(folder) == []


def test_the_product_stops_when_gunicorns_master_is_killed(started):
    server, folder, states = started
    wait_up(states, "ea/web")
    supervisor = server.supervisor_pid()
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    assert wait_gone(folder) == []
    assert ended(supervisor)


LIVENESS = "\n[liveness]\ninterval = 0.3\ntimeout = 0.5\nfailures = 2\n"
JSON = {"Accept": "application/json"}


@pytest.fixture
def two_products(tmp_path):
    apps, instance = tmp_path / "apps", tmp_path / "instance"
    web = http_product(apps, "ea/web", extra=SLOW_START)
    hung = http_product(apps, "ea/hung", extra=SLOW_START)
    with (hung / "product.toml").open("a") as toml:
        toml.write(LIVENESS)
    server = Gunicorn(
        {"PORTAL_APPS_DIR": str(apps), "PORTAL_INSTANCE_PATH": str(instance)},
        workers=2,
        log_path=tmp_path / "gunicorn.log",
    )
    states = StateReader(state_folder(instance, server.process.pid))
    wait_up(states, "ea/web")
    wait_up(states, "ea/hung")
    session = sign_in(server.base_url, "ea")
    yield server, session, states, {"ea/web": web, "ea/hung": hung}
    server.stop()


def poll(check, seconds: float = 60, what: str = "the condition"):
    """`check()`'s first answer that is not None, asked until `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} never came true within {seconds} s")


def readiness(server: Gunicorn, product: str | None = None) -> requests.Response:
    params = {"product": product} if product else None
    return requests.get(server.base_url + "/readyz", params=params, timeout=10)


def degraded(server: Gunicorn) -> requests.Response | None:
    """/readyz's answer once it names a product that is not serving."""
    answer = readiness(server)
    return answer if answer.json()["degraded"] else None


def serving_again(session, server, key, old_pid):
    """The product's page once a process other than `old_pid` answers it."""

    def answered():
        page = session.get(f"{server.base_url}/{key}/page", timeout=30)
        if page.status_code == 200 and not page.text.endswith(f"pid={old_pid}"):
            return page
        return None

    return poll(answered, what=f"{key} serving from a new process")


def test_a_killed_supervisor_is_started_again_and_its_products_serve_again(two_products):
    server, session, states, folders = two_products
    first = states.get("ea/web")
    for folder in folders.values():
        (folder / "slow").touch()
    killed = server.supervisor_pid()
    os.kill(killed, signal.SIGKILL)
    ready = poll(lambda: degraded(server), what="/readyz naming the products")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    assert set(ready.json()["degraded"]) == {"ea/web", "ea/hung"}
    alone = readiness(server, "ea/web")
    assert (alone.status_code, alone.json()["status"], alone.json()["product"]) == (
        503,
        "not ready",
        "ea/web",
    )
    down = session.get(server.base_url + "/ea/web/page", headers=JSON, timeout=30)
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "2"
    assert down.json()["error"] in {"restarting", "starting"}
    assert "restart the portal" not in down.text
    page = serving_again(session, server, "ea/web", first.pid)
    assert page.text.startswith("ea/web /ea/web/page pid=")
    assert server.supervisor_pid() not in (None, killed)
    assert ended(first.pid)
    poll(lambda: readiness(server, "ea/web").status_code == 200 or None, what="ea/web ready")
    assert f"the product supervisor (pid {killed}) ended without being asked" in server.log()


def test_a_hung_product_gets_a_fast_503_then_serves_from_a_new_process(two_products):
    server, session, states, folders = two_products
    first = states.get("ea/hung")
    web = states.get("ea/web")
    (folders["ea/hung"] / "slow").touch()
    os.kill(first.pid, signal.SIGSTOP)
    caught = session.get(server.base_url + "/ea/hung/page", headers=JSON, timeout=50)
    assert caught.status_code == 503
    assert caught.headers["Retry-After"] == "2"
    assert caught.json()["product"] == "ea/hung"
    assert caught.json()["error"] in {"unhealthy", "restarting", "starting"}
    poll(lambda: not states.get("ea/hung").serving or None, what="ea/hung not serving")
    answer = session.get(server.base_url + "/ea/hung/page", headers=JSON, timeout=50)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "2")
    assert answer.json()["product"] == "ea/hung"
    assert session.get(server.base_url + "/ea/web/page", timeout=10).text == (
        f"ea/web /ea/web/page pid={web.pid}"
    )
    assert list(readiness(server).json()["degraded"]) == ["ea/hung"]
    serving_again(session, server, "ea/hung", first.pid)
    assert ended(first.pid)
    assert states.get("ea/hung").restarts == 1
    assert states.get("ea/web") == web
