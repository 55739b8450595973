"""What people see of process products that are not up: the mount's 503 pages in the portal's
frame, their state on the dashboard and the console, `portal apps` - while the rest of the
portal serves as usual."""

from __future__ import annotations

import html
import os
import shutil
import signal
import sys
import time

import pytest
import requests
from click.testing import CliRunner

from portal.cli import main
from portal.config import PROJECT_ROOT
from portal.products.process_state import State
from tests.support.live import private_site
from tests.support.process_products import SLOW_START, Supervised, add_product, http_product
from tests.support.sessions import signed_in

pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(120)]

FAILING = (
    f"{sys.executable} -c 'import sys; print(\"KeyError: MODEL_STORE\"); sys.exit(2)' {{port}}"
)
SILENT = (
    f"{sys.executable} -c 'import time; print(\"loading the model\"); time.sleep(600)' {{port}}"
)


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    shutil.copytree(PROJECT_ROOT / "apps/stable/hello", apps / "stable/hello")
    shutil.copytree(PROJECT_ROOT / "apps/admin/manage", apps / "admin/manage")
    add_product(apps, "ea/crashy", FAILING)
    add_product(apps, "ea/slow", SILENT)
    return apps


@pytest.fixture(scope="module")
def site(apps, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        supervisor = Supervised(apps, tmp_path_factory.mktemp("instance"), patch)
        supervisor.wait_for("ea/crashy", lambda s: s.state is State.FAILED)
        supervisor.wait_for("ea/slow", lambda s: "loading the model" in s.output or s.pid)
        with private_site(tmp_path_factory, apps_dir=apps) as live:
            live.supervisor = supervisor
            yield live
        supervisor.stop()


def test_a_failed_product_answers_503_with_its_output_for_devel_users(site):
    page = signed_in(site, "devel").get(site.base_url + "/ea/crashy/", timeout=10)
    assert page.status_code == 503
    assert "Retry-After" not in page.headers
    text = html.unescape(page.text)
    assert "crashy has failed" in text
    assert "it exited with status 2, 3 times in a row soon after starting" in text
    assert "KeyError: MODEL_STORE" in text
    assert 'class="site-header' in page.text or "Sign out" in page.text


def test_a_failed_product_answers_503_without_its_output_for_ea_users(site):
    page = signed_in(site, "ea").get(site.base_url + "/ea/crashy/", timeout=10)
    assert page.status_code == 503
    assert "crashy has failed" in page.text
    assert "MODEL_STORE" not in page.text


def test_a_failed_product_answers_api_clients_in_json(site):
    http = signed_in(site, "ea")
    answer = http.get(
        site.base_url + "/ea/crashy/api", headers={"Accept": "application/json"}, timeout=10
    )
    assert answer.status_code == 503
    assert answer.json()["error"] == "failed"
    assert answer.json()["product"] == "ea/crashy"


def test_a_starting_product_answers_503_and_when_to_ask_again(site):
    page = signed_in(site, "ea").get(site.base_url + "/ea/slow/", timeout=10)
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "2"
    assert "slow is starting" in page.text


def test_the_gate_still_runs_first_for_process_products(site):
    page = signed_in(site, "stable").get(site.base_url + "/ea/crashy/", timeout=10)
    assert page.status_code == 403


def test_the_rest_of_the_portal_serves_as_usual(site):
    http = signed_in(site, "stable")
    assert http.get(site.base_url + "/stable/hello/", timeout=10).status_code == 200
    assert http.get(site.base_url + "/healthz", timeout=10).status_code == 200


def test_devel_users_see_each_process_state_and_a_failures_output_on_the_dashboard(site):
    page = html.unescape(signed_in(site, "devel").get(site.base_url + "/", timeout=10).text)
    assert "Server: <strong>failed</strong> · restarted 2 times" in page
    assert "Server: <strong>starting</strong>" in page
    assert "KeyError: MODEL_STORE" in page


def test_ea_users_see_no_process_state_on_the_dashboard(site):
    page = signed_in(site, "ea").get(site.base_url + "/", timeout=10).text
    assert "Server:" not in page
    assert "MODEL_STORE" not in page


def test_the_console_shows_a_failed_process_with_its_output(site):
    admin = signed_in(site, "admin")
    page = html.unescape(admin.get(site.base_url + "/admin/manage/products", timeout=10).text)
    row = page[page.index('data-product="ea/crashy"') :]
    row = row[: row.index("</tr>")]
    assert 'Process <span class="status-pill status-pill--failed">Failed</span>' in row
    assert "(restarted 2 times)" in row
    assert "Liveness every 5 s, 3 s each, 3 to fail" in row
    assert "it exited with status 2, 3 times in a row soon after starting" in row
    assert "KeyError: MODEL_STORE" in row
    slow = page[page.index('data-product="ea/slow"') :]
    assert 'status-pill--starting">Starting</span>' in slow[: slow.index("</tr>")]


def test_portal_apps_shows_the_running_portals_process_states(site, apps, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(site.supervisor.settings.instance_path))
    monkeypatch.setenv("PORTAL_APPS_DIR", str(apps))
    monkeypatch.delenv("PORTAL_APPS", raising=False)
    result = CliRunner().invoke(main, ["apps"], catch_exceptions=False)
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["ea", "crashy", "/ea/crashy/", "failed", "(process)"] in rows
    assert ["ea", "slow", "/ea/slow/", "starting", "(process)"] in rows
    assert ["stable", "hello", "/stable/hello/", "loaded"] in rows
    assert "ea/slow: liveness every 5 s, 3 s each, 3 to fail" in result.stdout.splitlines()
    errors = result.stderr.splitlines()
    assert errors[0] == (
        "ea/crashy: failed: it exited with status 2, 3 times in a row soon after starting; "
        "it is started again when its files change"
    )
    assert errors[1:] == ["  KeyError: MODEL_STORE"] * 3


def test_portal_apps_says_not_running_when_no_portal_runs(apps, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("PORTAL_APPS_DIR", str(apps))
    monkeypatch.delenv("PORTAL_APPS", raising=False)
    result = CliRunner().invoke(main, ["apps"], catch_exceptions=False)
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["ea", "crashy", "/ea/crashy/", "not", "running", "(process)"] in rows


def test_a_product_whose_supervisor_died_answers_503_until_another_serves_it(
    tmp_path, tmp_path_factory
):
    apps = tmp_path / "apps"
    folder = http_product(apps, "ea/web", extra=SLOW_START)
    with pytest.MonkeyPatch.context() as patch:
        supervisor = Supervised(apps, tmp_path / "instance", patch)
        first = supervisor.wait_for("ea/web", lambda s: s.serving)
        with private_site(tmp_path_factory, apps_dir=apps) as live:
            http = signed_in(live, "devel")
            assert http.get(live.base_url + "/ea/web/", timeout=10).status_code == 200
            (folder / "slow").touch()
            os.kill(supervisor.process.pid, signal.SIGKILL)
            page = poll_page(http, live.base_url + "/ea/web/", 503)
            again = poll_page(http, live.base_url + "/ea/web/", 200)
        supervisor.stop()
    text = html.unescape(page.text)
    assert page.headers["Retry-After"] == "2"
    assert "web is starting" in text
    assert "supervisor of process products stopped, and its products with it; " in text
    assert "restart the portal" not in text
    assert again.text.startswith("ea/web /ea/web/ pid=")
    assert again.text != f"ea/web /ea/web/ pid={first.pid}"


def poll_page(http, url: str, status: int, seconds: float = 60):
    """The page at `url` once it answers `status`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = http.get(url, timeout=30)
        if page.status_code == status:
            return page
        time.sleep(0.05)
    raise AssertionError(f"{url} never answered {status}; last: {page.status_code}")


def test_readyz_names_the_process_products_that_are_down_and_stays_ready(site):
    answer = requests.get(site.base_url + "/readyz", timeout=10)
    assert (answer.status_code, answer.json()["status"]) == (200, "ready")
    assert answer.json()["degraded"] == {"ea/crashy": "failed", "ea/slow": "starting"}


@pytest.mark.parametrize(
    ("product", "status", "ready"),
    [
        ("ea/crashy", 503, "not ready"),
        ("ea/slow", 503, "not ready"),
        ("stable/hello", 200, "ready"),
    ],
)
def test_readyz_for_one_product_is_503_while_it_is_down(site, product, status, ready):
    answer = requests.get(site.base_url + "/readyz", params={"product": product}, timeout=10)
    assert (answer.status_code, answer.json()["status"], answer.json()["product"]) == (
        status,
        ready,
        product,
    )
    assert answer.headers.get("Retry-After") == ("5" if status == 503 else None)


@pytest.mark.parametrize("product", ["ea/nothing", "", "../ea/crashy", "ea/crashy/", "EA/crashy"])
def test_readyz_for_a_product_not_mounted_is_404(site, product):
    answer = requests.get(site.base_url + "/readyz", params={"product": product}, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


@pytest.mark.parametrize("listen", ["{port}", "{socket}"])
def test_a_process_product_gets_the_whole_path_and_query_on_its_port_or_socket(
    listen, tmp_path, tmp_path_factory
):
    apps = tmp_path / "apps"
    http_product(apps, "ea/web", listen=listen)
    with pytest.MonkeyPatch.context() as patch:
        supervisor = Supervised(apps, tmp_path / "instance", patch)
        state = supervisor.wait_for("ea/web", lambda s: s.serving)
        with private_site(tmp_path_factory, apps_dir=apps) as live:
            page = signed_in(live, "ea").get(live.base_url + "/ea/web/a%20b?x=1")
        supervisor.stop()
    assert page.status_code == 200
    assert page.text == f"ea/web /ea/web/a%20b?x=1 pid={state.pid}"


def test_in_host_mode_a_process_product_serves_on_its_own_host(tmp_path, tmp_path_factory):
    apps = tmp_path / "apps"
    http_product(apps, "ea/web")
    with pytest.MonkeyPatch.context() as patch:
        supervisor = Supervised(apps, tmp_path / "instance", patch)
        state = supervisor.wait_for("ea/web", lambda s: s.serving)
        with private_site(tmp_path_factory, apps_dir=apps, host_mode=True) as live:
            url = live.product_url("ea/web", "/page")
            page = signed_in(live, "ea").get(url, timeout=10)
        supervisor.stop()
    assert (page.status_code, page.url) == (200, url)
    assert url.startswith("http://web--ea.localhost:")
    assert page.text == f"ea/web /ea/web/page pid={state.pid}"
