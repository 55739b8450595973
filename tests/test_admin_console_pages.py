"""The console's read-only pages: users table, products, audit log and its CSV export."""

import csv
import io
from pathlib import Path

import pytest

from auth.identity import ProductInfo
from auth.tiers import Tier
from portal.products.discovery import Product, Status
from tests.test_admin_console_helpers import (
    ADMIN_SUBJECT,
    api_call,
    console_url,
    new_user,
    post_form,
)

pytestmark = pytest.mark.site


def page(portal, admin, path):
    answer = admin.get(console_url(portal, path), timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    return answer.text


def test_the_users_table_finds_a_user_by_email_prefix(portal, admin):
    subject, email = new_user(portal, ["ea"], "Tab Table")
    html = page(portal, admin, f"/?q={email[:14]}")
    assert 'id="manage-heading"' in html
    assert f'<tr data-subject="{subject}">' in html
    assert "Showing 1\u20131 of 1." in html


def test_an_invalid_filter_shows_the_reason_with_status_422(portal, admin):
    answer = admin.get(console_url(portal, "/?login_after=yesterday"), timeout=10)
    assert answer.status_code == 422
    assert "login_after must be a date like 2026-01-31, not &#39;yesterday&#39;." in answer.text


def test_the_users_page_uses_the_portal_frame_and_no_outside_assets(portal, admin):
    html = page(portal, admin, "/")
    assert '<link rel="stylesheet" href="/static/portal.css">' in html
    assert '<link rel="stylesheet" href="/admin/manage/static/manage.css">' in html
    assert "http://" not in html.replace(portal.base_url, "") and "https://" not in html


def test_a_users_page_shows_profile_grants_and_trail(portal, admin):
    subject, _ = new_user(portal, [], "Pat Page")
    post_form(portal, admin, f"/users/{subject}/grants", {"product": "ea/disagg"})
    html = page(portal, admin, f"/users/{subject}")
    assert f"<dd><code>{subject}</code></dd>" in html
    assert '<dd data-field="tier">stable</dd>' in html
    assert "<td><code>ea/disagg</code></td><td>active</td>" in html
    assert "<code>grant.created</code>" in html


def test_products_show_reach_by_tier_and_by_grant(portal, admin):
    def reach():
        listed = api_call(portal, admin, "GET", "/products").json()["products"]
        return {p["key"]: (p["users_by_tier"], p["users_by_grant"]) for p in listed}

    before = reach()
    subject, _ = new_user(portal)
    api_call(portal, admin, "POST", f"/users/{subject}/grants", {"product": "devel/inspector"})
    after = reach()
    assert after["devel/inspector"] == (
        before["devel/inspector"][0],
        before["devel/inspector"][1] + 1,
    )
    assert after["stable/hello"] == (before["stable/hello"][0] + 1, 0)


def test_products_page_shows_broken_with_the_error_and_excluded(portal, admin, monkeypatch):
    broken = Product(
        ProductInfo(Tier.DEVEL, "wobbly", "Wobbly"),
        Path("/nowhere"),
        Status.BROKEN,
        error="ImportError: no module named 'wobbly_dep'",
    )
    excluded = Product(ProductInfo(Tier.EA, "hidden", "hidden"), Path("/nowhere"), Status.EXCLUDED)
    discovery = portal.services.discovery
    monkeypatch.setattr(discovery, "products", [*discovery.products, broken, excluded])
    html = page(portal, admin, "/products")
    assert "<pre>ImportError: no module named &#39;wobbly_dep&#39;</pre>" in html
    assert 'data-product="ea/hidden"' in html
    assert "Excluded by <code>PORTAL_APPS</code>" in html
    assert '<a href="/stable/hello/"><code>/stable/hello/</code></a>' in html


def test_the_audit_log_filters_by_target_and_action(portal, admin):
    subject, email = new_user(portal)
    post_form(portal, admin, f"/users/{subject}/block", {"confirm": "yes"})
    post_form(portal, admin, f"/users/{subject}/unblock")
    events = api_call(portal, admin, "GET", f"/audit?target={email}").json()["events"]
    assert [(e["actor"], e["action"]) for e in events] == [
        (ADMIN_SUBJECT, "user.unblocked"),
        (ADMIN_SUBJECT, "user.blocked"),
    ]
    only = api_call(portal, admin, "GET", f"/audit?target={subject}&action=user.blocked")
    assert [e["action"] for e in only.json()["events"]] == ["user.blocked"]
    html = page(portal, admin, f"/audit?target={subject}&action=user.")
    assert html.count("<tr data-event=") == 2


def test_the_audit_log_filters_by_time(portal, admin):
    subject, _ = new_user(portal)
    post_form(portal, admin, f"/users/{subject}/block", {"confirm": "yes"})
    future = api_call(portal, admin, "GET", f"/audit?target={subject}&since=2099-01-01")
    past = api_call(portal, admin, "GET", f"/audit?target={subject}&until=2000-01-01T00:00")
    now = api_call(portal, admin, "GET", f"/audit?target={subject}&since=2000-01-01")
    assert (future.json()["events"], past.json()["events"]) == ([], [])
    assert [e["action"] for e in now.json()["events"]] == ["user.blocked"]


def test_the_audit_csv_export_streams_the_filtered_log(portal, admin):
    subject, _ = new_user(portal)
    api_call(portal, admin, "POST", f"/users/{subject}/tier", {"tier": "ea"})
    answer = admin.get(console_url(portal, f"/audit.csv?target={subject}"), timeout=10)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["occurred_at", "actor", "action", "target", "source", "details"]
    assert [r[1:] for r in rows[1:]] == [
        [ADMIN_SUBJECT, "user.tier_changed", subject, "api", '{"from": "stable", "to": "ea"}']
    ]


def test_a_damaged_page_link_is_a_clear_422(portal, admin):
    answer = api_call(portal, admin, "GET", "/users?after=not-a-cursor")
    assert (answer.status_code, answer.json()["message"]) == (
        422,
        "The page link is damaged; start again from the first page.",
    )
