import pytest

from apps.stable.seistech import SOURCES, app, exceedance_rate
from kit.testing import product_client


@pytest.fixture
def client():
    return product_client(app)


def test_each_service_has_its_own_page(client):
    assert "<h1>Disaggregation</h1>" in client.get("/svc_disagg/").text
    assert "<h1>Hazard curves</h1>" in client.get("/svc_hazard/").text
    assert "<h1>Reports</h1>" in client.get("/svc_report/").text


def test_contributions_are_the_sources_shares(client):
    assert client.get("/svc_disagg/api/contributions").get_json() == {
        "site": "sample",
        "contributions": SOURCES,
    }


def test_the_hazard_curve_falls_with_intensity(client):
    curve = client.get("/svc_hazard/api/curve").get_json()["curve"]
    assert curve["0.1"] == exceedance_rate(0.1) > curve["1.0"] == exceedance_rate(1.0)


def test_the_hazard_service_serves_its_own_script(client):
    assert client.get("/svc_hazard/static/hazard.js").status_code == 200


def test_the_report_exports_as_csv(client):
    answer = client.get("/svc_report/api/export?site=wellington")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="wellington-report.csv"'
    assert answer.text.splitlines()[0] == "source,share"


def test_a_report_for_an_odd_site_name_is_a_readable_400(client):
    answer = client.get("/svc_report/api/export?site=../etc")
    assert answer.status_code == 400
    assert answer.get_json()["message"] == "site must be letters and digits"
