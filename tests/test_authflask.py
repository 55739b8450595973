from pathlib import Path

import pytest
from flask import render_template_string, session
from jinja2 import Environment, FileSystemLoader, select_autoescape

from auth.identity import ProductInfo
from auth.tiers import Tier
from kit import AuthFlask, current_user
from kit.authflask import derive_product_secret
from kit.testing import TEST_LOGOUT_TOKEN, make_user, product_client
from portal.pages import TEMPLATE_FOLDERS
from portal.products.discovery import Product, Status
from portal.views.dashboard import Card

pytestmark = pytest.mark.unit

PRODUCT = ProductInfo(tier=Tier.EA, name="widgets", title="Widgets", version="2.1")
PAGE = '{% extends "portal/base.html" %}{% block content %}<p>page body</p>{% endblock %}'


@pytest.fixture
def app():
    app = AuthFlask("widgets_test")

    @app.get("/")
    def index():
        return render_template_string(PAGE)

    @app.get("/whoami")
    def whoami():
        return {"email": current_user.email, "tier": current_user.tier.value}

    @app.get("/product")
    def product():
        return {"key": app.product.key}

    @app.get("/remember")
    def remember():
        session["seen"] = True
        return "ok"

    return app


def test_current_user_is_the_user_in_the_environ(app):
    client = product_client(
        app, user=make_user(Tier.DEVEL, email="d@example.test"), product=PRODUCT
    )

    assert client.get("/whoami").get_json() == {"email": "d@example.test", "tier": "devel"}


def test_current_user_without_the_gate_raises_a_clear_error(app):
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="product_client"):
        _ = current_user.email


def test_product_comes_from_the_environ(app):
    client = product_client(app, product=PRODUCT)

    assert client.get("/product").get_json() == {"key": "ea/widgets"}


def test_product_template_extends_base_and_shows_the_user(app):
    client = product_client(app, user=make_user(Tier.DEVEL, name="Dana"), product=PRODUCT)

    page = client.get("/").text

    assert '<span class="user-menu__name">Dana</span>' in page
    assert "<p>page body</p>" in page


def test_base_shows_the_users_tier_badge(app):
    client = product_client(app, user=make_user(Tier.DEVEL), product=PRODUCT)

    page = client.get("/").text

    assert (
        '<span class="tier-badge tier-badge--devel" title="Your access tier">Development</span>'
        in page
    )


def test_base_shows_the_product_title_and_tier(app):
    page = product_client(app, product=PRODUCT).get("/").text

    assert 'href="/ea/widgets/" aria-current="page">Widgets</a>' in page
    assert (
        '<span class="tier-badge tier-badge--ea" title="Product tier">Early access</span>' in page
    )


def test_sign_out_form_posts_the_logout_token(app):
    page = product_client(app, product=PRODUCT).get("/").text

    assert '<form class="signout-form" method="post" action="/logout">' in page
    assert f'<input type="hidden" name="token" value="{TEST_LOGOUT_TOKEN}">' in page


def test_site_name_comes_from_bind_portal(app):
    app.bind_portal(PRODUCT, "portal-secret", site_name="Research Hub")

    page = product_client(app).get("/").text

    assert "<title>Widgets · Research Hub</title>" in page


def test_product_templates_override_portal_templates(tmp_path):
    (tmp_path / "templates" / "portal").mkdir(parents=True)
    (tmp_path / "templates" / "portal" / "base.html").write_text("own base")
    app = AuthFlask("override_test", root_path=str(tmp_path))

    with app.test_request_context("/"):
        assert render_template_string('{% extends "portal/base.html" %}') == "own base"


def test_bind_portal_scopes_the_session_cookie_to_the_product(app):
    app.bind_portal(PRODUCT, "portal-secret")

    assert app.config["SESSION_COOKIE_NAME"] == "portal_product_ea_widgets"
    assert app.config["SESSION_COOKIE_PATH"] == "/ea/widgets"


def test_bind_portal_derives_a_secret_unlike_the_portals(app):
    app.bind_portal(PRODUCT, "portal-secret")

    assert app.config["SECRET_KEY"] == derive_product_secret("portal-secret", PRODUCT)
    assert app.config["SECRET_KEY"] != "portal-secret"


def test_each_product_gets_a_different_secret():
    other = ProductInfo(tier=Tier.STABLE, name="widgets", title="Widgets")

    assert derive_product_secret("s", PRODUCT) != derive_product_secret("s", other)


def test_session_cookie_is_httponly_lax_and_path_scoped(app):
    app.bind_portal(PRODUCT, "portal-secret")

    response = product_client(app).get("/remember")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("portal_product_ea_widgets=")
    assert "; HttpOnly" in cookie
    assert "; Path=/ea/widgets" in cookie
    assert "; SameSite=Lax" in cookie


def test_unbound_app_has_a_session_secret():
    assert AuthFlask("unbound_test").config["SECRET_KEY"]


def test_error_page_renders_without_flask():
    env = Environment(loader=FileSystemLoader(TEMPLATE_FOLDERS), autoescape=select_autoescape())

    page = env.get_template("portal/error.html").render(
        status=403,
        heading="Not for your tier",
        message="Ask an admin.",
        details="<trace>",
        action_url="/login",
        action_label="Try signing in again",
        portal_user=make_user(Tier.STABLE),
        portal_product=None,
        portal_logout_token="tok",
        portal_name="Portal",
    )

    assert '<p class="error-page__status">Error 403</p>' in page
    assert "<pre>&lt;trace&gt;</pre>" in page
    assert '<a class="button button--primary" href="/login">Try signing in again</a>' in page


def test_dashboard_shows_broken_products_disabled_with_their_error():
    env = Environment(loader=FileSystemLoader(TEMPLATE_FOLDERS), autoescape=select_autoescape())
    card = Product(
        info=ProductInfo(tier=Tier.DEVEL, name="bad", title="Bad"),
        folder=Path("apps/devel/bad"),
        status=Status.BROKEN,
        error="ImportError: nope",
    )

    page = env.get_template("portal/dashboard.html").render(groups=[(Tier.DEVEL, [Card(card, ())])])

    assert '<article class="card card--broken" aria-disabled="true">' in page
    assert "<pre>ImportError: nope</pre>" in page
    assert 'href="/devel/bad/"' not in page


def test_dashboard_without_products_shows_the_empty_state():
    env = Environment(loader=FileSystemLoader(TEMPLATE_FOLDERS), autoescape=select_autoescape())

    page = env.get_template("portal/dashboard.html").render(groups=[])

    assert '<h2 id="empty-heading">No products yet</h2>' in page
