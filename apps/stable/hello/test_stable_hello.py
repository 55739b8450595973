from apps.stable.hello import app
from kit import Tier
from kit.testing import make_user, product_client


def test_page_greets_the_signed_in_user():
    client = product_client(app, user=make_user(Tier.STABLE, name="Ada Lovelace"))

    response = client.get("/")

    assert response.status_code == 200
    assert "Hello, Ada Lovelace!" in response.text


def test_page_uses_its_own_static_files_under_the_mount_path():
    page = product_client(app).get("/").text

    assert 'href="/stable/hello/static/hello.css"' in page
    assert 'src="/stable/hello/static/hello.js"' in page


def test_static_files_are_served():
    response = product_client(app).get("/static/hello.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"


def test_greeting_api_names_user_tier_and_product():
    client = product_client(app, user=make_user(Tier.EA, name="Grace"))

    response = client.get("/api/greeting")

    assert response.get_json() == {
        "message": "Hello, Grace",
        "tier": "ea",
        "product": "stable/hello",
    }
