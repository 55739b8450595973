"""Editing a running product's files reloads it: a fix brings a broken product back by itself,
and a broken edit leaves the previous version serving until the next edit imports fine."""

import textwrap
import time

import pytest

from tests.support.live import private_site
from tests.support.sessions import signed_in

pytestmark = pytest.mark.site

VERSION = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{text}"]
"""


def write(folder, source, name="__init__.py"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source))


def eventually(http, url, text, seconds=10.0):
    """The answer once it says `text` (the watcher looks every 0.2 s here), or the last one."""
    deadline = time.monotonic() + seconds
    while True:
        answer = http.get(url, timeout=10)
        if text in answer.text or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.fixture
def site(tmp_path, tmp_path_factory):
    apps = tmp_path / "apps"
    write(apps / "ea" / "widgets", VERSION.format(text="version 1"))
    with private_site(tmp_path_factory, apps_dir=apps, apps_recheck_seconds=0.2) as live:
        yield live, apps / "ea" / "widgets"


def test_an_edited_product_serves_its_new_code_without_a_restart(site):
    live, folder = site
    http = signed_in(live, "ea")
    assert http.get(live.base_url + "/ea/widgets/", timeout=10).text == "version 1"
    write(folder, VERSION.format(text="version 2"))
    answer = eventually(http, live.base_url + "/ea/widgets/", "version 2")
    assert (answer.status_code, answer.text) == (200, "version 2")


def test_an_edit_to_a_module_the_product_imports_is_picked_up(site):
    live, folder = site
    write(folder, "from .views import app\n")
    write(folder, VERSION.format(text="views 1"), "views.py")
    http = signed_in(live, "ea")
    assert eventually(http, live.base_url + "/ea/widgets/", "views 1").text == "views 1"
    write(folder, VERSION.format(text="views 2"), "views.py")
    assert eventually(http, live.base_url + "/ea/widgets/", "views 2").text == "views 2"


def test_a_broken_edit_keeps_the_previous_version_serving_and_says_so(site):
    live, folder = site
    http = signed_in(live, "devel")
    write(folder, "raise RuntimeError('half-written')\n")
    dashboard = eventually(http, live.base_url + "/", "half-written")
    assert "RuntimeError: half-written" in dashboard.text
    assert "The previous version is still serving" in dashboard.text
    assert http.get(live.base_url + "/ea/widgets/", timeout=10).text == "version 1"


def test_the_next_edit_that_imports_replaces_the_previous_version(site):
    live, folder = site
    http = signed_in(live, "devel")
    write(folder, "raise RuntimeError('half-written')\n")
    eventually(http, live.base_url + "/", "half-written")
    write(folder, VERSION.format(text="version 3"))
    answer = eventually(http, live.base_url + "/ea/widgets/", "version 3")
    assert (answer.status_code, answer.text) == (200, "version 3")
    assert "half-written" not in http.get(live.base_url + "/", timeout=10).text


def test_a_product_broken_from_the_start_is_served_once_fixed(tmp_path, tmp_path_factory):
    apps = tmp_path / "apps"
    folder = apps / "stable" / "late"
    write(folder, "raise ImportError('no module named numpyy')\n")
    with private_site(tmp_path_factory, apps_dir=apps, apps_recheck_seconds=0.2) as live:
        http = signed_in(live, "stable")
        assert http.get(live.base_url + "/stable/late/", timeout=10).status_code == 503
        write(folder, VERSION.format(text="fixed"))
        answer = eventually(http, live.base_url + "/stable/late/", "fixed")
        assert (answer.status_code, answer.text) == (200, "fixed")
