"""Roles, export jobs, the rate limit and test faults of the provider's Management API."""

import gzip
import json
import time

import pytest

from devidp.directory import default_role_id

pytestmark = pytest.mark.unit

ADMIN, DEVEL, EA = (default_role_id(n) for n in ("admin", "devel", "ea"))


def people(count, **extra):
    return [{"email": f"m{i:05d}@example.org", **extra} for i in range(count)]


def test_default_roles_exist_with_stable_ids(mgmt):
    roles = mgmt.get("/roles").get_json()
    paged = mgmt.get("/roles", include_totals="true", per_page=2).get_json()

    assert [(r["id"], r["name"]) for r in roles] == [(ADMIN, "admin"), (DEVEL, "devel"), (EA, "ea")]
    assert ADMIN.startswith("rol_admin")
    assert all(r["description"] for r in roles)
    assert paged["total"] == 3
    assert len(paged["roles"]) == 2
    assert mgmt.get(f"/roles/{EA}").get_json()["name"] == "ea"


def test_role_members_page_by_checkpoint_across_pages(mgmt):
    mgmt.store.import_users(people(250, roles=["devel"]))
    seen, pages, checkpoint = [], 0, None

    while True:
        query = {"take": 100} | ({"from": checkpoint} if checkpoint else {})
        body = mgmt.get(f"/roles/{DEVEL}/users", **query).get_json()
        pages += 1
        seen += [u["user_id"] for u in body["users"]]
        checkpoint = body.get("next")
        if not checkpoint:
            break

    assert pages == 3
    assert len(seen) == len(set(seen)) == 251  # and the demo devel user
    assert set(body["users"][0]) == {"user_id", "email", "name", "picture"}


def test_role_members_take_over_100_or_bad_from_is_refused(mgmt):
    too_many = mgmt.get(f"/roles/{DEVEL}/users", take=101)
    bad_from = mgmt.get(f"/roles/{DEVEL}/users", take=10, **{"from": "%%%"})

    assert too_many.get_json()["errorCode"] == "invalid_query_string"
    assert bad_from.status_code == 400


def test_role_members_offset_paging_has_totals_and_the_cap(mgmt):
    body = mgmt.get(f"/roles/{ADMIN}/users", include_totals="true").get_json()
    capped = mgmt.get(f"/roles/{ADMIN}/users", page=20, per_page=50)

    assert body["total"] == 1
    assert body["users"][0]["user_id"] == "auth0|demo-admin"
    assert capped.get_json()["errorCode"] == "invalid_paging"


def test_user_roles_are_added_listed_and_removed(mgmt):
    subject = "auth0|demo-stable"
    billing = mgmt.store.create_role("billing", "Sees invoices")

    added = mgmt.call("POST", f"/users/{subject}/roles", json={"roles": [EA, billing]})
    listed = mgmt.get(f"/users/{subject}/roles").get_json()
    removed = mgmt.call("DELETE", f"/users/{subject}/roles", json={"roles": [EA]})
    totals = mgmt.get(f"/users/{subject}/roles", include_totals="true").get_json()

    assert added.status_code == removed.status_code == 204
    assert [r["name"] for r in listed] == ["billing", "ea"]
    assert listed[0] == {"id": billing, "name": "billing", "description": "Sees invoices"}
    assert totals == {"start": 0, "limit": 50, "total": 1, "roles": [listed[0]]}
    assert mgmt.store.get_user(subject).roles == ("billing",)


@pytest.mark.parametrize("body", [{}, {"roles": []}, {"roles": "rol_x"}, {"roles": [1]}])
def test_bad_role_bodies_are_refused(mgmt, body):
    response = mgmt.call("POST", "/users/auth0|demo-ea/roles", json=body)

    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "invalid_body"


def test_unknown_role_or_user_in_an_assignment_is_404(mgmt):
    role = mgmt.call("POST", "/users/auth0|demo-ea/roles", json={"roles": ["rol_nope"]})
    user = mgmt.call("DELETE", "/users/auth0|nobody/roles", json={"roles": [EA]})

    assert role.get_json()["errorCode"] == "inexistent_role"
    assert user.get_json()["errorCode"] == "inexistent_user"


def test_export_job_goes_pending_then_completed_with_a_gzip_ndjson_file(mgmt):
    mgmt.store.import_users(people(30, blocked=True))
    fields = [{"name": "user_id"}, {"name": "email", "export_as": "mail"}, {"name": "blocked"}]

    created = mgmt.call("POST", "/jobs/users-exports", json={"format": "json", "fields": fields})
    job = created.get_json()
    first = mgmt.get(f"/jobs/{job['id']}").get_json()
    second = mgmt.get(f"/jobs/{job['id']}").get_json()
    location = second["location"]
    download = mgmt.browser.get(location.removeprefix("http://localhost"))

    assert created.status_code == 201
    assert job["type"] == "users_export"
    assert job["status"] == first["status"] == "pending"
    assert job["id"].startswith("job_")
    assert job["created_at"].endswith("Z")
    assert second["status"] == "completed"
    assert download.status_code == 200
    lines = gzip.decompress(download.data).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 34
    assert all(set(row) == {"user_id", "mail", "blocked"} for row in rows)
    assert sum(row["blocked"] for row in rows) == 30
    assert mgmt.get(f"/jobs/{job['id']}").get_json()["location"] == location


def test_export_download_needs_the_exact_token(mgmt):
    job = mgmt.call("POST", "/jobs/users-exports", json={"format": "json"}).get_json()
    mgmt.get(f"/jobs/{job['id']}")
    location = mgmt.get(f"/jobs/{job['id']}").get_json()["location"]
    path = location.removeprefix("http://localhost")

    wrong = mgmt.browser.get(path[:-12] + "AAAA.json.gz")
    traversal = mgmt.browser.get("/idp/exports/..%2F..%2Fetc%2Fpasswd.json.gz")

    assert wrong.status_code == 404
    assert wrong.get_json()["statusCode"] == 404
    assert traversal.status_code == 404


@pytest.mark.parametrize(
    "body", [{"format": "csv"}, {"fields": "email"}, {"fields": [{}]}, {"limit": 0}, [1]]
)
def test_bad_export_requests_are_refused(mgmt, body):
    response = mgmt.call("POST", "/jobs/users-exports", json=body)

    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "invalid_body"


def test_rate_limit_answers_429_with_auth0_headers(mgmt):
    mgmt.get("/roles")  # fetches the token first, while nothing is counted
    mgmt.ext.rate_limiter.limit = 2
    time.sleep(1.01 - time.time() % 1)  # start at the top of a fresh one-second window
    window = int(time.time())

    answers = [mgmt.get("/roles") for _ in range(3)]

    assert int(time.time()) == window, "three requests took longer than the window"
    ok, limited = answers[1], answers[2]
    assert answers[0].headers["X-RateLimit-Remaining"] == "1"
    assert ok.status_code == 200
    assert ok.headers["X-RateLimit-Limit"] == "2"
    assert ok.headers["X-RateLimit-Remaining"] == "0"
    assert limited.status_code == 429
    assert limited.get_json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Global limit has been reached",
        "errorCode": "too_many_requests",
    }
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == str(window + 1)
    mgmt.ext.rate_limiter.limit = 0
    assert mgmt.get("/roles").status_code == 200


def test_faults_fail_malform_and_stall_the_next_requests(mgmt):
    mgmt.ext.faults.fail("/api/v2/users/*", 503, times=2, retry_after=1)
    mgmt.ext.faults.malformed("/api/v2/roles")
    mgmt.ext.faults.stall("/api/v2/jobs/*", 0.2)

    failed = [mgmt.get("/users/auth0|demo-ea") for _ in range(3)]
    malformed = mgmt.get("/roles")
    started = time.monotonic()
    stalled = mgmt.get("/jobs/job_nothing")

    assert [r.status_code for r in failed] == [503, 503, 200]
    assert failed[0].headers["Retry-After"] == "1"
    assert failed[0].get_json()["statusCode"] == 503
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        json.loads(malformed.data)
    assert time.monotonic() - started >= 0.2
    assert stalled.status_code == 404
