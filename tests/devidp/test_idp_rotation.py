"""Key rotation like Auth0's: a new key signs at once, the old one stays published for a grace
period so tokens it signed keep verifying, then it leaves the JWKS, for every process."""

import sqlite3
import time

import jwt
import pytest
from devidp_support import CLIENT_ID, Idp, make_settings, mount

from conftest import copy_seeded
from devidp import create_dev_idp

pytestmark = pytest.mark.unit


def published(idp: Idp) -> list[str]:
    return [k["kid"] for k in idp.browser.get("/idp/.well-known/jwks.json").get_json()["keys"]]


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_after_rotation_new_tokens_carry_the_new_kid_and_old_ones_still_verify(idp):
    before = idp.sign_in()
    old_kid = kid_of(before["id_token"])

    new_kid = idp.app.extensions["devidp"].rotate_keys(grace_seconds=3600)
    after = idp.sign_in()

    assert new_kid != old_kid
    assert kid_of(after["id_token"]) == kid_of(after["access_token"]) == new_kid
    assert published(idp) == [new_kid, old_kid]
    assert idp.verify(before["id_token"], CLIENT_ID)["sub"] == "auth0|demo-admin"
    assert idp.verify(before["access_token"], "portal-api")["sub"] == "auth0|demo-admin"
    assert idp.verify(after["id_token"], CLIENT_ID)["sub"] == "auth0|demo-admin"
    userinfo = idp.browser.get(
        "/idp/userinfo", headers={"Authorization": f"Bearer {before['access_token']}"}
    )
    assert userinfo.status_code == 200


def test_the_old_key_leaves_the_jwks_when_its_grace_period_ends(idp):
    before = idp.sign_in()
    old_kid = kid_of(before["id_token"])
    ext = idp.app.extensions["devidp"]
    new_kid = ext.rotate_keys(grace_seconds=600)

    ext.store.clock = lambda: time.time() + 601

    assert published(idp) == [new_kid]
    with pytest.raises(StopIteration):
        idp.verify(before["id_token"], CLIENT_ID)
    userinfo = idp.browser.get(
        "/idp/userinfo", headers={"Authorization": f"Bearer {before['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert idp.verify(idp.sign_in()["id_token"], CLIENT_ID)["sub"] == "auth0|demo-admin"
    assert old_kid not in published(idp)


def test_a_tiny_grace_retires_the_old_key_once_it_passes(idp):
    # The store's clock, not the wall's: on a loaded machine a second can pass between the
    # rotation and the first look, and the one-second grace would be over before it is seen.
    ext = idp.app.extensions["devidp"]
    rotated_at = time.time()
    ext.store.clock = lambda: rotated_at
    old_kid = published(idp)[0]

    new_kid = ext.rotate_keys(grace_seconds=1)

    assert published(idp) == [new_kid, old_kid]
    ext.store.clock = lambda: rotated_at + 2.05
    assert published(idp) == [new_kid]


def test_two_rotations_keep_every_key_within_its_grace(idp):
    ext = idp.app.extensions["devidp"]
    first = published(idp)[0]
    second = ext.rotate_keys(grace_seconds=100)
    third = ext.rotate_keys(grace_seconds=1000)

    assert published(idp) == [third, second, first]
    ext.store.clock = lambda: time.time() + 500  # the first key's grace ends, not the second's
    assert published(idp) == [third, second]


def test_rotation_is_seen_by_another_process_sharing_the_store(idp, db_path):
    other = create_dev_idp(make_settings(db_path))
    other_browser = Idp(other, mount(other))
    old_kid = published(idp)[0]

    new_kid = idp.app.extensions["devidp"].rotate_keys(grace_seconds=600)

    assert published(other_browser) == [new_kid, old_kid]
    assert kid_of(other_browser.sign_in()["id_token"]) == new_kid
    other.extensions["devidp"].store.clock = lambda: time.time() + 601
    assert published(other_browser) == [new_kid]


def test_a_negative_grace_is_refused(idp):
    with pytest.raises(ValueError):
        idp.app.extensions["devidp"].rotate_keys(grace_seconds=-1)


def test_the_management_application_rotates_keys_over_http(mgmt):
    browser = Idp(mgmt.app, mgmt.browser)
    old_kid = published(browser)[0]

    response = mgmt.call("POST", "/keys/signing/rotate", query_string={"grace_seconds": "60"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["grace_seconds"] == 60
    assert published(browser) == [body["kid"], old_kid]
    keys = mgmt.get("/keys/signing").get_json()  # the token signed by the old key still works
    assert [(k["kid"], k["current"]) for k in keys] == [(body["kid"], True), (old_kid, False)]
    assert keys[0]["retire_at"] is None
    assert keys[1]["retire_at"] is not None


def test_rotating_over_http_needs_a_management_token(mgmt):
    assert mgmt.call("POST", "/keys/signing/rotate", token="").status_code == 401
    bad_grace = mgmt.call("POST", "/keys/signing/rotate", query_string={"grace_seconds": "x"})
    assert bad_grace.status_code == 400


def test_a_store_made_before_grace_periods_gets_the_column(db_path, seeded_db):
    copy_seeded(seeded_db, db_path)
    with sqlite3.connect(db_path) as connection:
        connection.execute("ALTER TABLE devidp_signing_keys DROP COLUMN retire_at")

    app = create_dev_idp(make_settings(db_path))
    idp = Idp(app, mount(app))

    [kid] = published(idp)
    assert kid_of(idp.sign_in()["id_token"]) == kid
    new_kid = app.extensions["devidp"].rotate_keys(grace_seconds=60)
    assert published(idp) == [new_kid, kid]
