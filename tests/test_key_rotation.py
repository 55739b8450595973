"""The portal keeps working while the identity provider rotates its signing keys."""

import jwt
import pytest
import requests

from tests.support.live import private_site
from tests.support.signin import sign_in

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A portal of its own, so no other test has touched its cache of the issuer's keys."""
    with private_site(tmp_path_factory) as live:
        yield live


def bearer(site, token):
    return requests.get(
        site.base_url + "/stable/hello/api/greeting",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_sign_in_works_across_a_rotation(site):
    sign_in(site.base_url, "ea")
    old_kid = site.idp_store.signing_key().kid
    new_kid = site.devidp.rotate_keys(grace_seconds=600)
    http = sign_in(site.base_url, "ea")
    assert new_kid != old_kid
    assert http.get(site.base_url + "/api/me", timeout=10).json()["tier"] == "ea"


def test_a_token_signed_before_the_rotation_keeps_working_during_the_grace(site):
    before = site.devidp.access_token_for("devel@example.com")
    assert bearer(site, before).status_code == 200
    site.devidp.rotate_keys(grace_seconds=600)
    after = site.devidp.access_token_for("devel@example.com")
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    assert bearer(site, before).status_code == 200
