"""`POST /api/hooks/auth0`: Auth0 names a changed user, the portal re-reads that user."""

import secrets

import pytest
import requests
from sqlalchemy import select

from db.models import AuditEvent, User
from tests.support.live import WEBHOOK_SECRET
from tests.support.sessions import signed_in
from tests.support.signin import session_id_of

pytestmark = pytest.mark.site

AUTH = {"Authorization": f"Bearer {WEBHOOK_SECRET}"}


def hook(portal, body, headers=AUTH):
    return requests.post(
        portal.base_url + "/api/hooks/auth0", json=body, headers=headers, timeout=10
    )


def row(portal, subject):
    with portal.services.database.transaction() as db:
        return db.scalars(select(User).where(User.subject == subject)).one_or_none()


def new_user(portal, roles):
    email = f"hook-{secrets.token_hex(4)}@example.org"
    return portal.idp_store.add_user(email, "pw-123456", roles, "Hook User")


def test_a_user_named_by_auth0_is_read_into_the_table(portal):
    subject = new_user(portal, ["ea"])
    answer = hook(portal, {"user_id": subject})
    assert (answer.status_code, answer.json()) == (200, {"results": {subject: "created"}})
    assert (row(portal, subject).tier, row(portal, subject).name) == ("ea", "Hook User")


def test_a_log_stream_batch_names_users_in_its_events(portal):
    first, second = new_user(portal, []), new_user(portal, ["devel"])
    batch = [
        {"log_id": "1", "data": {"type": "sapi", "user_id": first}},
        {"log_id": "2", "data": {"type": "sapi", "user_id": second}},
        {"log_id": "3", "data": {"type": "s"}},
    ]
    answer = hook(portal, batch)
    assert answer.json() == {"results": {first: "created", second: "created"}}


def test_a_role_change_arrives_with_an_audit_event_from_the_webhook(portal):
    subject = new_user(portal, ["ea"])
    hook(portal, {"user_id": subject})
    portal.idp_store.set_roles(subject, ["devel"])
    assert hook(portal, {"user_id": subject}).json() == {"results": {subject: "updated"}}
    with portal.services.database.transaction() as db:
        event = db.scalars(select(AuditEvent).where(AuditEvent.target == subject)).one()
    assert (event.action, event.details, event.source) == (
        "user.tier_changed",
        {"from": "ea", "to": "devel"},
        "webhook",
    )


def test_a_user_deleted_in_auth0_loses_their_open_session(portal):
    email = f"hook-{secrets.token_hex(4)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", ["ea"], "Leaving")
    http = signed_in(portal, email)
    portal.idp_store.delete_user(subject)
    hook(portal, {"user_id": subject})
    portal.services.resolver.forget(session_id_of(portal, http))
    answer = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    assert answer.status_code == 403


def test_a_user_deleted_in_auth0_is_soft_deleted(portal):
    subject = new_user(portal, [])
    hook(portal, {"user_id": subject})
    portal.idp_store.delete_user(subject)
    assert hook(portal, {"user_id": subject}).json() == {"results": {subject: "deleted"}}
    assert row(portal, subject).deleted_at is not None


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": WEBHOOK_SECRET}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_a_wrong_secret_is_refused(portal, headers):
    subject = new_user(portal, [])
    answer = hook(portal, {"user_id": subject}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert row(portal, subject) is None


def test_a_body_that_is_not_json_is_a_400(portal):
    answer = requests.post(
        portal.base_url + "/api/hooks/auth0", data="{not json", headers=AUTH, timeout=10
    )
    assert (answer.status_code, answer.json()["message"]) == (400, "The body is not valid JSON.")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"who": "x"}, 'expected {"user_id": ...}, {"user_ids": [...]} or a Log Stream batch'),
        ({"user_id": 42}, "user ids must be non-empty strings of at most 255 characters"),
        ({"user_ids": ["a"] * 101}, "at most 100 users per call"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_that_says_why(portal, body, message):
    answer = hook(portal, body)
    assert (answer.status_code, answer.json()["message"]) == (400, message)
