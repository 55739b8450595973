"""`gunicorn wsgi:application` with the project's gunicorn.conf.py serves the whole site."""

import pytest
import requests

from tests.support.databases import BACKENDS, database_url_for
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    with database_url_for(request.param, tmp_path_factory) as url:
        instance = tmp_path_factory.mktemp("instance")
        server = Gunicorn(
            {"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": str(instance)},
            workers=2,
            log_path=instance / "gunicorn.log",
        )
        yield server
        server.stop()


def test_every_tier_signs_in_through_two_workers(served):
    for _ in range(3):
        for tier in ("admin", "devel", "ea", "stable"):
            http = sign_in(served.base_url, tier)
            assert http.get(served.base_url + "/api/me", timeout=10).json()["tier"] == tier


def test_a_session_made_on_one_worker_is_honoured_by_all(served):
    cookie = {"portal_session": sign_in(served.base_url, "ea").cookies["portal_session"]}
    statuses = {
        requests.get(
            served.base_url + "/ea/forecast/",
            cookies=cookie,
            headers={"Connection": "close"},
            timeout=10,
        ).status_code
        for _ in range(20)
    }
    assert statuses == {200}


def test_the_gate_refuses_on_gunicorn_too(served):
    http = sign_in(served.base_url, "stable")
    assert http.get(served.base_url + "/admin/manage/", timeout=10).status_code == 403
    anonymous = requests.get(served.base_url + "/stable/hello/", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302


def test_metrics_are_summed_over_the_workers(served):
    for _ in range(20):
        requests.get(served.base_url + "/healthz", headers={"Connection": "close"}, timeout=10)
    text = requests.get(served.base_url + "/metrics", timeout=10).text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith('portal_requests_total{product="portal",status="200"}')
    )
    assert float(line.split()[-1]) >= 20
