"""Whatever a product does while it is imported, the portal goes on serving everything else."""

import os
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from portal.config import PROJECT_ROOT
from portal.products.discovery import Loading, Status, discover
from portal.products.loader import ImportMarks
from tests.support.live import private_site
from tests.support.processes import Gunicorn
from tests.support.sessions import signed_in
from tests.support.signin import sign_in

GOOD = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"good"]
"""


def product(apps, key, source):
    folder = apps / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(textwrap.dedent(source))
    return folder


def loaded(apps, **loading):
    return {p.info.key: p for p in discover(apps, loading=Loading(**loading)).products}


@pytest.mark.unit
def test_sys_exit_at_import_marks_the_product_broken(tmp_path):
    product(tmp_path, "ea/quitter", "import sys\nsys.exit(3)\n")
    product(tmp_path, "stable/good", GOOD)
    found = loaded(tmp_path)
    assert found["ea/quitter"].status is Status.BROKEN
    assert found["ea/quitter"].error == (
        "SystemExit: the product called sys.exit(3) while importing"
    )
    assert found["stable/good"].status is Status.LOADED


@pytest.mark.unit
def test_keyboard_interrupt_at_import_marks_the_product_broken(tmp_path):
    product(tmp_path, "ea/interrupted", "raise KeyboardInterrupt\n")
    broken = loaded(tmp_path)["ea/interrupted"]
    assert (broken.status, broken.error) == (Status.BROKEN, "KeyboardInterrupt: ")


@pytest.mark.unit
def test_an_import_that_never_finishes_is_given_up_on_after_the_limit(tmp_path):
    product(tmp_path, "devel/hangs", "import threading\nthreading.Event().wait()\n")
    product(tmp_path, "stable/good", GOOD)
    started = time.monotonic()
    found = loaded(tmp_path, timeout=1.0)
    assert time.monotonic() - started < 10
    assert found["devel/hangs"].status is Status.BROKEN
    assert found["devel/hangs"].error.startswith("the import did not finish within 1 s")
    assert found["stable/good"].status is Status.LOADED


@pytest.mark.unit
def test_a_product_that_killed_a_process_is_imported_again_once_its_files_change(tmp_path):
    apps, marks = tmp_path / "apps", tmp_path / "marks"
    folder = product(apps, "ea/killer", "import os\nos._exit(7)\n")
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from portal.products.discovery import Loading, discover\n"
        "from portal.products.loader import ImportMarks\n"
        "discover(Path(sys.argv[1]), loading=Loading(marks=ImportMarks(Path(sys.argv[2]))))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(apps), str(marks)], cwd=PROJECT_ROOT)
    (folder / "__init__.py").write_text(textwrap.dedent(GOOD))
    fixed = loaded(apps, marks=ImportMarks(marks))["ea/killer"]
    assert fixed.status is Status.LOADED
    assert list(marks.iterdir()) == []


@pytest.mark.unit
def test_products_load_when_the_project_root_is_not_on_sys_path(tmp_path):
    """As the installed `portal` command runs: another working directory, `-I` (no PYTHONPATH,
    no script directory on sys.path), and an apps folder outside the project."""
    apps = tmp_path / "elsewhere" / "apps"
    folder = product(apps, "admin/console", "from apps.admin.console.views import app\n")
    (folder / "views.py").write_text(textwrap.dedent(GOOD))
    script = (
        "import sys\nfrom pathlib import Path\nfrom portal.products.discovery import discover\n"
        "found = discover(Path(sys.argv[1]))\n"
        "print([(p.info.key, p.status.value, p.error) for p in found.products])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(apps)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[('admin/console', 'loaded', None)]", result.stderr


#: The site's limit on a product's import: a request held up by a hanging import would take
#: at least this long, so anything quicker was not held up, however busy the machine.
IMPORT_LIMIT = 10.0


@pytest.fixture
def site(tmp_path, tmp_path_factory):
    apps = tmp_path / "apps"
    product(apps, "stable/good", GOOD)
    with private_site(
        tmp_path_factory,
        apps_dir=apps,
        apps_recheck_seconds=0.2,
        import_timeout_seconds=IMPORT_LIMIT,
    ) as live:
        yield live, apps


@pytest.mark.site
def test_a_product_added_while_running_that_exits_at_import_answers_503(site):
    live, apps = site
    http = signed_in(live, "admin")
    product(apps, "ea/quitter", "import sys\nsys.exit(1)\n")
    time.sleep(1.1)  # past the once-a-second limit on rescans for unknown mounts
    page = http.get(live.base_url + "/ea/quitter/", timeout=10)
    assert page.status_code == 503
    assert "SystemExit: the product called sys.exit(1) while importing" in page.text
    assert http.get(live.base_url + "/stable/good/", timeout=10).text == "good"


@pytest.mark.site
def test_a_hanging_import_holds_up_no_other_request(site):
    live, apps = site
    http = signed_in(live, "admin")
    started = time.monotonic()  # a request held up by the import would end after the limit
    product(apps, "devel/hangs", "import threading\nthreading.Event().wait()\n")
    time.sleep(0.5)  # the watcher is now importing it, and will wait out the limit
    for path in ("/healthz", "/stable/good/", "/"):
        assert http.get(live.base_url + path, timeout=IMPORT_LIMIT).status_code == 200
        assert time.monotonic() - started < IMPORT_LIMIT, path
    deadline = time.monotonic() + IMPORT_LIMIT + 15
    while time.monotonic() < deadline:
        answer = http.get(live.base_url + "/devel/hangs/", timeout=15)
        if answer.status_code == 503:
            break
        time.sleep(0.5)
    assert answer.status_code == 503
    assert "the import did not finish within 10 s" in answer.text


QUITTER = "import sys\nsys.exit(2)\n"
KILLER = "import os\nos._exit(1)\n"


@pytest.mark.gunicorn
@pytest.mark.parametrize("source", [QUITTER, KILLER], ids=["sys.exit", "os._exit"])
def test_gunicorn_serves_with_a_product_that_ends_its_process_at_import(tmp_path, source):
    apps = tmp_path / "apps"
    product(apps, "stable/good", GOOD)
    product(apps, "ea/bad", source)
    instance = tmp_path / "instance"
    server = Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_APPS_DIR": str(apps),
        },
        workers=2,
        log_path=tmp_path / "gunicorn.log",
    )
    try:
        http = sign_in(server.base_url, "admin")
        assert http.get(server.base_url + "/stable/good/", timeout=10).text == "good"
        assert http.get(server.base_url + "/ea/bad/", timeout=10).status_code == 503
        assert requests.get(server.base_url + "/healthz", timeout=5).status_code == 200
        assert server.process.poll() is None
    finally:
        server.stop()
