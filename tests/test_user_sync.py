"""Syncing the users table with Auth0 through the development provider, on SQLite and MariaDB."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from auth.tier_roles import DEFAULT_TIER_ROLES
from db.models import AuditEvent, SyncRun, User
from directory.sync import SyncError, UserSync
from tests.support.idp import start_idp

pytestmark = pytest.mark.site

USERS = 5_000
LONG_AGO = datetime(2026, 1, 1)
LONG_AGO_MS = int(LONG_AGO.replace(tzinfo=UTC).timestamp() * 1000)


def roles_of(number):
    roles = []
    if number % 500 == 0:
        roles.append("admin")
    elif number % 50 == 0:
        roles.append("devel")
    elif number % 10 == 0:
        roles.append("ea")
    if number % 7 == 0:
        roles.append("reviewer")
    return roles


def subject(number):
    return f"auth0|sync{number:06d}"


EXPECTED = {subject(n): DEFAULT_TIER_ROLES.tier_of(roles_of(n)).value for n in range(USERS)}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One provider database with USERS users, copied for each test."""
    path = tmp_path_factory.mktemp("idp") / "template.sqlite3"
    idp = start_idp(path)
    idp.store.import_users(
        {
            "user_id": subject(n),
            "email": f"user{n}@example.org",
            "name": f"User {n}",
            "roles": roles_of(n),
            "created_at": LONG_AGO,
            "updated_at": LONG_AGO,
        }
        for n in range(USERS)
    )
    # The demo users the provider seeds are as old as the rest, so which users an incremental
    # sync reads never depends on how long ago this template was made.
    with idp.store.engine.begin() as connection:
        connection.execute(text("UPDATE devidp_users SET updated_ms = :ms"), {"ms": LONG_AGO_MS})
    idp.stop()
    return path


@pytest.fixture
def idp(template, tmp_path):
    server = start_idp(tmp_path / "idp.sqlite3", template=template)
    yield server
    server.stop()


@pytest.fixture
def rate_limited_idp(idp):
    """Auth0's Management API limits requests per second; so does the provider, here at 5."""
    idp.controls.rate_limiter.limit = 5
    return idp


def syncer(idp, database, **client_options):
    return UserSync(database, idp.client(**client_options), export_poll_seconds=0.05)


def synced(database):
    with database.transaction() as db:
        return {
            row.subject: row.tier
            for row in db.execute(select(User.subject, User.tier).where(User.deleted_at.is_(None)))
            if row.subject.startswith("auth0|sync")
        }


def counts(run):
    return (run.status, run.created, run.updated, run.deleted, run.unchanged, run.failed)


def test_a_full_sync_brings_every_user_with_the_right_tier(rate_limited_idp, database):
    idp = rate_limited_idp
    run = syncer(idp, database).full()
    assert counts(run) == ("succeeded", USERS + 4, 0, 0, 0, 0)
    assert synced(database) == EXPECTED


def test_a_second_full_sync_changes_nothing(rate_limited_idp, database):
    idp = rate_limited_idp
    syncer(idp, database).full()
    with database.transaction() as db:
        audit_before = db.scalar(select(func.count()).select_from(AuditEvent))
    run = syncer(idp, database).full()
    assert counts(run) == ("succeeded", 0, 0, 0, USERS + 4, 0)
    with database.transaction() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_users_deleted_in_auth0_are_soft_deleted_with_an_audit_event(idp, database):
    syncer(idp, database).full()
    for number in (1, 2, 3):
        idp.store.delete_user(subject(number))
    run = syncer(idp, database).full()
    assert (run.deleted, run.unchanged) == (3, USERS + 1)
    with database.transaction() as db:
        gone = db.scalars(select(User.subject).where(User.deleted_at.is_not(None))).all()
        events = db.scalars(
            select(AuditEvent.target).where(AuditEvent.action == "user.deleted")
        ).all()
    assert sorted(gone) == [subject(1), subject(2), subject(3)]
    assert sorted(events) == sorted(gone)


def test_a_role_change_in_auth0_reaches_the_table_with_an_audit_event(idp, database):
    syncer(idp, database).full()
    idp.store.set_roles(subject(11), ["devel"])
    run = syncer(idp, database).full()
    assert (run.updated, run.unchanged) == (1, USERS + 3)
    assert synced(database)[subject(11)] == "devel"
    with database.transaction() as db:
        event = db.scalars(select(AuditEvent).where(AuditEvent.target == subject(11))).one()
    assert (event.action, event.details, event.source) == (
        "user.tier_changed",
        {"from": "stable", "to": "devel"},
        "sync",
    )


def test_an_incremental_sync_reads_only_users_changed_since(idp, database):
    first = syncer(idp, database).full()
    idp.store.update_user(subject(5), name="Renamed Five")
    idp.store.update_user(subject(6), blocked=True)
    run = syncer(idp, database).incremental()
    assert counts(run) == ("succeeded", 0, 2, 0, 0, 0)
    assert run.since < first.started_at
    with database.transaction() as db:
        five = db.scalars(select(User).where(User.subject == subject(5))).one()
        six = db.scalars(select(User).where(User.subject == subject(6))).one()
    assert (five.name, six.blocked) == ("Renamed Five", True)


def test_an_incremental_sync_with_over_1000_changes_syncs_in_full(idp, database):
    syncer(idp, database).full()
    for number in range(1001):
        idp.store.update_user(subject(number), name=f"Renamed {number}")
    run = syncer(idp, database).incremental()
    assert counts(run) == ("succeeded", 0, 1001, 0, USERS + 4 - 1001, 0)
    assert run.mode == "full"


def test_an_incremental_sync_needs_a_full_one_first(idp, database):
    with pytest.raises(SyncError, match="run a full sync first"):
        syncer(idp, database).incremental()


def test_a_malformed_answer_fails_the_run_with_the_reason_and_changes_nothing(idp, database):
    idp.controls.faults.malformed("/api/v2/roles", times=10)
    with pytest.raises(SyncError, match="full sync failed"):
        syncer(idp, database).full()
    with database.transaction() as db:
        run = db.scalars(select(SyncRun)).one()
        users = db.scalar(select(func.count()).select_from(User))
    assert run.status == "failed"
    assert "roles" in run.error
    assert users == 0


def test_a_timeout_fails_the_run_with_the_reason(idp, database):
    idp.controls.faults.stall("/api/v2/roles", 3.0, times=10)
    with pytest.raises(SyncError):
        syncer(idp, database, timeout=0.5, max_retries=1).full()
    with database.transaction() as db:
        run = db.scalars(select(SyncRun)).one()
    assert run.status == "failed"
    assert "0.5 s" in run.error
