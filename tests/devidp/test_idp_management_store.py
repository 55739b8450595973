"""The store's Auth0-shaped users: bulk import, updates, deletion, roles, old files upgraded."""

import sqlite3
import time
from datetime import UTC, datetime

import pytest
from devidp_support import make_settings

from devidp import DevIdpStore, create_dev_idp, get_store
from devidp.directory import Criterion

pytestmark = pytest.mark.unit


def test_import_users_is_fast_and_keeps_what_it_is_given(app):
    store = get_store(app)
    moment = datetime(2021, 5, 4, 3, 2, 1, tzinfo=UTC)
    rows = (
        {
            "email": f"Bulk{i}@Example.org",
            "name": f"Bulk {i}",
            "roles": ["ea"] if i % 2 else [],
            "created_at": moment,
            "blocked": i == 7,
            "app_metadata": {"n": i},
        }
        for i in range(20_000)
    )

    started = time.monotonic()
    count = store.import_users(rows)
    elapsed = time.monotonic() - started

    assert count == 20_000
    assert elapsed < 5
    assert store.count_users() == 20_004
    [user] = store.list_users([Criterion("email", equals="bulk7@example.org")])
    assert (user.email, user.blocked, user.app_metadata) == ("bulk7@example.org", True, {"n": 7})
    assert user.created_at == user.updated_at == moment
    assert user.subject.startswith("auth0|")
    assert store.count_role_members(store.create_role("ea")) == 10_001


def test_imported_users_cannot_sign_in_by_password(app):
    store = get_store(app)
    store.import_users([{"email": "nopass@example.org"}])

    assert store.authenticate("nopass@example.org", "") is None


def test_import_is_all_or_nothing(app):
    store = get_store(app)

    with pytest.raises(ValueError, match="nothing imported"):
        store.import_users([{"email": "fresh@example.org"}, {"email": "admin@example.com"}])

    assert store.count_users() == 4


def test_import_creates_roles_it_names(app):
    store = get_store(app)

    store.import_users([{"email": "b@example.org", "user_id": "auth0|b", "roles": ["billing"]}])

    assert store.get_user("auth0|b").roles == ("billing",)
    assert "billing" in {role.name for role in store.roles()}


def test_update_user_bumps_updated_at_and_set_roles_does_not(app):
    store = get_store(app)
    before = store.get_user("auth0|demo-ea")

    store.set_roles("auth0|demo-ea", ["devel", "billing"])
    after_roles = store.get_user("auth0|demo-ea")
    time.sleep(0.002)
    updated = store.update_user("auth0|demo-ea", name="Eve", picture="https://x/y.png")

    assert after_roles.roles == ("billing", "devel")
    assert after_roles.updated_at == before.updated_at
    assert updated.updated_at > before.updated_at
    assert (updated.name, updated.picture) == ("Eve", "https://x/y.png")


def test_update_and_delete_of_unknown_users_raise_key_error(app):
    store = get_store(app)

    with pytest.raises(KeyError):
        store.update_user("auth0|nobody", name="x")
    with pytest.raises(KeyError):
        store.delete_user("auth0|nobody")
    with pytest.raises(ValueError, match="cannot update"):
        store.update_user("auth0|demo-ea", password="x")


def test_deleted_user_is_gone_with_their_roles(app):
    store = get_store(app)

    store.delete_user("auth0|demo-admin")

    assert store.get_user("auth0|demo-admin") is None
    assert store.count_role_members(store.create_role("admin")) == 0


def test_a_provider_file_from_before_role_records_is_upgraded(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE devidp_users (subject VARCHAR(191) PRIMARY KEY, email VARCHAR(191)"
            " UNIQUE, name VARCHAR(255), password_hash VARCHAR(255) NOT NULL,"
            " roles_json TEXT NOT NULL, created_at INTEGER NOT NULL)"
        )
        db.execute(
            "INSERT INTO devidp_users VALUES ('auth0|old', 'old@example.org', 'Old', 'x',"
            ' \'["devel", "custom"]\', 1)'
        )

    store = DevIdpStore(f"sqlite:///{path}")

    user = store.get_user("auth0|old")
    assert (user.email, user.name, user.roles) == ("old@example.org", "Old", ("custom", "devel"))
    assert {"admin", "devel", "ea"} <= {role.name for role in store.roles()}


GARBAGE = [
    ("GET", "/users", {"page": "x"}, None),
    ("GET", "/users", {"page": "-1"}, None),
    ("GET", "/users", {"per_page": "99999999999999999999"}, None),
    ("GET", "/users", {"include_totals": "maybe"}, None),
    ("GET", "/users", {"sort": "password:1"}, None),
    ("GET", "/users", {"q": "updated_at:[2024-13-45 TO *]"}, None),
    ("GET", "/users", {"q": "updated_at:{* TO *"}, None),
    ("GET", "/users", {"fields": "user_id", "include_fields": "nah"}, None),
    ("PATCH", "/users/auth0|demo-ea", None, b"{not json"),
    ("PATCH", "/users/auth0|demo-ea", None, b"null"),
    ("PATCH", "/users/auth0|demo-ea", None, b'{"email": "admin@example.com"}'),
    ("POST", "/users/auth0|demo-ea/roles", None, b"[]"),
    ("POST", "/jobs/users-exports", None, b'{"limit": true}'),
    ("PUT", "/users", None, None),
    ("GET", "/roles/%00/users", {"take": "1", "from": ""}, None),
    ("GET", "/users/" + "x" * 5000, None, None),
]


@pytest.mark.parametrize(("method", "path", "query", "data"), GARBAGE)
def test_bad_input_gets_auth0_shaped_client_errors(mgmt, method, path, query, data):
    response = mgmt.call(
        method, path, query_string=query, data=data, content_type="application/json"
    )

    assert 400 <= response.status_code < 500, response.data
    body = response.get_json()
    assert body["statusCode"] == response.status_code
    assert body["message"]


def test_a_bug_in_an_endpoint_answers_auth0_json_without_a_traceback(mgmt, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(mgmt.store, "roles", broken)

    response = mgmt.get("/roles")

    assert response.status_code == 500
    assert response.get_json() == {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "Internal Server Error",
    }


def test_settings_knobs_reach_the_extension(db_path, seeded_db):
    from conftest import copy_seeded

    copy_seeded(seeded_db, db_path)
    app = create_dev_idp(
        make_settings(
            db_path, management_client_id="m", management_client_secret="s", management_rate_limit=7
        )
    )

    assert app.extensions["devidp"].rate_limiter.limit == 7
    assert app.extensions["devidp"].settings.management_enabled
