"""PORTAL_ADMIN_SCOPE: the permission the admin API wants, which sign-in must never ask for."""

import pytest

from portal.config import ConfigError, load_settings

pytestmark = pytest.mark.unit


def settings(tmp_path, **env):
    return load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), **env})


def test_the_admin_scope_is_portal_admin_by_default(tmp_path):
    assert settings(tmp_path).admin_scope == "portal:admin"


def test_the_admin_scope_can_be_renamed(tmp_path):
    assert settings(tmp_path, PORTAL_ADMIN_SCOPE=" manage:portal ").admin_scope == "manage:portal"


def test_sign_in_scopes_that_ask_for_the_admin_scope_are_refused(tmp_path):
    with pytest.raises(ConfigError) as refused:
        settings(tmp_path, OIDC_SCOPES="openid profile email offline_access portal:admin")
    assert str(refused.value) == (
        "OIDC_SCOPES must not include portal:admin (PORTAL_ADMIN_SCOPE): every session would "
        "then hold a token that opens the admin API, for any product its user visits"
    )


def test_sign_in_scopes_are_checked_against_a_renamed_admin_scope(tmp_path):
    with pytest.raises(ConfigError, match="OIDC_SCOPES must not include manage:portal"):
        settings(tmp_path, PORTAL_ADMIN_SCOPE="manage:portal", OIDC_SCOPES="openid manage:portal")


def test_an_admin_scope_of_several_words_is_refused(tmp_path):
    with pytest.raises(ConfigError) as refused:
        settings(tmp_path, PORTAL_ADMIN_SCOPE="portal admin")
    assert str(refused.value) == "PORTAL_ADMIN_SCOPE must be one scope, got 'portal admin'"


def test_the_portals_own_api_and_the_management_api_are_reserved_audiences(tmp_path):
    found = settings(tmp_path, PORTAL_BASE_URL="http://127.0.0.1:5000")
    assert found.reserved_audiences == frozenset(
        {"portal-api", "http://127.0.0.1:5000/idp/api/v2/"}
    )
