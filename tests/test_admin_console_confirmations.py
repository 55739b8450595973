"""No console action raises a tier by default, and making anyone an admin, one user or many,
asks first, naming them: the bulk form starts with no action chosen, and the server refuses to
make an admin without `confirm=yes`, whatever form arrives."""

import re

import pytest

from tests.test_admin_console_helpers import (
    ADMIN_SUBJECT,
    audit,
    console_url,
    new_user,
    post_form,
    row,
)

pytestmark = pytest.mark.site


def form_defaults(html: str) -> dict[str, str]:
    """What the bulk form sends when nothing is chosen: each select's selected (or first) option."""
    form = html[html.index('class="bulk"') :]
    chosen = {}
    for name, options in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        values = re.findall(r'<option value="([^"]*)"( selected)?', options)
        chosen[name] = next((v for v, selected in values if selected), values[0][0])
    return chosen


def test_the_bulk_form_starts_with_no_action_and_no_tier(portal, admin):
    page = admin.get(console_url(portal, "/"), timeout=10).text
    assert form_defaults(page) == {"action": "", "tier": ""}


def test_apply_with_the_forms_defaults_is_refused_and_changes_nothing(portal, admin):
    subject, _ = new_user(portal, [], "Dee Fault")
    page = admin.get(console_url(portal, "/"), timeout=10).text
    answer = post_form(portal, admin, "/users/bulk", {"subject": subject, **form_defaults(page)})
    assert answer.status_code == 422
    assert "Choose an action for the selected users first: a tier, block or unblock." in answer.text
    assert (row(portal, subject).tier, audit(portal, subject)) == ("stable", [])


def test_set_tier_without_a_tier_is_refused(portal, admin):
    subject, _ = new_user(portal, [], "Tia Less")
    answer = post_form(portal, admin, "/users/bulk", {"subject": subject, "action": "tier"})
    assert answer.status_code == 422
    assert "Choose the tier to set for the selected users." in answer.text
    assert row(portal, subject).tier == "stable"


def test_making_one_user_an_admin_asks_first_naming_them(portal, admin):
    subject, email = new_user(portal, ["ea"], "Ann Admin")
    asked = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "admin"})
    assert asked.status_code == 200
    assert f"Make Ann Admin ({email}) an admin?" in asked.text
    assert "An admin opens every product and this console" in asked.text
    assert '<input type="hidden" name="confirm" value="yes">' in asked.text
    assert (row(portal, subject).tier, audit(portal, subject)) == ("ea", [])

    done = post_form(portal, admin, f"/users/{subject}/tier", {"tier": "admin", "confirm": "yes"})
    assert done.status_code == 303
    assert row(portal, subject).tier == "admin"
    assert audit(portal, subject) == [
        (ADMIN_SUBJECT, "user.tier_changed", {"from": "ea", "to": "admin"}, "console")
    ]


def test_making_users_admins_in_bulk_asks_first_naming_each(portal, admin):
    first, first_email = new_user(portal, [], "Abe Bulk")
    second, second_email = new_user(portal, ["devel"], "Ada Bulk")
    fields = {"subject": [first, second], "action": "tier", "tier": "admin"}
    asked = post_form(portal, admin, "/users/bulk", fields)
    assert asked.status_code == 200
    assert "Set the tier to admin for 2 users?" in asked.text
    assert f"Abe Bulk ({first_email})</li>" in asked.text
    assert f"Ada Bulk ({second_email})</li>" in asked.text
    assert (row(portal, first).tier, row(portal, second).tier) == ("stable", "devel")

    done = post_form(portal, admin, "/users/bulk", {**fields, "confirm": "yes"})
    assert "Set the tier to admin: 2 of 2 done" in done.text
    assert (row(portal, first).tier, row(portal, second).tier) == ("admin", "admin")


@pytest.mark.parametrize("confirm", ["", "no", "1", "YES "])
def test_an_admin_raise_without_confirm_yes_changes_nothing(portal, admin, confirm):
    subject, _ = new_user(portal, [], "Forge Form")
    answer = post_form(
        portal, admin, f"/users/{subject}/tier", {"tier": "admin", "confirm": confirm}
    )
    assert (answer.status_code, row(portal, subject).tier) == (200, "stable")
