"""Helpers shared by the admin console's tests (this module itself holds no tests).

Each test makes its own provider users, so the shared `portal` fixture's demo users keep their
tiers; the console acts as the demo admin, signed in over real HTTP.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select

from db.models import AuditEvent, Grant, Session, User
from tests.support.sessions import signed_in

ADMIN_SUBJECT = "auth0|demo-admin"
CONSOLE = "/admin/manage"


def console_url(portal, path: str) -> str:
    return f"{portal.base_url}{CONSOLE}{path}"


def admin_session(portal):
    """The demo admin's browser session, with the console's own cookie (and CSRF token) set."""
    session = signed_in(portal, "admin")
    session.get(console_url(portal, "/"), timeout=10)
    return session


def new_user(portal, roles=(), name="Console Test") -> tuple[str, str]:
    """A provider user mirrored into the users table, as a sync or sign-in would make it."""
    email = f"console-{secrets.token_hex(5)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", list(roles), name)
    portal.services.user_sync().one(subject)
    return subject, email


def page_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def api_token(portal, session) -> str:
    return session.get(console_url(portal, "/api/csrf"), timeout=10).json()["csrf_token"]


def post_form(portal, session, path: str, data: dict | None = None, **options):
    """A console form as the browser sends it: the page's CSRF token among the fields."""
    token = api_token(portal, session)
    return session.post(
        console_url(portal, path),
        data={"csrf_token": token, **(data or {})},
        allow_redirects=options.pop("allow_redirects", False),
        timeout=30,
        **options,
    )


def api_call(portal, session, method: str, path: str, body=None):
    """The JSON API with the session cookie: the CSRF token goes in a header."""
    headers = {"X-CSRFToken": api_token(portal, session), "Accept": "application/json"}
    return session.request(
        method, console_url(portal, "/api" + path), json=body, headers=headers, timeout=30
    )


def row(portal, subject: str) -> User:
    with portal.services.database.transaction() as db:
        return db.scalars(select(User).where(User.subject == subject)).one()


def audit(portal, subject: str) -> list[tuple]:
    with portal.services.database.transaction() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.target == subject).order_by(AuditEvent.id)
        )
        return [(e.actor, e.action, e.details, e.source) for e in events]


def remote(portal, subject: str):
    return portal.idp_store.get_user(subject)


def open_sessions(portal, subject: str) -> int:
    with portal.services.database.transaction() as db:
        user = db.scalars(select(User).where(User.subject == subject)).one()
        rows = db.scalars(
            select(Session).where(Session.user_id == user.id, Session.revoked_at.is_(None))
        )
        return len(list(rows))


def grants_of(portal, subject: str) -> list[Grant]:
    with portal.services.database.transaction() as db:
        user = db.scalars(select(User).where(User.subject == subject)).one()
        return list(db.scalars(select(Grant).where(Grant.user_id == user.id).order_by(Grant.id)))
