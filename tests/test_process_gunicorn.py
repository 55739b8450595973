"""Process products under a real gunicorn: one supervisor for the whole portal, not one per
worker, and nothing left running when gunicorn stops or is killed."""

from __future__ import annotations

import os
import signal

import pytest

from portal.products.process_files import StateReader, state_folder
from tests.support.process_products import ended, http_product, processes_in, wait_gone, wait_up
from tests.support.processes import Gunicorn

pytestmark = pytest.mark.timeout(120)


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
