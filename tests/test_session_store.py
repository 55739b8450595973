"""The session store's own rules: ids, lifetimes, revocation and purging, on both databases."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from auth.sessions import SessionStore, session_key
from db.models import Session, utcnow

pytestmark = pytest.mark.unit

IDLE, LIFETIME = timedelta(minutes=30), timedelta(hours=8)


def store(database):
    return SessionStore(database, "s" * 40, idle=IDLE, lifetime=LIFETIME)


def rows(database):
    with database.transaction() as db:
        return db.scalar(select(func.count()).select_from(Session))


def test_the_database_holds_a_hash_of_the_id_not_the_id(database):
    sessions = store(database)
    raw = sessions.save(None, {"k": "v"}, None)
    with database.transaction() as db:
        ids = db.scalars(select(Session.id)).all()
    assert ids == [session_key(raw)]
    assert raw not in ids


def test_a_cookie_signed_with_another_secret_is_no_cookie(database):
    raw = store(database).save(None, {}, None)
    other = SessionStore(database, "t" * 40, idle=IDLE, lifetime=LIFETIME)
    cookie = store(database).cookie_value(raw, "portal.test")
    assert other.id_from_cookie(cookie, "portal.test") is None


def test_a_cookie_is_worth_its_session_only_on_the_host_it_was_made_for(database):
    sessions = store(database)
    raw = sessions.save(None, {}, None)
    cookie = sessions.cookie_value(raw, "hello--stable.portal.test")
    assert sessions.id_from_cookie(cookie, "hello--stable.portal.test") == raw
    assert sessions.id_from_cookie(cookie, "manage--admin.portal.test") is None
    assert sessions.id_from_cookie(cookie, "portal.test") is None


def test_purge_removes_sessions_that_ended_long_ago_and_keeps_the_rest(database):
    sessions = store(database)
    live = sessions.save(None, {}, None)
    revoked_long_ago = sessions.save(None, {}, None)
    expired_long_ago = sessions.save(None, {}, None)
    revoked_now = sessions.save(None, {}, None)
    sessions.revoke(revoked_now)
    long_ago = utcnow() - timedelta(days=8)
    with database.transaction() as db:
        db.execute(
            update(Session)
            .where(Session.id == session_key(revoked_long_ago))
            .values(revoked_at=long_ago)
        )
        db.execute(
            update(Session)
            .where(Session.id == session_key(expired_long_ago))
            .values(expires_at=long_ago)
        )
    assert sessions.purge(older_than=timedelta(days=7)) == 2
    assert rows(database) == 2
    assert sessions.load(live) is not None
