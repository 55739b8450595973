"""PORTAL_TIER_ROLES: which of the identity provider's role names stand for which tier."""

import pytest

from auth.bearer import token_tier
from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles
from auth.tiers import Tier
from auth.users import SignIn
from portal.config import ConfigError, load_settings

pytestmark = pytest.mark.unit

CLAIM = "https://portal/roles"
SITE = TierRoles.parse(
    "admin=Portal Admins; devel=researchers-devel ,Developers;ea = researchers-ea"
)


def test_by_default_each_tier_is_its_own_role_name():
    assert DEFAULT_TIER_ROLES.names == {
        Tier.ADMIN: ("admin",),
        Tier.DEVEL: ("devel",),
        Tier.EA: ("ea",),
    }
    assert load_settings({}, read_dotenv=False).tier_roles == DEFAULT_TIER_ROLES


def test_the_highest_role_decides_the_tier():
    assert DEFAULT_TIER_ROLES.tier_of(["ea", "devel", "reviewer"]) is Tier.DEVEL


def test_no_tier_role_means_stable():
    assert DEFAULT_TIER_ROLES.tier_of(["reviewer"]) is Tier.STABLE


def test_role_names_are_case_sensitive():
    assert DEFAULT_TIER_ROLES.tier_of(["Admin", "ADMIN"]) is Tier.STABLE


def test_names_keep_their_inner_spaces_and_lose_the_outer_ones():
    assert SITE.names == {
        Tier.ADMIN: ("Portal Admins",),
        Tier.DEVEL: ("researchers-devel", "Developers"),
        Tier.EA: ("researchers-ea",),
    }


def test_any_name_of_a_tier_gives_it():
    assert SITE.tier_of(["Developers"]) is Tier.DEVEL
    assert SITE.tier_of(["researchers-devel"]) is Tier.DEVEL


def test_a_role_not_in_the_map_gives_stable_even_when_it_is_a_tiers_name():
    assert SITE.tier_of(["admin", "devel", "Portal admins"]) is Tier.STABLE


def test_the_first_name_is_the_role_assigned():
    assert [SITE.assigned_role(t) for t in Tier] == [
        None,
        "researchers-ea",
        "researchers-devel",
        "Portal Admins",
    ]


def test_a_tier_the_setting_leaves_out_has_no_role():
    only_admins = TierRoles.parse("admin=Portal Admins")
    assert only_admins.assigned_role(Tier.EA) is None
    assert only_admins.tier_of(["ea"]) is Tier.STABLE


def test_the_mapping_is_described_in_the_settings_syntax():
    assert SITE.describe() == (
        "admin=Portal Admins;devel=researchers-devel,Developers;ea=researchers-ea"
    )
    assert TierRoles.parse(SITE.describe()) == SITE


def test_a_sign_in_records_the_tier_its_mapped_roles_give():
    record = SignIn("auth0|a", "a@example.org", "A", ["Portal Admins", "x"]).record(SITE)
    assert (record.tier, record.roles) == ("admin", ["Portal Admins", "x"])


def test_a_bearer_tokens_roles_claim_is_read_through_the_mapping():
    assert token_tier({CLAIM: ["researchers-ea"]}, CLAIM, SITE) is Tier.EA
    assert token_tier({CLAIM: ["ea"]}, CLAIM, SITE) is Tier.STABLE


def test_a_bearer_tokens_access_permissions_keep_the_tier_names():
    assert token_tier(
        {CLAIM: ["researchers-ea"], "permissions": ["access:devel"]}, CLAIM, SITE
    ) is (Tier.DEVEL)


def test_the_setting_is_read_from_the_environment():
    settings = load_settings(
        {"PORTAL_TIER_ROLES": "admin=Portal Admins;ea=researchers-ea"}, read_dotenv=False
    )
    assert settings.tier_roles.names == {
        Tier.ADMIN: ("Portal Admins",),
        Tier.EA: ("researchers-ea",),
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Portal Admins", "'Portal Admins' is not tier=role[,role...]"),
        ("boss=Portal Admins", "unknown tier 'boss'; tiers are admin, devel, ea, stable"),
        ("stable=everyone", "stable needs no role: it is every signed-in user's tier"),
        ("admin=a;admin=b", "admin is given twice"),
        ("admin=", "admin has an empty role name"),
        ("admin=a,,b", "admin has an empty role name"),
        ("admin=staff;devel=staff", "'staff' stands for both admin and devel"),
    ],
)
def test_a_malformed_setting_stops_the_portal_at_start(value, problem):
    with pytest.raises(ConfigError) as refused:
        load_settings({"PORTAL_TIER_ROLES": value}, read_dotenv=False)
    assert str(refused.value) == (
        "PORTAL_TIER_ROLES must be like 'admin=Portal Admins;devel=researchers-devel,devs': "
        + problem
    )
