"""Changing tiers and blocks from the portal: an intent, Auth0, then the table and the audit log."""

import re
import sqlite3
from contextlib import closing
from datetime import timedelta

import pymysql
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from auth.sessions import SessionStore
from auth.tiers import Tier
from auth.users import SignIn, record_sign_in
from db.audit import Source
from db.engine import Database, Deadlines
from db.migrate import upgrade
from db.models import AuditEvent, ChangeIntent, User
from directory.reconcile import Reconciler
from directory.user_admin import AdminError, ChangePending, UserAdmin
from tests.support.idp import start_idp
from tests.support.private_mariadb import PrivateMariaDB

#: Short database deadlines, so a write that cannot finish fails in seconds.
QUICK = Deadlines(connect=2, read=3, write=3)
ASSIGN_ROLE = "/api/v2/users/*/roles"


@pytest.fixture
def idp(tmp_path):
    server = start_idp(tmp_path / "idp.sqlite3")
    yield server
    server.stop()


@pytest.fixture
def admin(idp, database):
    store = SessionStore(database, "x" * 40, idle=timedelta(hours=1), lifetime=timedelta(hours=8))
    return UserAdmin(database, idp.client(max_retries=0), store)


@pytest.fixture
def ea_user(idp, database):
    subject = idp.store.add_user("tess@example.org", "pw-123456", ["ea", "reviewer"], "Tess")
    record_sign_in(database, SignIn(subject, "tess@example.org", "Tess", ["ea", "reviewer"]))
    return subject


def sessions_for(database):
    return SessionStore(database, "x" * 40, idle=timedelta(hours=1), lifetime=timedelta(hours=8))


def reconcile(idp, database):
    """The reconciler, run at once (no settling time: no request is in flight here)."""
    return Reconciler(database, idp.client(max_retries=0), sessions_for(database)).run(
        settle_after=timedelta(0)
    )


def intent_states(database):
    with database.transaction() as db:
        return [
            (i.change, i.from_value, i.to_value, i.actor, i.source, i.state)
            for i in db.scalars(select(ChangeIntent).order_by(ChangeIntent.id))
        ]


def remote_roles(idp, subject):
    return sorted(idp.store.get_user(subject).roles)


def local(database, subject):
    with database.transaction() as db:
        return db.scalars(select(User).where(User.subject == subject)).one()


def audit(database, subject):
    with database.transaction() as db:
        return [
            (e.actor, e.action, e.details, e.source)
            for e in db.scalars(select(AuditEvent).where(AuditEvent.target == subject))
        ]


def only_intent_id(database):
    with database.transaction() as db:
        return db.scalars(select(ChangeIntent.id)).one()


@pytest.mark.site
def test_a_tier_change_lands_in_auth0_the_table_and_the_audit_log(admin, idp, database, ea_user):
    admin.set_tier("tess@example.org", Tier.DEVEL, actor="cli:ops", source=Source.CLI)
    assert remote_roles(idp, ea_user) == ["devel", "reviewer"]
    assert (local(database, ea_user).tier, local(database, ea_user).roles) == (
        "devel",
        ["devel", "reviewer"],
    )
    assert audit(database, ea_user) == [
        ("cli:ops", "user.tier_changed", {"from": "ea", "to": "devel"}, "cli")
    ]


@pytest.mark.site
def test_lowering_to_stable_removes_the_tier_role_and_keeps_the_others(admin, idp, ea_user):
    admin.set_tier(ea_user, Tier.STABLE, actor="cli:ops", source=Source.CLI)
    assert remote_roles(idp, ea_user) == ["reviewer"]


@pytest.mark.site
def test_an_auth0_refusal_changes_nothing_anywhere(admin, idp, database, ea_user):
    idp.controls.faults.fail(ASSIGN_ROLE, 400, times=1, method="DELETE")
    with pytest.raises(
        AdminError, match=re.escape("Auth0 refused to set the tier of tess@example.org")
    ):
        admin.set_tier("tess@example.org", Tier.ADMIN, actor="cli:ops", source=Source.CLI)
    assert remote_roles(idp, ea_user) == ["ea", "reviewer"]
    assert local(database, ea_user).tier == "ea"
    assert audit(database, ea_user) == []
    assert intent_states(database) == [("tier", "ea", "admin", "cli:ops", "cli", "refused")]


@pytest.mark.site
def test_blocking_blocks_in_auth0_and_here_and_ends_sessions(admin, idp, database, ea_user):
    user = local(database, ea_user)
    raw = admin.sessions.save(None, {}, user.id)
    admin.set_blocked(ea_user, True, actor="cli:ops", source=Source.CLI)
    assert idp.store.get_user(ea_user).blocked is True
    assert local(database, ea_user).blocked is True
    assert admin.sessions.load(raw) is None
    assert audit(database, ea_user) == [("cli:ops", "user.blocked", {}, "cli")]


@pytest.mark.site
def test_unblocking_is_audited_too(admin, idp, database, ea_user):
    admin.set_blocked(ea_user, True, actor="cli:ops", source=Source.CLI)
    admin.set_blocked(ea_user, False, actor="cli:ops", source=Source.CLI)
    assert idp.store.get_user(ea_user).blocked is False
    assert [a[1] for a in audit(database, ea_user)] == ["user.blocked", "user.unblocked"]


@pytest.mark.site
def test_an_unknown_user_is_a_clear_error(admin):
    with pytest.raises(
        AdminError, match=re.escape("no user with email or id 'nobody@example.org'")
    ):
        admin.set_tier("nobody@example.org", Tier.EA, actor="cli:ops", source=Source.CLI)


@pytest.mark.site
def test_admin_products_cannot_be_granted(admin, ea_user):
    with pytest.raises(AdminError, match="Admin products cannot be granted"):
        admin.grant(ea_user, "admin/manage", expires_at=None, actor="cli:ops", source=Source.CLI)


@pytest.mark.site
def test_a_change_is_written_down_before_auth0_is_called_and_closed_with_the_row(
    admin, database, ea_user
):
    admin.set_tier(ea_user, Tier.DEVEL, actor="cli:ops", source=Source.CLI)
    assert intent_states(database) == [("tier", "ea", "devel", "cli:ops", "cli", "done")]


@pytest.mark.site
def test_a_change_auth0_made_only_half_of_leaves_the_portal_following_auth0(
    admin, idp, database, ea_user
):
    idp.controls.faults.fail(ASSIGN_ROLE, 400, times=1, method="POST")
    with pytest.raises(AdminError, match="after changing part of it: it now holds stable"):
        admin.set_tier(ea_user, Tier.DEVEL, actor="cli:ops", source=Source.CLI)
    assert remote_roles(idp, ea_user) == ["reviewer"]
    assert (local(database, ea_user).tier, local(database, ea_user).roles) == (
        "stable",
        ["reviewer"],
    )
    assert intent_states(database)[0][-1] == "abandoned"
    assert [(e[0], e[1], e[3]) for e in audit(database, ea_user)] == [
        ("cli:ops", "user.change_abandoned", "reconcile"),
        ("portal-reconcile", "user.tier_changed", "reconcile"),
    ]


@pytest.fixture
def quick_database(database):
    """The test's database with short deadlines (SQLite: a short busy wait)."""
    quick = Database(database.url, QUICK)
    if quick.engine.dialect.name == "sqlite":
        event.listen(quick.engine, "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=1000"))
    yield quick
    quick.dispose()


class WriteLock:
    """Another client holding the tables the final write needs, as a long job or a stuck
    migration would: MariaDB's `LOCK TABLES`, SQLite's write lock."""

    def __init__(self, url):
        self.url = make_url(url)
        self.connection = None

    def take(self):
        if self.url.get_backend_name() == "sqlite":
            self.connection = sqlite3.connect(
                self.url.database, isolation_level=None, check_same_thread=False
            )
            self.connection.execute("BEGIN IMMEDIATE")
            return
        self.connection = pymysql.connect(
            host=self.url.host,
            port=self.url.port or 3306,
            user=self.url.username,
            password=self.url.password or "",
            database=self.url.database,
        )
        with self.connection.cursor() as cursor:
            cursor.execute("LOCK TABLES audit_events WRITE, change_intents WRITE")

    def release(self):
        with closing(self.connection):
            if self.url.get_backend_name() == "sqlite":
                self.connection.execute("ROLLBACK")
            else:
                with self.connection.cursor() as cursor:
                    cursor.execute("UNLOCK TABLES")


@pytest.mark.site
def test_a_tier_change_auth0_made_but_the_table_could_not_take_is_pending_then_reconciled(
    idp, quick_database, ea_user
):
    database = quick_database
    admin = UserAdmin(database, idp.client(max_retries=0), sessions_for(database))
    lock = WriteLock(database.url)
    idp.after("POST", ASSIGN_ROLE, lock.take)
    try:
        with pytest.raises(ChangePending) as pending:
            admin.set_tier(ea_user, Tier.DEVEL, actor="auth0|admin", source=Source.CONSOLE)
    finally:
        lock.release()
    assert str(pending.value).startswith("Auth0 made the change, but the portal's database")
    assert "The change is pending" in str(pending.value)
    assert remote_roles(idp, ea_user) == ["devel", "reviewer"]
    assert local(database, ea_user).tier == "ea"
    assert intent_states(database) == [("tier", "ea", "devel", "auth0|admin", "console", "pending")]
    assert audit(database, ea_user) == []

    assert reconcile(idp, database) == {"done": 1}
    assert local(database, ea_user).tier == "devel"
    assert local(database, ea_user).roles == ["devel", "reviewer"]
    assert intent_states(database)[0][-1] == "done"
    assert audit(database, ea_user) == [
        (
            "auth0|admin",
            "user.tier_changed",
            {"from": "ea", "to": "devel", "requested_via": "console", "intent": 1},
            "reconcile",
        )
    ]


@pytest.mark.site
def test_a_block_auth0_made_but_the_table_could_not_take_is_reconciled_and_ends_sessions(
    idp, quick_database, ea_user
):
    database = quick_database
    store = sessions_for(database)
    admin = UserAdmin(database, idp.client(max_retries=0), store)
    raw = store.save(None, {}, local(database, ea_user).id)
    lock = WriteLock(database.url)
    idp.after("PATCH", "/api/v2/users/*", lock.take)
    try:
        with pytest.raises(ChangePending):
            admin.set_blocked(ea_user, True, actor="auth0|admin", source=Source.API)
    finally:
        lock.release()
    assert idp.store.get_user(ea_user).blocked is True
    assert local(database, ea_user).blocked is False

    assert reconcile(idp, database) == {"done": 1}
    assert local(database, ea_user).blocked is True
    assert store.load(raw) is None
    assert audit(database, ea_user) == [
        (
            "auth0|admin",
            "user.blocked",
            {"requested_via": "api", "intent": only_intent_id(database)},
            "reconcile",
        )
    ]


@pytest.mark.site
def test_a_sign_in_before_reconciliation_is_audited_and_the_reconciler_names_who_asked(
    idp, quick_database, ea_user
):
    """The finding: the provider held the new role, the user signed in, and the portal took
    the tier with no audit entry naming anyone."""
    database = quick_database
    admin = UserAdmin(database, idp.client(max_retries=0), sessions_for(database))
    lock = WriteLock(database.url)
    idp.after("POST", ASSIGN_ROLE, lock.take)
    try:
        with pytest.raises(ChangePending):
            admin.set_tier(ea_user, Tier.DEVEL, actor="auth0|admin", source=Source.CONSOLE)
    finally:
        lock.release()
    roles = list(idp.store.get_user(ea_user).roles)
    record_sign_in(database, SignIn(ea_user, "tess@example.org", "Tess", roles))

    assert reconcile(idp, database) == {"done": 1}
    assert audit(database, ea_user) == [
        ("idp-sign-in", "user.tier_changed", {"from": "ea", "to": "devel"}, "sign-in"),
        (
            "auth0|admin",
            "user.change_completed",
            {
                "change": "tier",
                "from": "ea",
                "to": "devel",
                "requested_via": "console",
                "intent": 1,
            },
            "reconcile",
        ),
    ]


@pytest.mark.site
def test_a_change_auth0_never_made_is_abandoned_and_audited(admin, idp, database, ea_user):
    idp.controls.faults.fail(ASSIGN_ROLE, 503, times=2)
    with pytest.raises(ChangePending, match=r"Auth0 did not confirm that it would set the tier"):
        admin.set_tier(ea_user, Tier.DEVEL, actor="cli:ops", source=Source.CLI)
    assert intent_states(database)[0][-1] == "pending"

    assert reconcile(idp, database) == {"abandoned": 1}
    assert remote_roles(idp, ea_user) == ["ea", "reviewer"]
    assert local(database, ea_user).tier == "ea"
    assert intent_states(database)[0][-1] == "abandoned"
    assert audit(database, ea_user) == [
        (
            "cli:ops",
            "user.change_abandoned",
            {
                "change": "tier",
                "from": "ea",
                "to": "devel",
                "requested_via": "cli",
                "intent": only_intent_id(database),
                "provider_holds": "ea",
            },
            "reconcile",
        )
    ]


@pytest.mark.site
def test_a_young_intent_is_left_to_the_request_that_may_still_be_making_it(
    admin, idp, database, ea_user
):
    idp.controls.faults.fail(ASSIGN_ROLE, 503, times=2)
    with pytest.raises(ChangePending):
        admin.set_tier(ea_user, Tier.DEVEL, actor="cli:ops", source=Source.CLI)
    reconciler = Reconciler(database, idp.client(max_retries=0), admin.sessions)
    assert reconciler.run() == {}
    assert intent_states(database)[0][-1] == "pending"


@pytest.mark.site
def test_a_pending_change_stays_pending_while_auth0_cannot_be_asked(admin, idp, database, ea_user):
    idp.controls.faults.fail(ASSIGN_ROLE, 503, times=3)
    with pytest.raises(ChangePending):
        admin.set_tier(ea_user, Tier.DEVEL, actor="cli:ops", source=Source.CLI)
    assert reconcile(idp, database) == {"pending": 1}
    assert intent_states(database)[0][-1] == "pending"
    assert audit(database, ea_user) == []


@pytest.mark.gunicorn
def test_a_database_stopped_right_after_auth0_changed_the_tier_is_reconciled_once_back(
    idp, tmp_path
):
    with PrivateMariaDB() as server:
        upgrade(server.url)
        database = Database(server.url, QUICK)
        subject = idp.store.add_user("tess@example.org", "pw-123456", ["ea"], "Tess")
        record_sign_in(database, SignIn(subject, "tess@example.org", "Tess", ["ea"]))
        admin = UserAdmin(database, idp.client(max_retries=0), sessions_for(database))
        idp.after("POST", ASSIGN_ROLE, server.stop)
        with pytest.raises(ChangePending, match="Auth0 made the change"):
            admin.set_tier(subject, Tier.DEVEL, actor="auth0|admin", source=Source.CONSOLE)
        assert remote_roles(idp, subject) == ["devel"]

        server.start()
        assert local(database, subject).tier == "ea"
        assert reconcile(idp, database) == {"done": 1}
        assert local(database, subject).tier == "devel"
        assert audit(database, subject) == [
            (
                "auth0|admin",
                "user.tier_changed",
                {"from": "ea", "to": "devel", "requested_via": "console", "intent": 1},
                "reconcile",
            )
        ]
        database.dispose()
