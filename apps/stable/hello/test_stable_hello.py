"""Hello's own tests, with the kit's pytest fixtures: `product_client` sends every request as the
Gate would, as `portal_user`, whose tier is `portal_tier` (the product's own unless a test
parametrizes it). `make test-app APP=stable/hello` runs them."""

import pytest

from kit import Tier


def test_page_greets_the_signed_in_user(product_client, portal_user):
    response = product_client.get("/")

    assert response.status_code == 200
    assert f"Hello, {portal_user.display_name}!" in response.text


def test_page_uses_its_own_static_files_under_the_mount_path(product_client):
    page = product_client.get("/").text

    assert 'href="/stable/hello/static/hello.css"' in page
    assert 'src="/stable/hello/static/hello.js"' in page


def test_static_files_are_served(product_client):
    response = product_client.get("/static/hello.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"


@pytest.mark.parametrize("portal_tier", [Tier.EA])
def test_greeting_api_names_user_tier_and_product(product_client, portal_user):
    response = product_client.get("/api/greeting")

    assert response.get_json() == {
        "message": f"Hello, {portal_user.display_name}",
        "tier": "ea",
        "product": "stable/hello",
    }
