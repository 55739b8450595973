import pytest

from apps.ea.forecast import app, moving_average_forecast
from kit import Tier
from kit.testing import make_user, product_client


def test_forecast_averages_the_last_window():
    assert moving_average_forecast([1, 2, 3, 4], window=2, steps=2) == [3.5, 3.75]


def test_api_reads_the_user_from_the_environ():
    client = product_client(app, user=make_user(Tier.DEVEL, email="dev@example.test"))

    response = client.get("/api/forecast?values=1,2,3,4&window=2&steps=2")

    assert response.get_json() == {
        "requested_by": "dev@example.test",
        "window": 2,
        "forecast": [3.5, 3.75],
    }


def test_api_refuses_a_missing_series():
    assert product_client(app).get("/api/forecast").status_code == 400


def test_a_user_header_is_not_identity():
    client = product_client(app, user=make_user(Tier.EA, email="real@example.test"))

    response = client.get("/", headers={"X-Portal-User": "admin@example.test"})

    assert response.get_json()["user"] == "real@example.test"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("values=nan,1", "values must be finite numbers (not nan or inf)"),
        ("values=1,inf", "values must be finite numbers (not nan or inf)"),
        ("values=-inf", "values must be finite numbers (not nan or inf)"),
        ("values=1e308,1e308&window=2", "values are too large to forecast: the averages overflow"),
    ],
)
def test_api_refuses_non_finite_numbers_with_a_readable_400(query, message):
    response = product_client(app).get(f"/api/forecast?{query}")

    assert response.status_code == 400
    assert f"<p>{message}</p>" in response.text
