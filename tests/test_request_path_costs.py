"""What a product request does once per process, or once per cached identity, rather than on
every request (benchmarks/gate_overhead.py measures what is left). The whole portal runs
in-process on a SQLite file, with one plain WSGI product; counts, never clocks."""

import gc
import importlib.util
import io
import json
import logging
import signal
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.metrics import MetricWrapperBase
from werkzeug.test import Client

import portal.routing
from auth.users import SignIn, record_sign_in
from portal.application import create_app
from portal.logs import configure_logging
from tests.support.in_process import offline_settings

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = """
def app(environ, start_response):
    user = environ["portal.user"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{id(user)} {user.email}".encode()]
"""


@pytest.fixture
def site(tmp_path):
    apps = tmp_path / "apps" / "stable" / "bench"
    apps.mkdir(parents=True)
    (apps / "__init__.py").write_text(PRODUCT)
    app = create_app(offline_settings(tmp_path, identity_cache_seconds=600))
    services = app.extensions["portal"]
    user = record_sign_in(services.database, SignIn("test|bench", "bench@x.test", "B", []))
    raw = services.store.save(None, {}, user.id)
    cookie = services.store.cookie_value(raw, "portal.test")
    client = Client(app.wsgi_app, use_cookies=False)
    try:
        yield lambda path="/stable/bench/": client.get(
            path,
            base_url="http://portal.test",
            headers={"Cookie": f"portal_session={cookie}"},
            buffered=True,
        )
    finally:
        app.extensions["portal.mounts"].close()
        services.database.dispose()


@pytest.fixture
def calls(monkeypatch):
    """Count calls of a function or method while the test runs: `calls(owner, name)`. Only
    calls on the test's own thread count, where the in-process site serves the request: the
    background threads of other sites in the same worker (a watcher logging a rescan) are not
    this request's cost."""

    def count(owner, name):
        seen = []
        original = getattr(owner, name)
        requesting = threading.current_thread()

        def counted(*args, **kwargs):
            if threading.current_thread() is requesting:
                seen.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
        return seen

    return count


def test_a_cached_identity_hands_the_product_the_same_user_on_every_request(site):
    first, second = site(), site()
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.text.split()[1] == "bench@x.test"
    assert first.text.split()[0] == second.text.split()[0]


def test_requests_after_the_first_look_up_no_metric_children(site, calls):
    site()
    looked_up = calls(MetricWrapperBase, "labels")
    for _ in range(5):
        assert site().status_code == 200
    assert looked_up == []


def test_the_access_line_never_looks_for_the_calling_frame(site, calls):
    site()
    searched = calls(logging.Logger, "findCaller")
    for _ in range(3):
        assert site().status_code == 200
    assert searched == []


def test_each_host_is_checked_against_the_trusted_hosts_once(site, calls):
    checked = calls(portal.routing, "host_is_trusted")
    for _ in range(5):
        assert site().status_code == 200
    assert checked == [("portal.test", ["portal.test"])]


def test_the_access_line_is_one_json_object_with_the_requests_fields(site):
    stream = io.StringIO()
    configure_logging(json_lines=True)
    logging.getLogger().handlers[0].setStream(stream)
    try:
        answer = site('/stable/bench/a"b/\u00e9t\u00e9')
    finally:
        configure_logging(json_lines=False)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "portal.access"]
    assert len(access) == 1
    line = access[0]
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "status",
        "duration_ms",
        "user_id",
        "product",
        "request_id",
    }
    assert (line["level"], line["message"], line["status"], line["product"]) == (
        "INFO",
        'GET /stable/bench/a"b/\u00e9t\u00e9 200',
        200,
        "stable/bench",
    )
    assert line["request_id"] == answer.headers["X-Request-ID"]
    assert isinstance(line["user_id"], int)
    assert isinstance(line["duration_ms"], float)


def test_a_gunicorn_worker_leaves_what_it_loaded_out_of_garbage_collections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # Loading the config names a metrics folder in the environment; keep it to this test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    worker = SimpleNamespace(age=1, log=logging.getLogger("worker"))  # the bare app's worker
    stop = signal.getsignal(signal.SIGTERM)
    gc.unfreeze()
    try:
        conf.post_worker_init(worker)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        signal.signal(signal.SIGTERM, stop)
