"""Each console action through its HTML form: the table, the provider's store and the audit log."""

import pytest

from tests.support.sessions import signed_in
from tests.test_admin_console_helpers import (
    ADMIN_SUBJECT,
    audit,
    console_url,
    grants_of,
    new_user,
    open_sessions,
    post_form,
    remote,
    row,
)

pytestmark = pytest.mark.site


def test_raising_a_tier_changes_auth0_the_table_and_the_audit_log(portal, admin):
    subject, email = new_user(portal, [], "Rae Raise")
    answer = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "ea"})
    assert (answer.status_code, answer.headers["Location"]) == (
        303,
        f"/admin/manage/users/{subject.replace('|', '%7C')}",
    )
    page = admin.get(console_url(portal, f"/users/{subject}"), timeout=10).text
    assert f"Rae Raise ({email}) now has the Early access tier (ea)." in page
    assert (row(portal, subject).tier, remote(portal, subject).roles) == ("ea", ("ea",))
    assert audit(portal, subject) == [
        (ADMIN_SUBJECT, "user.tier_changed", {"from": "stable", "to": "ea"}, "console")
    ]


def test_lowering_a_tier_asks_first_and_changes_nothing_until_confirmed(portal, admin):
    subject, _ = new_user(portal, ["devel"], "Lou Lower")
    asked = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "stable"})
    assert asked.status_code == 200
    assert "Lower the tier of Lou Lower" in asked.text
    assert '<input type="hidden" name="confirm" value="yes">' in asked.text
    assert (row(portal, subject).tier, audit(portal, subject)) == ("devel", [])

    done = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "stable", "confirm": "yes"})
    assert done.status_code == 303
    assert (row(portal, subject).tier, remote(portal, subject).roles) == ("stable", ())


def test_blocking_asks_then_blocks_everywhere_and_ends_their_sessions(portal, admin):
    subject, email = new_user(portal, [], "Bo Block")
    signed_in(portal, email)
    assert "Block Bo Block" in post_form(portal, admin, f"/users/{subject}/block").text
    assert row(portal, subject).blocked is False

    done = post_form(portal, admin, f"/users/{subject}/block", {"confirm": "yes"})
    assert done.status_code == 303
    assert (row(portal, subject).blocked, remote(portal, subject).blocked) == (True, True)
    assert open_sessions(portal, subject) == 0
    assert audit(portal, subject) == [(ADMIN_SUBJECT, "user.blocked", {}, "console")]


def test_unblocking_needs_no_confirmation(portal, admin):
    subject, _ = new_user(portal, [], "Una Unblock")
    post_form(portal, admin, f"/users/{subject}/block", {"confirm": "yes"})
    done = post_form(portal, admin, f"/users/{subject}/unblock")
    assert done.status_code == 303
    assert (row(portal, subject).blocked, remote(portal, subject).blocked) == (False, False)
    assert [a[1] for a in audit(portal, subject)] == ["user.blocked", "user.unblocked"]


def test_ending_sessions_signs_the_user_out_everywhere(portal, admin):
    subject, email = new_user(portal, [], "Ed End")
    signed_in(portal, email)
    signed_in(portal, email)
    done = post_form(portal, admin, f"/users/{subject}/sessions/end", {"confirm": "yes"})
    page = admin.get(console_url(portal, f"/users/{subject}"), timeout=10).text
    assert done.status_code == 303
    assert f"Ended 2 open sessions of Ed End ({email})." in page
    assert open_sessions(portal, subject) == 0
    assert audit(portal, subject) == [
        (ADMIN_SUBJECT, "user.sessions_ended", {"sessions": 2}, "console")
    ]


def test_a_grant_with_an_expiry_opens_one_product_above_the_tier(portal, admin):
    subject, email = new_user(portal, [], "Gil Grant")
    done = post_form(
        portal,
        admin,
        f"/users/{subject}/grants",
        {"product": "devel/inspector", "expires_at": "2099-01-31T18:00"},
    )
    assert done.status_code == 303
    [grant] = grants_of(portal, subject)
    assert (grant.product, grant.granted_by, str(grant.expires_at)) == (
        "devel/inspector",
        ADMIN_SUBJECT,
        "2099-01-31 18:00:00",
    )
    assert audit(portal, subject) == [
        (
            ADMIN_SUBJECT,
            "grant.created",
            {"product": "devel/inspector", "expires_at": "2099-01-31T18:00:00"},
            "console",
        )
    ]
    user = signed_in(portal, email)
    assert user.get(portal.base_url + "/devel/inspector/", timeout=10).status_code == 200
    assert user.get(portal.base_url + "/ea/disagg/", timeout=10).status_code == 403


def test_revoking_a_grant_asks_first_then_revokes_it(portal, admin):
    subject, _ = new_user(portal, [], "Rex Revoke")
    post_form(portal, admin, f"/users/{subject}/grants", {"product": "ea/forecast"})
    [grant] = grants_of(portal, subject)
    path = f"/users/{subject}/grants/{grant.id}/revoke"
    assert f"Revoke grant {grant.id}?" in post_form(portal, admin, path).text
    assert grants_of(portal, subject)[0].revoked_at is None

    assert post_form(portal, admin, path, {"confirm": "yes"}).status_code == 303
    assert grants_of(portal, subject)[0].revoked_at is not None
    assert [a[1:3] for a in audit(portal, subject)] == [
        ("grant.created", {"product": "ea/forecast", "expires_at": None}),
        ("grant.revoked", {"product": "ea/forecast"}),
    ]


def test_a_grant_the_tier_already_gives_is_refused_with_the_reason(portal, admin):
    subject, email = new_user(portal, ["devel"], "Dee Devel")
    answer = post_form(portal, admin, f"/users/{subject}/grants", {"product": "ea/disagg"})
    assert answer.status_code == 422
    assert f"The devel tier of Dee Devel ({email}) already opens ea/disagg" in answer.text
    assert grants_of(portal, subject) == []


def test_an_admin_cannot_remove_their_own_admin_tier(portal, admin):
    answer = post_form(
        portal, admin, f"/users/{ADMIN_SUBJECT}/tier", {"tier": "devel", "confirm": "yes"}
    )
    assert answer.status_code == 409
    assert "You cannot remove your own admin tier; ask another admin." in answer.text
    assert (row(portal, ADMIN_SUBJECT).tier, remote(portal, ADMIN_SUBJECT).roles) == (
        "admin",
        ("admin",),
    )


def test_an_admin_cannot_block_themselves(portal, admin):
    answer = post_form(portal, admin, f"/users/{ADMIN_SUBJECT}/block", {"confirm": "yes"})
    assert answer.status_code == 409
    assert "You cannot block yourself." in answer.text
    assert (row(portal, ADMIN_SUBJECT).blocked, remote(portal, ADMIN_SUBJECT).blocked) == (
        False,
        False,
    )


def test_an_unknown_tier_is_refused_with_the_allowed_ones(portal, admin):
    subject, _ = new_user(portal)
    answer = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "root"})
    assert answer.status_code == 422
    assert "tier must be one of admin, devel, ea, stable, not &#39;root&#39;." in answer.text
    assert row(portal, subject).tier == "stable"


def test_an_unknown_user_is_a_404_page(portal, admin):
    answer = post_form(portal, admin, "/users/auth0%7Cnobody/tier", {"tier": "ea"})
    assert answer.status_code == 404
    assert "There is no user &#39;auth0|nobody&#39;." in answer.text


def test_bulk_tier_change_reports_each_users_result(portal, admin):
    first, first_email = new_user(portal, [], "Bea Bulk")
    second, _ = new_user(portal, [], "Ben Bulk")
    answer = post_form(
        portal,
        admin,
        "/users/bulk",
        {"subject": [first, "auth0|nobody", second], "action": "tier", "tier": "ea"},
    )
    assert answer.status_code == 200
    assert "Set the tier to ea: 2 of 3 done" in answer.text
    assert (
        f'<tr class="result--ok" data-subject="{first}">' in answer.text
        and f"<td>Bea Bulk ({first_email}) now has the Early access tier (ea).</td>" in answer.text
    )
    assert '<tr class="result--failed" data-subject="auth0|nobody">' in answer.text
    assert (row(portal, first).tier, row(portal, second).tier) == ("ea", "ea")
    assert (remote(portal, first).roles, remote(portal, second).roles) == (("ea",), ("ea",))


def test_bulk_block_asks_first_then_blocks_each_user(portal, admin):
    first, _ = new_user(portal)
    second, _ = new_user(portal)
    fields = {"subject": [first, second], "action": "block"}
    asked = post_form(portal, admin, "/users/bulk", fields)
    assert "Block for 2 users?" in asked.text
    assert (row(portal, first).blocked, row(portal, second).blocked) == (False, False)

    done = post_form(portal, admin, "/users/bulk", {**fields, "confirm": "yes"})
    assert "Block: 2 of 2 done" in done.text
    assert (row(portal, first).blocked, row(portal, second).blocked) == (True, True)
    assert (remote(portal, first).blocked, remote(portal, second).blocked) == (True, True)
    assert audit(portal, first) == [(ADMIN_SUBJECT, "user.blocked", {}, "console")]
