"""The console's JSON API with the admin's session cookie and the CSRF header."""

import secrets

import pytest

from db.models import User
from tests.support.sessions import signed_in
from tests.test_admin_console_helpers import (
    ADMIN_SUBJECT,
    api_call,
    audit,
    grants_of,
    new_user,
    open_sessions,
    remote,
    row,
)

pytestmark = pytest.mark.site


def test_setting_a_tier_answers_the_user_as_changed(portal, admin):
    subject, email = new_user(portal, [], "Api Tier")
    answer = api_call(portal, admin, "POST", f"/users/{subject}/tier", {"tier": "devel"})
    assert answer.status_code == 200
    assert answer.json()["message"] == f"Api Tier ({email}) now has the Development tier (devel)."
    assert answer.json()["user"]["tier"] == "devel"
    assert (row(portal, subject).tier, remote(portal, subject).roles) == ("devel", ("devel",))
    assert audit(portal, subject) == [
        (ADMIN_SUBJECT, "user.tier_changed", {"from": "stable", "to": "devel"}, "api")
    ]


def test_block_and_unblock_reach_auth0_the_table_and_the_audit_log(portal, admin):
    subject, _ = new_user(portal)
    blocked = api_call(portal, admin, "POST", f"/users/{subject}/block")
    assert (blocked.status_code, blocked.json()["user"]["blocked"]) == (200, True)
    assert (row(portal, subject).blocked, remote(portal, subject).blocked) == (True, True)
    unblocked = api_call(portal, admin, "POST", f"/users/{subject}/unblock")
    assert (unblocked.status_code, unblocked.json()["user"]["blocked"]) == (200, False)
    assert (row(portal, subject).blocked, remote(portal, subject).blocked) == (False, False)
    assert [a[1] for a in audit(portal, subject)] == ["user.blocked", "user.unblocked"]


def test_ending_sessions_reports_how_many_ended(portal, admin):
    subject, email = new_user(portal, [], "Api Sessions")
    signed_in(portal, email)
    answer = api_call(portal, admin, "POST", f"/users/{subject}/sessions/end")
    assert answer.json()["message"] == f"Ended 1 open session of Api Sessions ({email})."
    assert open_sessions(portal, subject) == 0
    assert audit(portal, subject)[-1][1:3] == ("user.sessions_ended", {"sessions": 1})


def test_a_grant_is_created_with_its_expiry_and_deleted_by_id(portal, admin):
    subject, _ = new_user(portal)
    made = api_call(
        portal,
        admin,
        "POST",
        f"/users/{subject}/grants",
        {"product": "ea/disagg", "expires_at": "2099-06-01T12:00:00+02:00"},
    )
    assert made.status_code == 201
    grant = made.json()["grant"]
    assert (grant["product"], grant["expires_at"], grant["state"]) == (
        "ea/disagg",
        "2099-06-01T10:00:00Z",
        "active",
    )
    gone = api_call(portal, admin, "DELETE", f"/grants/{grant['id']}")
    assert gone.status_code == 200
    assert grants_of(portal, subject)[0].revoked_at is not None
    assert [a[1] for a in audit(portal, subject)] == ["grant.created", "grant.revoked"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        (
            "POST",
            "/users/auth0|nobody/tier",
            {"tier": "ea"},
            404,
            "There is no user 'auth0|nobody'.",
        ),
        ("GET", "/users/auth0|nobody", None, 404, "There is no user 'auth0|nobody'."),
        ("DELETE", "/grants/999999", None, 404, "There is no grant 999999."),
        (
            "POST",
            f"/users/{ADMIN_SUBJECT}/tier",
            {"tier": "ea"},
            409,
            "You cannot remove your own admin tier; ask another admin.",
        ),
        ("POST", f"/users/{ADMIN_SUBJECT}/block", None, 409, "You cannot block yourself."),
        (
            "POST",
            f"/users/{ADMIN_SUBJECT}/tier",
            {"tier": "root"},
            422,
            "tier must be one of admin, devel, ea, stable, not 'root'.",
        ),
        (
            "POST",
            f"/users/{ADMIN_SUBJECT}/tier",
            ["ea"],
            400,
            "The body must be a JSON object.",
        ),
        (
            "POST",
            "/users/bulk",
            {"subjects": [], "action": "block"},
            422,
            "subjects must name between 1 and 200 users.",
        ),
        (
            "GET",
            "/users?tier=root",
            None,
            422,
            "tier must be one of admin, devel, ea, stable, not 'root'.",
        ),
        (
            "POST",
            "/users/auth0|demo-stable/grants",
            {"product": "admin/manage"},
            422,
            "admin/manage is an admin-tier product: only the admin tier opens it, so change the "
            "tier instead (the admin safeguards and Auth0's roles then apply).",
        ),
        ("GET", "/no-such-thing", None, 404, None),
    ],
)
def test_refusals_are_json_with_the_exact_reason(
    portal, admin, method, path, body, status, message
):
    answer = api_call(portal, admin, method, path, body)
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/json"
    if message is not None:
        assert answer.json()["message"] == message


def test_an_expiry_in_the_past_is_refused(portal, admin):
    subject, _ = new_user(portal)
    answer = api_call(
        portal,
        admin,
        "POST",
        f"/users/{subject}/grants",
        {"product": "ea/disagg", "expires_at": "2001-01-01T00:00"},
    )
    assert (answer.status_code, answer.json()["message"]) == (
        422,
        "The expiry must be in the future; 2001-01-01 00:00 UTC has passed.",
    )
    assert grants_of(portal, subject) == []


def test_bulk_reports_each_users_result(portal, admin):
    first, _ = new_user(portal)
    second, _ = new_user(portal, ["devel"])
    answer = api_call(
        portal,
        admin,
        "POST",
        "/users/bulk",
        {"subjects": [first, "auth0|nobody", second], "action": "tier", "tier": "ea"},
    )
    results = [(r["subject"], r["ok"]) for r in answer.json()["results"]]
    assert results == [(first, True), ("auth0|nobody", False), (second, True)]
    assert answer.json()["results"][1]["message"] == "There is no user 'auth0|nobody'."
    assert (row(portal, first).tier, row(portal, second).tier) == ("ea", "ea")


def test_a_users_page_carries_profile_sessions_grants_and_trail(portal, admin):
    subject, email = new_user(portal, [], "Api Detail")
    signed_in(portal, email)
    api_call(portal, admin, "POST", f"/users/{subject}/grants", {"product": "ea/forecast"})
    detail = api_call(portal, admin, "GET", f"/users/{subject}").json()
    assert (detail["user"]["email"], detail["user"]["tier"]) == (email, "stable")
    assert len(detail["sessions"]) == 1
    assert [g["product"] for g in detail["grants"]] == ["ea/forecast"]
    assert [e["action"] for e in detail["audit"]] == ["grant.created"]


@pytest.fixture(scope="module")
def crowd(portal):
    """30 users sharing a fresh prefix, written straight to the table (the list reads only it)."""
    prefix = f"crowd{secrets.token_hex(3)}"
    with portal.services.database.transaction() as db:
        for number in range(30):
            db.add(
                User(
                    subject=f"test|{prefix}-{number:02d}",
                    email=f"{prefix}-{number:02d}@example.org",
                    name=f"Crowd {number:02d}",
                    tier="ea" if number % 3 == 0 else "stable",
                    roles=[],
                    blocked=number == 7,
                )
            )
    return prefix


def listed(portal, admin, query):
    return api_call(portal, admin, "GET", "/users?" + query).json()


def test_search_by_email_prefix_pages_through_every_match_in_order(portal, admin, crowd):
    first = listed(portal, admin, f"q={crowd}&per_page=25")
    second = listed(portal, admin, f"q={crowd}&per_page=25&after={first['next']}")
    emails = [u["email"] for u in first["users"] + second["users"]]
    assert emails == [f"{crowd}-{n:02d}@example.org" for n in range(30)]
    assert (first["matches"], second["next"]) == (30, None)
    back = listed(portal, admin, f"q={crowd}&per_page=25&before={second['prev']}")
    assert [u["email"] for u in back["users"]] == emails[:25]


def test_filters_combine_tier_blocked_and_a_descending_sort(portal, admin, crowd):
    found = listed(portal, admin, f"q={crowd}&tier=ea&sort=email&order=desc")
    assert [u["name"] for u in found["users"]] == [f"Crowd {n:02d}" for n in range(27, -1, -3)]
    blocked = listed(portal, admin, f"q={crowd}&blocked=yes")
    assert [u["name"] for u in blocked["users"]] == ["Crowd 07"]


def test_search_by_name_prefix_and_by_exact_user_id(portal, admin, crowd):
    by_id = listed(portal, admin, f"q=test|{crowd}-05")
    assert [u["email"] for u in by_id["users"]] == [f"{crowd}-05@example.org"]
    assert listed(portal, admin, "q=Crowd 1&tier=stable")["matches"] == 7


def test_a_prefix_with_like_wildcards_matches_them_literally(portal, admin, crowd):
    assert listed(portal, admin, f"q={crowd}%25")["users"] == []
    assert listed(portal, admin, f"q={crowd[:-1]}_")["users"] == []
