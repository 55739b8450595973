"""Recording sign-ins in the users table, on SQLite and MariaDB."""

import threading

import pytest
from sqlalchemy import func, select

from auth.users import SignIn, record_sign_in
from db.models import AuditEvent, User

pytestmark = pytest.mark.site


def count(database, subject):
    with database.transaction() as db:
        return db.scalar(select(func.count()).select_from(User).where(User.subject == subject))


def test_a_first_sign_in_creates_the_row(database):
    user = record_sign_in(database, SignIn("auth0|1", "a@example.org", "Ann", ["ea"]))
    assert (user.subject, user.email, user.name, user.tier, user.roles) == (
        "auth0|1",
        "a@example.org",
        "Ann",
        "ea",
        ["ea"],
    )


def audit(database):
    with database.transaction() as db:
        return [
            (e.actor, e.action, e.target, e.details, e.source)
            for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_a_sign_in_whose_token_carries_another_tier_is_audited_as_a_sign_in(database):
    record_sign_in(database, SignIn("auth0|t", "t@example.org", "T", []))
    record_sign_in(database, SignIn("auth0|t", "t@example.org", "T", ["ea"]))
    assert audit(database) == [
        ("idp-sign-in", "user.tier_changed", "auth0|t", {"from": "stable", "to": "ea"}, "sign-in")
    ]


def test_a_first_sign_in_or_one_with_the_same_tier_writes_no_audit_event(database):
    record_sign_in(database, SignIn("auth0|s", "s@example.org", "S", ["ea"]))
    record_sign_in(database, SignIn("auth0|s", "s@example.org", "S", ["ea", "reviewer"]))
    assert audit(database) == []


def test_a_later_sign_in_updates_the_same_row(database):
    first = record_sign_in(database, SignIn("auth0|2", "old@example.org", "Old", ["ea"]))
    second = record_sign_in(database, SignIn("auth0|2", "new@example.org", "New", []))
    assert second.id == first.id
    assert (second.email, second.name, second.tier) == ("new@example.org", "New", "stable")
    assert count(database, "auth0|2") == 1


def test_long_emails_and_four_byte_characters_are_kept(database):
    email = "x" * 64 + "@" + "d" * 240 + ".example"
    name = "Zoë 🧪 Ödegaard"
    record_sign_in(database, SignIn("auth0|3", email, name, []))
    with database.transaction() as db:
        row = db.scalars(select(User).where(User.subject == "auth0|3")).one()
    assert (row.email, row.name) == (email, name)


def test_concurrent_first_sign_ins_make_one_row(database):
    barrier = threading.Barrier(4)
    errors = []

    def sign_in():
        barrier.wait()
        try:
            record_sign_in(database, SignIn("auth0|race", "r@example.org", "R", ["devel"]))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(database, "auth0|race") == 1


def test_subjects_that_differ_only_in_case_are_two_people(database):
    first = record_sign_in(database, SignIn("okta|00uAbC", "a@example.org", "A", []))
    second = record_sign_in(database, SignIn("okta|00uabc", "b@example.org", "B", []))
    assert first.id != second.id
    assert (count(database, "okta|00uAbC"), count(database, "okta|00uabc")) == (1, 1)


def test_subjects_that_differ_only_in_accents_or_trailing_spaces_are_two_people(database):
    ids = {
        record_sign_in(database, SignIn(subject, f"{n}@example.org", "", [])).id
        for n, subject in enumerate(["jose", "josé", "jose "])
    }
    assert len(ids) == 3
