"""One signed-in journey per tier: dashboard, every product it may open, and every refusal, in
path mode (one origin) and host mode (a host per product), on both databases."""

import hashlib
import re
from urllib.parse import urlencode

import pytest
import requests

from auth.handoff import STATE_COOKIE_NAME
from tests.support.sessions import signed_in
from tests.support.signin import sign_in_from

pytestmark = pytest.mark.site

PRODUCTS = {
    "admin/manage": "admin",
    "devel/explorer": "devel",
    "devel/inspector": "devel",
    "ea/disagg": "ea",
    "ea/forecast": "ea",
    "ea/live": "ea",
    "stable/disagg": "stable",
    "stable/hello": "stable",
    "stable/seistech": "stable",
}
RANK = {"stable": 0, "ea": 1, "devel": 2, "admin": 3}


def opens(user_tier, product_tier):
    return RANK[user_tier] >= RANK[product_tier]


def dashboard_links(html):
    """The products the dashboard offers: cards that link to one, and cards of entry points."""
    link = r'<a class="card card--link" href="(?:http://[a-z0-9.:-]+)?/([a-z]+/[a-z_]+)/"'
    entries = r'<article class="card card--entries" data-product="([a-z]+/[a-z_]+)">'
    return sorted(re.findall(link, html) + re.findall(entries, html))


@pytest.mark.parametrize("tier", list(RANK))
def test_the_dashboard_lists_exactly_the_products_the_tier_opens(site, tier):
    session = signed_in(site, tier)
    page = session.get(site.base_url + "/", timeout=10)
    expected = sorted(key for key, needed in PRODUCTS.items() if opens(tier, needed))
    assert dashboard_links(page.text) == expected


@pytest.mark.parametrize("tier", list(RANK))
def test_each_product_opens_or_refuses_by_tier(site, tier):
    session = signed_in(site, tier)
    statuses = {key: session.get(site.product_url(key), timeout=10).status_code for key in PRODUCTS}
    assert statuses == {
        key: 200 if opens(tier, needed) else 403 for key, needed in PRODUCTS.items()
    }


@pytest.mark.parametrize("tier", list(RANK))
def test_api_me_reports_the_user_tier_and_products(site, tier):
    session = signed_in(site, tier)
    me = session.get(site.base_url + "/api/me", timeout=10).json()
    assert me["user"]["email"] == f"{tier}@example.com"
    assert me["tier"] == tier
    assert sorted(f"{p['tier']}/{p['name']}" for p in me["products"]) == sorted(
        key for key, needed in PRODUCTS.items() if opens(tier, needed)
    )


def test_anonymous_visitors_see_the_sign_in_page(site):
    page = requests.get(site.base_url + "/", timeout=10)
    assert page.status_code == 200
    assert 'href="/login"' in page.text
    assert dashboard_links(page.text) == []


def test_anonymous_api_me_is_401_json(site):
    response = requests.get(site.base_url + "/api/me", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


@pytest.mark.parametrize("key", sorted(PRODUCTS))
def test_anonymous_browsers_are_sent_to_sign_in_for_every_product(site, key):
    response = requests.get(site.product_url(key), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    if site.host_mode:
        state = response.cookies[STATE_COOKIE_NAME]
        query = urlencode(
            {
                "product": key,
                "next": f"/{key}/",
                "state": hashlib.sha256(state.encode()).hexdigest(),
            }
        )
        assert response.headers["Location"] == f"{site.base_url}/_portal/handoff?{query}"
    else:
        assert response.headers["Location"] == f"/login?next=%2F{key.replace('/', '%2F')}%2F"


def test_signing_in_from_a_product_link_returns_to_that_product(site):
    _session, landing = sign_in_from(site.product_url("ea/forecast"), "ea")
    assert (landing.status_code, landing.url) == (200, site.product_url("ea/forecast"))


def test_a_product_receives_the_signed_in_user(site):
    session = signed_in(site, "stable")
    greeting = session.get(site.product_url("stable/hello", "/api/greeting"), timeout=10).json()
    assert greeting == {"message": "Hello, Sam Stable", "tier": "stable", "product": "stable/hello"}


def test_the_same_product_name_serves_two_versions_in_two_tiers(site):
    session = signed_in(site, "ea")
    query = "/api/split?total=10&weights=1,1"
    v1 = session.get(site.product_url("stable/disagg", query), timeout=10)
    v2 = session.get(site.product_url("ea/disagg", query), timeout=10)
    assert (v1.json()["version"], v2.json()["version"]) == (1, 2)
