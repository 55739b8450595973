"""The Management API's users endpoints push back like Auth0's: tokens, paging, the 1000 cap."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from devidp_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    MANAGEMENT_AUDIENCE,
    MANAGEMENT_ID,
    make_settings,
    mount,
)

from devidp import create_dev_idp

pytestmark = pytest.mark.unit

PAGING_BODY = {
    "statusCode": 400,
    "error": "Bad Request",
    "message": "You can only page through the first 1000 records. "
    "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation",
    "errorCode": "invalid_paging",
}


def people(count, prefix="user", **extra):
    return [
        {"email": f"{prefix}{i:05d}@example.org", "name": f"Person {i}", **extra}
        for i in range(count)
    ]


def test_client_credentials_give_an_rs256_management_token(mgmt):
    response = mgmt.token_response()

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert claims["aud"] == MANAGEMENT_AUDIENCE
    assert claims["sub"] == MANAGEMENT_ID
    assert claims["gty"] == "client-credentials"
    assert {"read:users", "update:users", "read:role_members"} <= set(claims["scope"].split())


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"audience": None}, 403, "access_denied"),
        ({"audience": "https://elsewhere/api/v2/"}, 403, "access_denied"),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, 400, "unauthorized_client"),
    ],
)
def test_token_requests_that_auth0_refuses_are_refused(mgmt, overrides, status, error):
    response = mgmt.token_response(**overrides)

    assert response.status_code == status
    assert response.get_json()["error"] == error


def test_management_api_answers_404_when_not_configured(app):
    browser = mount(app)

    assert browser.get("/idp/api/v2/users").status_code == 404
    token = browser.post(
        "/idp/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": MANAGEMENT_ID,
            "client_secret": "x",
            "audience": MANAGEMENT_AUDIENCE,
        },
    )
    assert token.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_every_request_needs_a_management_token(mgmt, token):
    response = mgmt.call("GET", "/users", token=token or "")

    assert response.status_code == 401
    body = response.get_json()
    assert body["statusCode"] == 401
    assert body["error"] == "Unauthorized"
    assert body["errorCode"] in ("missing_authentication", "invalid_token")
    assert body["message"]


def test_a_sign_in_access_token_is_not_a_management_token(mgmt, idp):
    tokens = idp.sign_in()

    response = mgmt.call("GET", "/users", token=tokens["access_token"])

    assert response.status_code == 401
    assert response.get_json()["errorCode"] == "invalid_token"


def test_paging_stops_at_the_first_1000_results(mgmt):
    mgmt.store.import_users(people(1100))

    last = mgmt.get("/users", per_page=100, page=9, include_totals="true")
    refused = mgmt.get("/users", per_page=100, page=10)
    straddling = mgmt.get("/users", per_page=30, page=33)

    assert last.status_code == 200
    assert last.get_json()["length"] == 100
    assert refused.status_code == 400
    assert refused.get_json() == PAGING_BODY
    assert straddling.get_json() == PAGING_BODY


def test_per_page_over_100_is_refused(mgmt):
    response = mgmt.get("/users", per_page=101)

    assert response.status_code == 400
    assert response.get_json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Query validation error: 'Value 101 is greater than maximum 100' on property"
        " per_page.",
        "errorCode": "invalid_query_string",
    }


def test_include_totals_wraps_the_page(mgmt):
    mgmt.store.import_users(people(7))

    body = mgmt.get("/users", per_page=5, page=1, include_totals="true").get_json()
    plain = mgmt.get("/users", per_page=5).get_json()

    assert {k: v for k, v in body.items() if k != "users"} == {
        "start": 5,
        "limit": 5,
        "length": 5,
        "total": 11,
    }
    assert len(body["users"]) == 5
    assert isinstance(plain, list)
    assert len(plain) == 5
    user = plain[0]
    assert {
        "user_id",
        "email",
        "name",
        "picture",
        "blocked",
        "created_at",
        "updated_at",
        "identities",
        "app_metadata",
    } <= user.keys()
    assert user["created_at"].endswith("Z")


def test_sort_and_fields(mgmt):
    mgmt.store.import_users(people(3))

    users = mgmt.get("/users", sort="email:-1", fields="user_id,email", per_page=3).get_json()

    assert [u["email"] for u in users] == sorted((u["email"] for u in users), reverse=True)
    assert all(set(u) == {"user_id", "email"} for u in users)


def test_search_by_updated_at_finds_only_recent_changes(mgmt):
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    mgmt.store.import_users(people(20, created_at=long_ago, updated_at=long_ago))
    changed = mgmt.get("/users", q='email:"user00003@example.org"').get_json()[0]["user_id"]
    cutoff = datetime.now(UTC) - timedelta(seconds=1)
    mgmt.store.update_user(changed, name="Renamed")

    iso = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    recent = mgmt.get("/users", q=f"updated_at:[{iso} TO *]", include_totals="true").get_json()
    older = mgmt.get("/users", q="updated_at:[2019-12-31 TO 2020-01-02]", include_totals="true")

    demo_subjects = {"auth0|demo-admin", "auth0|demo-devel", "auth0|demo-ea", "auth0|demo-stable"}
    assert {u["user_id"] for u in recent["users"]} - demo_subjects == {changed}
    assert older.get_json()["total"] == 19


BAD_SEARCHES = [
    "nope:1",
    "email:",
    "email:*",
    "updated_at:[x TO *] AND email:a",
    "updated_at:yesterday",
    "updated_at:[x TO *]",
    "email:a OR email:b",
    "blocked:[1 TO 2]",
    '"',
]


@pytest.mark.parametrize("q", BAD_SEARCHES)
def test_unsupported_searches_are_refused_readably(mgmt, q):
    response = mgmt.get("/users", q=q)

    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "invalid_query_string"


def test_patch_blocked_bumps_updated_at_but_role_changes_do_not(mgmt):
    subject = "auth0|demo-ea"
    before = mgmt.get(f"/users/{subject}").get_json()
    devel = mgmt.store.create_role("devel")

    mgmt.call("POST", f"/users/{subject}/roles", json={"roles": [devel]})
    after_roles = mgmt.get(f"/users/{subject}").get_json()
    patched = mgmt.call("PATCH", f"/users/{subject}", json={"blocked": True})

    assert after_roles["updated_at"] == before["updated_at"]
    assert patched.status_code == 200
    assert patched.get_json()["blocked"] is True
    assert patched.get_json()["updated_at"] > before["updated_at"]
    assert mgmt.store.get_user(subject).blocked


def test_patch_merges_app_metadata_like_auth0(mgmt):
    subject = "auth0|demo-devel"
    mgmt.call("PATCH", f"/users/{subject}", json={"app_metadata": {"team": "a", "seat": 1}})

    body = mgmt.call(
        "PATCH",
        f"/users/{subject}",
        json={"app_metadata": {"seat": None, "floor": 2}, "name": "Dee"},
    ).get_json()

    assert body["app_metadata"] == {"team": "a", "floor": 2}
    assert body["name"] == "Dee"


@pytest.mark.parametrize("body", [{}, {"blocked": "yes"}, {"password": "x"}, [1], "text"])
def test_bad_patch_bodies_are_refused(mgmt, body):
    response = mgmt.call("PATCH", "/users/auth0|demo-ea", json=body)

    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "invalid_body"


def test_unknown_ids_answer_auth0_404s(mgmt):
    user = mgmt.get("/users/auth0|nobody")
    role = mgmt.get("/roles/rol_nothing/users")
    job = mgmt.get("/jobs/job_nothing")
    path = mgmt.get("/no-such-endpoint")

    assert user.status_code == 404
    assert user.get_json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The user does not exist.",
        "errorCode": "inexistent_user",
    }
    assert role.get_json()["errorCode"] == "inexistent_role"
    assert job.get_json()["errorCode"] == "inexistent_job"
    assert path.get_json() == {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


def test_delete_user_removes_them_and_their_roles(mgmt):
    response = mgmt.call("DELETE", "/users/auth0|demo-admin")

    assert response.status_code == 204
    assert mgmt.store.get_user("auth0|demo-admin") is None
    assert mgmt.get("/users/auth0|demo-admin").status_code == 404


def test_a_blocked_user_cannot_sign_in(mgmt, idp):
    mgmt.call("PATCH", "/users/auth0|demo-devel", json={"blocked": True})

    page = idp.authorize()
    response = idp.submit_login(page, "devel@example.com", "devel")

    assert response.status_code == 302
    assert "error=unauthorized&error_description=user+is+blocked" in response.headers["Location"]


def test_management_settings_do_not_change_sign_in(db_path, seeded_db):
    from conftest import copy_seeded

    copy_seeded(seeded_db, db_path)
    app = create_dev_idp(
        make_settings(db_path, management_client_id=CLIENT_ID, management_client_secret="other")
    )

    assert app.extensions["devidp"].settings.issuer == ISSUER
    response = mount(app).post(
        "/idp/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "audience": MANAGEMENT_AUDIENCE,
        },
    )
    assert response.get_json()["error"] == "unauthorized_client"
