import pytest

from apps.stable.disagg import FEATURES, app
from kit.testing import product_client


def test_page_lists_the_v1_features():
    page = product_client(app).get("/").text

    for feature in FEATURES:
        assert f"<li>{feature}</li>" in page


def test_split_divides_the_total_by_weights():
    response = product_client(app).get("/api/split?total=100&weights=1,2,1")

    assert response.get_json() == {"version": 1, "total": 100.0, "parts": [25.0, 50.0, 25.0]}


@pytest.mark.parametrize("query", ["total=100&weights=a,b", "total=100&weights=0,0", "weights=1"])
def test_split_refuses_bad_input(query):
    assert product_client(app).get(f"/api/split?{query}").status_code == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("total=inf&weights=1,1", "total must be a finite number (not nan or inf)"),
        ("total=nan&weights=1,1", "total must be a finite number (not nan or inf)"),
        ("total=100&weights=nan,1", "weights must be finite numbers (not nan or inf)"),
        ("total=100&weights=inf,1", "weights must be finite numbers (not nan or inf)"),
        ("total=1&weights=1e308,1e308", "weights are too large: their sum is not a finite number"),
        ("total=1e308&weights=1e-300", "total and weights are too large to split"),
    ],
)
def test_split_refuses_non_finite_numbers_with_a_readable_400(query, message):
    response = product_client(app).get(f"/api/split?{query}")

    assert response.status_code == 400
    assert f"<p>{message}</p>" in response.text
