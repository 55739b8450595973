"""A change Auth0 may have made but the portal could not confirm: the console says it is
pending, never that it failed, and shows it until the reconciler settles it."""

import re
from datetime import timedelta

import pytest

from tests.test_admin_console_helpers import (
    admin_session,
    api_call,
    audit,
    console_url,
    new_user,
    post_form,
    row,
)

pytestmark = pytest.mark.site

PENDING = re.compile(r"the change is pending \(change (\d+)\)")


def unconfirmed(portal, subject):
    """Auth0 refuses the tier change, then cannot be asked what it holds."""
    roles = f"/api/v2/users/{subject}/roles"
    portal.devidp.faults.fail(roles, 400, times=1, method="DELETE")
    portal.devidp.faults.fail(roles, 400, times=1, method="GET")


def settle(portal):
    return portal.services.reconciler().run(settle_after=timedelta(0))


def test_the_api_answers_a_pending_change_with_503_and_says_it_is_pending(portal):
    admin = admin_session(portal)
    subject, email = new_user(portal, [], "Pat Pending")
    unconfirmed(portal, subject)
    answer = api_call(portal, admin, "POST", f"/users/{subject}/tier", {"tier": "ea"})
    assert (answer.status_code, answer.json()["error"]) == (503, "change_pending")
    message = answer.json()["message"]
    assert message.startswith(f"Auth0 refused to set the tier of {email} (")
    change = PENDING.search(message).group(1)

    users_page = admin.get(console_url(portal, "/"), timeout=10).text
    assert re.search(r"\d+ pending changes?</h2>", users_page)
    assert f"{email}</a>: tier stable → ea, asked by <code>auth0|demo-admin</code> via api" in (
        users_page
    )
    user_page = admin.get(console_url(portal, f"/users/{subject}"), timeout=10).text
    assert "tier stable → ea, asked by <code>auth0|demo-admin</code> via api" in user_page
    assert f"(change {change})" in user_page

    assert settle(portal)["abandoned"] >= 1
    assert row(portal, subject).tier == "stable"
    assert [event[1] for event in audit(portal, subject)] == ["user.change_abandoned"]
    assert "Pending changes" not in admin.get(console_url(portal, f"/users/{subject}")).text


def test_the_tier_form_shows_the_pending_change_on_the_users_page(portal):
    admin = admin_session(portal)
    subject, _ = new_user(portal, [], "Flo Form")
    unconfirmed(portal, subject)
    answer = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "ea"})
    assert answer.status_code == 503
    assert "Nothing was changed here; the change is pending (change" in answer.text
    assert '<h2 id="pending-heading">Pending changes</h2>' in answer.text
    settle(portal)
