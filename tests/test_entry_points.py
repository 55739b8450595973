"""A monolithic product on the dashboard, in /api/me and in the admin console: the sample
`stable/seistech` lists three entry points, its hazard service needs ea, and the live sites remove
its reports (PORTAL_BLOCK, as docker-compose does)."""

import re

import pytest

from tests.support.sessions import signed_in

pytestmark = pytest.mark.site

DISAGG = ("Disaggregation", "/stable/seistech/svc_disagg/")
HAZARD = ("Hazard curves", "/stable/seistech/svc_hazard/")


def entry_links(page: str) -> list[tuple[str, str]]:
    """The (title, link) of each entry point on the seistech card, in order."""
    card = re.search(
        r'<article class="card card--entries" data-product="stable/seistech">(.*?)'
        r"</article>",
        page,
        re.S,
    )
    if card is None:
        return []
    return [
        (title, href)
        for href, title in re.findall(
            r'<a class="entry-point" href="([^"]+)">\s*<span class="entry-point__title">([^<]+)',
            card.group(1),
        )
    ]


@pytest.mark.parametrize(
    ("tier", "links"),
    [
        ("stable", [DISAGG]),
        ("ea", [DISAGG, HAZARD]),
        ("devel", [DISAGG, HAZARD]),
        ("admin", [DISAGG, HAZARD]),
    ],
)
def test_the_dashboard_lists_the_entry_points_each_tier_may_open(portal, tier, links):
    page = signed_in(portal, tier).get(portal.base_url + "/", timeout=10).text
    assert entry_links(page) == links


def test_a_stricter_entry_point_carries_its_tier_badge(portal):
    page = signed_in(portal, "ea").get(portal.base_url + "/", timeout=10).text
    hazard = page[page.index('href="/stable/seistech/svc_hazard/"') :]
    hazard = hazard[: hazard.index("</a>")]
    assert '<span class="tier-badge tier-badge--ea">Early access</span>' in hazard


def test_every_listed_entry_point_opens_for_the_user_who_sees_it(portal):
    for tier in ("stable", "ea"):
        http = signed_in(portal, tier)
        page = http.get(portal.base_url + "/", timeout=10).text
        for _title, href in entry_links(page):
            assert http.get(portal.base_url + href, timeout=10).status_code == 200


def test_a_product_without_entry_points_keeps_its_one_card_link(portal):
    page = signed_in(portal, "stable").get(portal.base_url + "/", timeout=10).text
    assert '<a class="card card--link" href="/stable/hello/">' in page


def test_api_me_lists_entry_points_with_their_tiers(portal):
    me = signed_in(portal, "ea").get(portal.base_url + "/api/me", timeout=10).json()
    seistech = next(p for p in me["products"] if p["name"] == "seistech")
    assert seistech["entry_points"] == [
        {
            "path": "/svc_disagg/",
            "title": "Disaggregation",
            "description": "Which sources contribute to the hazard at a site.",
            "url": "/stable/seistech/svc_disagg/",
            "tier": "stable",
        },
        {
            "path": "/svc_hazard/",
            "title": "Hazard curves",
            "description": "Annual exceedance rates by intensity; early access while the model "
            "is reviewed.",
            "url": "/stable/seistech/svc_hazard/",
            "tier": "ea",
        },
    ]


def test_api_me_gives_a_product_without_entry_points_its_root(portal):
    me = signed_in(portal, "stable").get(portal.base_url + "/api/me", timeout=10).json()
    hello = next(p for p in me["products"] if p["name"] == "hello")
    assert hello["entry_points"] == [
        {
            "path": "/",
            "title": "Hello",
            "description": "",
            "url": "/stable/hello/",
            "tier": "stable",
        }
    ]


def test_the_console_shows_each_products_path_rules(portal):
    page = (
        signed_in(portal, "admin").get(portal.base_url + "/admin/manage/products", timeout=10).text
    )
    row = page[page.index('<tr data-product="stable/seistech">') :]
    row = row[: row.index("</tr>")]
    assert '<code>/svc_hazard/</code> needs <span class="tier-badge tier-badge--ea">' in row
    assert "<code>stable/seistech/svc_report/*</code> removed by <code>PORTAL_BLOCK</code>" in row
    hello = page[page.index('<tr data-product="stable/hello">') :]
    assert "folder's tier throughout" in hello[: hello.index("</tr>")]
