import pytest

from apps.ea.disagg import FEATURES, create_app, largest_remainder
from kit import Tier
from kit.testing import product_client


@pytest.fixture
def client():
    return product_client(create_app())


def test_page_lists_the_v2_features(client):
    page = client.get("/").text

    for feature in FEATURES:
        assert f"<li>{feature}</li>" in page


def test_whole_unit_split_adds_up_to_the_total():
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]


def test_split_api_labels_the_parts(client):
    response = client.get("/api/split?total=10&weights=1,1,1&labels=north,south,east")

    assert response.get_json() == {
        "version": 2,
        "total": 10,
        "parts": {"north": 4, "south": 3, "east": 3},
    }


def test_split_api_refuses_mismatched_labels(client):
    assert client.get("/api/split?total=10&weights=1,1&labels=a").status_code == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("total=10&weights=nan,1", "weights must be finite numbers (not nan or inf)"),
        ("total=10&weights=inf,1", "weights must be finite numbers (not nan or inf)"),
        ("total=10&weights=1,-inf", "weights must be finite numbers (not nan or inf)"),
        ("total=10&weights=1e308,1e308", "total and weights are too large to split"),
        ("total=10&weights=1e400", "weights must be finite numbers (not nan or inf)"),
        (f"total={10**400}&weights=1,1", "total and weights are too large to split"),
        ("total=nan&weights=1,1", "total must be a whole, non-negative number"),
    ],
)
def test_split_api_refuses_non_finite_numbers_with_a_readable_400(client, query, message):
    response = client.get(f"/api/split?{query}")

    assert response.status_code == 400
    assert f"<p>{message}</p>" in response.text


def test_product_client_refuses_a_user_below_the_product_tier():
    with pytest.raises(ValueError, match="Gate answers 403"):
        product_client(create_app(), tier=Tier.STABLE)
