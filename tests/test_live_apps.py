"""Product folders added, moved or removed while the portal runs are picked up without a restart."""

import shutil
import textwrap
import time

import pytest

from tests.support.live import private_site
from tests.support.sessions import signed_in

pytestmark = pytest.mark.site

PRODUCT = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fresh " + environ["SCRIPT_NAME"].encode()]
"""


@pytest.fixture
def site(tmp_path, tmp_path_factory):
    apps = tmp_path / "apps"
    (apps / "stable").mkdir(parents=True)
    with private_site(tmp_path_factory, apps_dir=apps, apps_recheck_seconds=0.5) as live:
        yield live, apps


def add(apps, key):
    folder = apps / key
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(textwrap.dedent(PRODUCT))
    time.sleep(1.1)  # past the once-a-second limit on rescans for unknown mounts


def once(http, url, status, seconds=30.0):
    """The answer once it has `status` (the watcher looks every 0.5 s here), or the last one."""
    deadline = time.monotonic() + seconds
    while True:
        answer = http.get(url, allow_redirects=False, timeout=10)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def test_a_new_product_folder_is_served_without_a_restart(site):
    live, apps = site
    http = signed_in(live, "admin")
    assert http.get(live.base_url + "/stable/fresh/", timeout=10).status_code == 404
    add(apps, "stable/fresh")
    answer = http.get(live.base_url + "/stable/fresh/", timeout=10)
    assert (answer.status_code, answer.text) == (200, "fresh /stable/fresh")


def test_a_new_product_is_behind_the_gate_at_once(site):
    live, apps = site
    add(apps, "devel/fresh")
    http = signed_in(live, "ea")
    assert http.get(live.base_url + "/devel/fresh/", timeout=10).status_code == 403


def test_a_new_product_appears_on_the_dashboard(site):
    live, apps = site
    http = signed_in(live, "admin")
    add(apps, "stable/fresh")
    http.get(live.base_url + "/stable/fresh/", timeout=10)
    assert 'href="/stable/fresh/"' in http.get(live.base_url + "/", timeout=10).text


def test_a_moved_product_redirects_from_its_old_address(site):
    live, apps = site
    http = signed_in(live, "admin")
    add(apps, "stable/fresh")
    http.get(live.base_url + "/stable/fresh/", timeout=10)
    (apps / "ea").mkdir()
    shutil.move(apps / "stable" / "fresh", apps / "ea" / "fresh")
    answer = once(http, live.base_url + "/stable/fresh/page?x=1", 308)
    assert (answer.status_code, answer.headers["Location"]) == (308, "/ea/fresh/page?x=1")
    assert http.get(live.base_url + "/ea/fresh/", timeout=10).text == "fresh /ea/fresh"


def test_a_removed_product_is_no_longer_served(site):
    live, apps = site
    http = signed_in(live, "admin")
    add(apps, "stable/fresh")
    assert http.get(live.base_url + "/stable/fresh/", timeout=10).status_code == 200
    shutil.rmtree(apps / "stable" / "fresh")
    assert once(http, live.base_url + "/stable/fresh/", 404).status_code == 404
