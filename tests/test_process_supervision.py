"""The supervisor of `command` products, with real processes: started on a port or socket,
restarted when killed, failed after quick exits with their output, stopped with the portal."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

import pytest
import requests

from portal.products.process_files import StateFolder, StateReader
from portal.products.process_runner import OUTPUT_LINES, ProcessRunner, ProcessSpec, backoff
from portal.products.process_state import State
from tests.support.process_products import (
    HTTP_SERVER,
    Supervised,
    add_product,
    ended,
    get,
    http_product,
    processes_in,
    wait_gone,
)

pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(90)]


@pytest.fixture
def apps(tmp_path):
    return tmp_path / "apps"


@pytest.fixture
def supervise(apps, tmp_path, monkeypatch):
    started = []

    def start(**env):
        supervisor = Supervised(apps, tmp_path / "instance", monkeypatch, **env)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()


def test_a_product_is_started_on_a_free_port_in_its_folder_with_its_name(apps, supervise):
    folder = http_product(apps, "ea/web")
    state = supervise().wait_up("ea/web")
    answer = get(state.address, "/anything")
    assert answer.text == f"ea/web /anything pid={state.pid}"
    assert state.address.startswith("http://127.0.0.1:")
    assert processes_in(folder) == [state.pid]


def test_a_product_on_a_unix_socket_is_reached_there(apps, supervise):
    http_product(apps, "ea/sock", listen="{socket}")
    state = supervise().wait_up("ea/sock")
    assert state.address.startswith("unix:/")
    assert state.address.endswith("/ea-sock.sock")
    assert os.path.exists(state.address.removeprefix("unix:"))


def test_the_command_gets_its_prefix_and_its_own_variables_but_no_portal_secret(apps, supervise):
    http_product(apps, "devel/env", arguments="--base {prefix}/")
    supervisor = supervise(SECRET_KEY="a-portal-secret-products-never-see-0123456789")
    state = supervisor.wait_up("devel/env")
    seen = get(state.address, "/env").json()
    port = state.address.rsplit(":", 1)[1]
    assert seen["argv"] == [port, "--base", "/devel/env/"]
    env = seen["env"]
    assert {name: env[name] for name in env if name.startswith("PORTAL_")} == {
        "PORTAL_PRODUCT": "devel/env",
        "PORTAL_PRODUCT_TIER": "devel",
        "PORTAL_PRODUCT_NAME": "env",
        "PORTAL_PREFIX": "/devel/env",
        "PORTAL_PORT": port,
        "PORTAL_BASE_URL": supervisor.settings.base_url,
    }
    assert "SECRET_KEY" not in env
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)


def test_a_product_killed_with_sigkill_is_started_again_and_serves_again(apps, supervise):
    http_product(apps, "ea/web")
    supervisor = supervise()
    first = supervisor.wait_up("ea/web")
    os.kill(first.pid, signal.SIGKILL)
    second = supervisor.wait_for("ea/web", lambda s: s.serving and s.pid != first.pid)
    assert second.restarts == 1
    assert get(second.address).text == f"ea/web / pid={second.pid}"


def test_a_product_that_exits_at_once_is_failed_with_its_output(apps, supervise):
    add_product(
        apps,
        "ea/broken",
        f"{sys.executable} -c 'import sys; print(\"missing setting FOO\"); sys.exit(3)' {{port}}",
    )
    state = supervise().wait_for("ea/broken", lambda s: s.state is State.FAILED)
    assert state.output == "missing setting FOO\n" * 2 + "missing setting FOO"
    assert state.restarts == 2
    assert state.detail == (
        "it exited with status 3, 3 times in a row soon after starting; "
        "it is started again when its files change"
    )


def test_a_failing_product_leaves_the_others_serving(apps, supervise):
    http_product(apps, "ea/web")
    add_product(apps, "ea/broken", f"{sys.executable} -c 'raise SystemExit(1)' {{port}}")
    supervisor = supervise()
    supervisor.wait_for("ea/broken", lambda s: s.state is State.FAILED)
    web = supervisor.wait_up("ea/web")
    assert get(web.address).status_code == 200
    assert web.restarts == 0


def test_output_keeps_only_the_last_lines(apps, supervise):
    add_product(
        apps,
        "ea/chatty",
        f"{sys.executable} -c 'for i in range(100): print(i)' {{port}}",
    )
    state = supervise().wait_for("ea/chatty", lambda s: s.state is State.FAILED)
    assert state.output.splitlines() == [str(i) for i in range(100 - OUTPUT_LINES, 100)]


def test_the_pause_before_a_restart_doubles_with_each_quick_exit_up_to_a_cap():
    assert [backoff(n) for n in (1, 2, 3, 4, 10)] == [0.5, 1.0, 2.0, 4.0, 30.0]


def test_a_failed_product_is_started_again_when_its_files_change(apps, supervise):
    folder = add_product(apps, "ea/fixme", f"{sys.executable} server.py {{port}}")
    (folder / "server.py").write_text("raise SystemExit('not written yet')\n")
    supervisor = supervise()
    supervisor.wait_for("ea/fixme", lambda s: s.state is State.FAILED)
    (folder / "server.py").write_text(HTTP_SERVER)
    state = supervisor.wait_up("ea/fixme")
    assert get(state.address).text.startswith("ea/fixme / pid=")


def test_a_product_added_while_running_is_started_and_a_removed_one_stopped(apps, supervise):
    first = http_product(apps, "ea/first")
    supervisor = supervise()
    supervisor.wait_up("ea/first")
    second = http_product(apps, "ea/second")
    state = supervisor.wait_up("ea/second")
    assert get(state.address).text.startswith("ea/second / pid=")
    (first / "product.toml").unlink()
    assert wait_gone(first) == []
    deadline = time.monotonic() + 10
    while supervisor.state("ea/first") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert supervisor.state("ea/first") is None
    assert processes_in(second) == [state.pid]


CHILD = (
    "import subprocess, sys; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
)


def test_stopping_the_supervisor_ends_each_product_and_what_it_started(apps, supervise):
    folder = http_product(apps, "ea/parent", extra=CHILD)
    supervisor = supervise()
    supervisor.wait_up("ea/parent")
    assert len(processes_in(folder)) == 2
    supervisor.stop()
    assert processes_in(folder) == []
    assert not supervisor.states.path.exists()


def test_a_killed_supervisor_ends_every_product_and_another_starts_them_again(apps, supervise):
    folder = http_product(apps, "ea/parent", extra=CHILD)
    supervisor = supervise()
    first = supervisor.wait_up("ea/parent")
    old_processes = processes_in(folder)
    killed = supervisor.process.pid
    os.kill(killed, signal.SIGKILL)
    assert all(ended(pid) for pid in old_processes)
    second = supervisor.wait_for("ea/parent", lambda s: s.serving and s.pid != first.pid)
    assert supervisor.process.pid != killed
    assert supervisor.process.restarts == 1
    assert supervisor.states.supervisor_running()
    assert get(second.address).text == f"ea/parent / pid={second.pid}"
    assert second.pid in processes_in(folder)
    assert not set(old_processes) & set(processes_in(folder))


def test_a_burst_of_stop_signals_still_ends_the_supervisor_and_its_products(apps, supervise):
    """A signal that lands while the handler of the one before still runs must not leave the
    supervisor stuck: stuck, it outlives its portal and keeps its products running."""
    folder = http_product(apps, "ea/parent", extra=CHILD)
    supervisor = supervise()
    supervisor.wait_up("ea/parent")
    old_processes = processes_in(folder)
    signalled = supervisor.process.pid
    with contextlib.suppress(ProcessLookupError):
        for _ in range(500):
            os.kill(signalled, signal.SIGTERM)
            os.kill(signalled, signal.SIGINT)
    assert ended(signalled)
    assert all(ended(pid) for pid in old_processes)


LIVENESS = "\n[liveness]\ninterval = 0.3\ntimeout = 0.5\nfailures = 2\n"


def test_a_hung_product_is_marked_unhealthy_ended_and_started_again(apps, supervise):
    hung = http_product(apps, "ea/hung")
    with (hung / "product.toml").open("a") as toml:
        toml.write(LIVENESS)
    http_product(apps, "ea/other")
    supervisor = supervise()
    first = supervisor.wait_up("ea/hung")
    other = supervisor.wait_up("ea/other")
    os.kill(first.pid, signal.SIGSTOP)
    unhealthy = supervisor.wait_for("ea/hung", lambda s: s.state is State.UNHEALTHY)
    assert (unhealthy.pid, unhealthy.detail) == (
        first.pid,
        "its health path /ea/hung/ did not answer within 0.5 s, 2 times in a row",
    )
    second = supervisor.wait_for("ea/hung", lambda s: s.serving and s.pid != first.pid)
    assert ended(first.pid)
    assert second.restarts == 1
    assert get(second.address).text == f"ea/hung / pid={second.pid}"
    assert supervisor.state("ea/other") == other


def test_a_product_process_does_not_answer_after_its_portal_stopped(apps, supervise):
    http_product(apps, "ea/web")
    supervisor = supervise()
    state = supervisor.wait_up("ea/web")
    supervisor.stop()
    with pytest.raises(requests.ConnectionError):
        get(state.address)


def test_a_product_whose_product_toml_stops_reading_keeps_running(apps, supervise):
    folder = http_product(apps, "ea/web")
    supervisor = supervise()
    state = supervisor.wait_up("ea/web")
    (folder / "product.toml").write_text('command = "unterminated\n')
    http_product(apps, "ea/later")
    supervisor.wait_up("ea/later")
    assert supervisor.state("ea/web") == state
    assert get(state.address).text == f"ea/web / pid={state.pid}"


def test_an_edited_command_starts_the_product_again(apps, supervise):
    folder = http_product(apps, "ea/web")
    supervisor = supervise()
    first = supervisor.wait_up("ea/web")
    toml = (folder / "product.toml").read_text()
    (folder / "product.toml").write_text(toml.replace("server.py", "server.py {port}", 1))
    second = supervisor.wait_for("ea/web", lambda s: s.serving and s.pid != first.pid)
    assert get(second.address, "/env").json()["argv"][1] == second.address.rsplit(":", 1)[1]


def test_a_product_that_never_answers_its_health_path_is_failed_with_why(tmp_path):
    folder = tmp_path / "apps/ea/mute"
    folder.mkdir(parents=True)
    command = f"{sys.executable} -c 'import time; print(\"warming up\"); time.sleep(600)' {{port}}"
    states = StateFolder(tmp_path / "states")
    states.reset(os.getpid())
    runner = ProcessRunner(
        ProcessSpec("ea/mute", command, folder, "/ea/mute", "/"),
        states,
        env=os.environ,
        runtime_dir=tmp_path / "sockets",
        start_seconds=0.5,
    )
    runner.start()
    reader = StateReader(tmp_path / "states")
    deadline = time.monotonic() + 60
    state = reader.get("ea/mute")
    while (state is None or state.state is not State.FAILED) and time.monotonic() < deadline:
        time.sleep(0.05)
        state = reader.get("ea/mute")
    runner.stop()
    assert state.detail == (
        "its health path /ea/mute/ did not answer within 0.5 s, 3 times in a row soon after "
        "starting; it is started again when its files change"
    )
    assert state.output == "warming up\nwarming up\nwarming up"
    assert processes_in(folder) == []
