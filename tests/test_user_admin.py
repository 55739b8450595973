"""Changing tiers and blocks from the portal: Auth0 first, then the table, then the audit log."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from auth.sessions import SessionStore
from auth.tiers import Tier
from auth.users import SignIn, record_sign_in
from db.models import AuditEvent, User
from directory.user_admin import AdminError, UserAdmin
from tests.support.idp import start_idp


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


def test_a_tier_change_lands_in_auth0_the_table_and_the_audit_log(admin, idp, database, ea_user):
    admin.set_tier("tess@example.org", Tier.DEVEL, actor="cli:ops")
    assert remote_roles(idp, ea_user) == ["devel", "reviewer"]
    assert (local(database, ea_user).tier, local(database, ea_user).roles) == (
        "devel",
        ["devel", "reviewer"],
    )
    assert audit(database, ea_user) == [
        ("cli:ops", "user.tier_changed", {"from": "ea", "to": "devel"}, "portal")
    ]


def test_lowering_to_stable_removes_the_tier_role_and_keeps_the_others(admin, idp, ea_user):
    admin.set_tier(ea_user, Tier.STABLE, actor="cli:ops")
    assert remote_roles(idp, ea_user) == ["reviewer"]


def test_an_auth0_refusal_changes_nothing_anywhere(admin, idp, database, ea_user):
    idp.controls.faults.fail("/api/v2/users/*/roles", 400, times=5)
    with pytest.raises(
        AdminError, match=re.escape("Auth0 refused to set the tier of tess@example.org")
    ):
        admin.set_tier("tess@example.org", Tier.ADMIN, actor="cli:ops")
    assert remote_roles(idp, ea_user) == ["ea", "reviewer"]
    assert local(database, ea_user).tier == "ea"
    assert audit(database, ea_user) == []


def test_blocking_blocks_in_auth0_and_here_and_ends_sessions(admin, idp, database, ea_user):
    user = local(database, ea_user)
    raw = admin.sessions.save(None, {}, user.id)
    admin.set_blocked(ea_user, True, actor="cli:ops")
    assert idp.store.get_user(ea_user).blocked is True
    assert local(database, ea_user).blocked is True
    assert admin.sessions.load(raw) is None
    assert audit(database, ea_user) == [("cli:ops", "user.blocked", {}, "portal")]


def test_unblocking_is_audited_too(admin, idp, database, ea_user):
    admin.set_blocked(ea_user, True, actor="cli:ops")
    admin.set_blocked(ea_user, False, actor="cli:ops")
    assert idp.store.get_user(ea_user).blocked is False
    assert [a[1] for a in audit(database, ea_user)] == ["user.blocked", "user.unblocked"]


def test_an_unknown_user_is_a_clear_error(admin):
    with pytest.raises(
        AdminError, match=re.escape("no user with email or id 'nobody@example.org'")
    ):
        admin.set_tier("nobody@example.org", Tier.EA, actor="cli:ops")


def test_admin_products_cannot_be_granted(admin, ea_user):
    with pytest.raises(AdminError, match="Admin products cannot be granted"):
        admin.grant(ea_user, "admin/manage", expires_at=None, actor="cli:ops")
