"""Process products under `portal serve` (what `make run` starts): started with the portal,
and nothing of them left running once it stops, however it stops."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from portal.products.process_files import StateReader, state_folder
from tests.support.process_products import (
    ended,
    http_product,
    processes_in,
    wait_gone,
    wait_up,
    wait_up_again,
)
from tests.support.processes import free_port, supervisor_of
from tests.support.signin import sign_in

pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(120)]


@pytest.fixture
def served(tmp_path):
    apps, instance = tmp_path / "apps", tmp_path / "instance"
    folder = http_product(apps, "ea/web")
    env = {
        **os.environ,
        "PORTAL_APPS_DIR": str(apps),
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_LOGIN_RATE_LIMIT": "",
    }
    env.pop("PORTAL_BASE_URL", None)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    states = StateReader(state_folder(instance, process.pid))
    process.base_url = f"http://127.0.0.1:{port}"
    yield process, folder, states
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_the_products_stop_with_portal_serve(served, signum):
    process, folder, states = served
    state = wait_up(states, "ea/web")
    os.kill(process.pid, signum)
    process.wait(timeout=30)
    assert wait_gone(folder) == []
    assert ended(state.pid)


def test_portal_serve_serves_its_process_products_through_the_gate(served):
    process, _, states = served
    state = wait_up(states, "ea/web")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(process.base_url + "/healthz", timeout=5).status_code == 200:
                break
        time.sleep(0.2)
    page = sign_in(process.base_url, "ea").get(process.base_url + "/ea/web/page", timeout=10)
    assert page.status_code == 200
    assert page.text == f"ea/web /ea/web/page pid={state.pid}"


def test_a_killed_supervisor_is_started_again_under_portal_serve(served):
    process, folder, states = served
    first = wait_up(states, "ea/web")
    killed = supervisor_of(process.pid)
    os.kill(killed, signal.SIGKILL)
    assert ended(first.pid)
    second = wait_up_again(states, "ea/web", first.pid)
    assert supervisor_of(process.pid) not in (None, killed)
    assert processes_in(folder) == [second.pid]
    page = sign_in(process.base_url, "ea").get(process.base_url + "/ea/web/page", timeout=10)
    assert page.text == f"ea/web /ea/web/page pid={second.pid}"
