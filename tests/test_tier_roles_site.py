"""PORTAL_TIER_ROLES on a running site: the development provider issues the tenant's own role
names, and sign-in, the sync, the admin console and its tier changes all read them through the
mapping."""

import secrets

import jwt
import pytest
import requests

from auth.tier_roles import TierRoles
from tests.support.live import private_site
from tests.support.signin import sign_in
from tests.test_admin_console_helpers import admin_session, api_call, console_url, row

pytestmark = pytest.mark.site

TIER_ROLES = "admin=Portal Admins;devel=researchers-devel;ea=researchers-ea,beta testers"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with private_site(tmp_path_factory, tier_roles=TierRoles.parse(TIER_ROLES)) as live:
        yield live


def provider_user(portal, roles):
    email = f"roles-{secrets.token_hex(5)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", roles, "Role Tester")
    return subject, email


def tier_after_sign_in(portal, roles) -> str:
    _, email = provider_user(portal, roles)
    me = sign_in(portal.base_url, email, "pw-123456").get(portal.base_url + "/api/me", timeout=10)
    return me.json()["tier"]


def test_a_user_with_the_role_portal_admins_gets_the_admin_tier(portal):
    assert tier_after_sign_in(portal, ["Portal Admins"]) == "admin"


def test_a_second_name_of_a_tier_gives_it_too(portal):
    assert tier_after_sign_in(portal, ["beta testers"]) == "ea"


def test_a_role_not_in_the_map_gives_stable(portal):
    assert tier_after_sign_in(portal, ["admin"]) == "stable"


def test_the_demo_admin_holds_the_mapped_admin_role_and_opens_the_console(portal):
    assert [r.name for r in portal.idp_store.user_roles("auth0|demo-admin")] == ["Portal Admins"]
    console = sign_in(portal.base_url, "admin").get(console_url(portal, "/"), timeout=10)
    assert console.status_code == 200


def test_the_sync_reads_the_tier_through_the_mapping(portal):
    subject, _ = provider_user(portal, ["researchers-devel"])
    portal.services.user_sync().one(subject)
    assert (row(portal, subject).tier, row(portal, subject).roles) == (
        "devel",
        ["researchers-devel"],
    )


def test_an_admin_changing_a_tier_assigns_the_mapped_role_and_removes_the_old_one(portal):
    subject, _ = provider_user(portal, ["researchers-ea", "reviewer"])
    portal.services.user_sync().one(subject)

    answer = api_call(
        portal, admin_session(portal), "POST", f"/users/{subject}/tier", {"tier": "devel"}
    )

    assert (answer.status_code, answer.json()["user"]["tier"]) == (200, "devel")
    assert sorted(r.name for r in portal.idp_store.user_roles(subject)) == [
        "researchers-devel",
        "reviewer",
    ]


def test_lowering_a_user_to_stable_removes_every_mapped_role(portal):
    subject, _ = provider_user(portal, ["Portal Admins", "beta testers"])
    portal.services.user_sync().one(subject)

    answer = api_call(
        portal, admin_session(portal), "POST", f"/users/{subject}/tier", {"tier": "stable"}
    )

    assert answer.status_code == 200
    assert portal.idp_store.user_roles(subject) == []


def test_the_console_shows_which_roles_give_each_tier(portal):
    page = admin_session(portal).get(console_url(portal, "/products"), timeout=10).text
    assert f'<code class="tier-roles-setting">{TIER_ROLES}</code>' in page
    assert '<tr data-tier="admin">' in page
    assert '<code class="role-name">Portal Admins</code>' in page
    assert (
        '<code class="role-name">researchers-ea</code> <span class="muted">(assigned)</span>, '
        '<code class="role-name">beta testers</code>'
    ) in page


def test_anyone_signed_in_without_a_mapped_role_is_refused_the_console(portal):
    _, email = provider_user(portal, ["devel"])
    answer = sign_in(portal.base_url, email, "pw-123456").get(
        console_url(portal, "/api/users"), headers={"Accept": "application/json"}, timeout=10
    )
    assert answer.status_code == 403


def test_the_provider_grants_the_admin_scope_through_the_mapped_admin_role(portal):
    portal.services.user_sync().one("auth0|demo-admin")
    scope = f"openid {portal.settings.admin_scope}"
    token = portal.devidp.access_token_for("admin@example.com", scope)

    answer = requests.get(
        console_url(portal, "/api/products"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )

    assert answer.status_code == 200


def test_a_user_holding_the_old_admin_role_name_gets_no_admin_scope(portal):
    _, email = provider_user(portal, ["admin"])
    token = portal.devidp.access_token_for(email, f"openid {portal.settings.admin_scope}")
    assert (
        portal.settings.admin_scope
        not in jwt.decode(token, options={"verify_signature": False})["scope"].split()
    )
