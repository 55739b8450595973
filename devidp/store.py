"""The provider's own database: users, roles, signing keys, browser sessions, codes, tokens.

Every gunicorn worker opens the same store, so nothing lives only in process memory: a code made
by one worker is redeemed by another, and the signing key is created once (a unique generation
number decides the race) and read by all. One-time things (codes, refresh tokens) are claimed
with a single conditional UPDATE, which is atomic even when two workers try at the same moment.
Users and roles are in :mod:`.directory`, signing keys and their rotation in :mod:`.keys`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from werkzeug.security import check_password_hash

from .directory import DevIdpUser, UserDirectory
from .keys import SigningKeys
from .models import AuthorizationCode, Base, LoginSession, RefreshToken, User
from .settings import DEMO_USERS


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database in (None, "", ":memory:"):
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


class DevIdpStore(SigningKeys, UserDirectory):
    """Users and OAuth state of the provider; also the API tests and tools use to arrange users."""

    def __init__(self, database_url: str) -> None:
        self.engine = _make_engine(database_url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._create_tables()
        self._upgrade_legacy_users()
        self._init_signing_keys()
        self.ensure_default_roles()

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory, for parts of the provider that keep their own tables here."""
        return self._session

    def _create_tables(self) -> None:
        """create_all, tolerating workers that create the same tables at the same moment."""
        for attempt in range(len(Base.metadata.tables) + 1):
            try:
                Base.metadata.create_all(self.engine)
                return
            except OperationalError:
                if attempt == len(Base.metadata.tables):
                    raise

    def _upgrade_legacy_users(self) -> None:
        """Carry users of a store made before roles were records (a ``roles_json`` column)
        into the current tables, so a developer's provider file keeps its people."""
        columns = {c["name"] for c in inspect(self.engine).get_columns(User.__tablename__)}
        if "roles_json" not in columns:
            return
        legacy = "SELECT subject, email, name, password_hash, roles_json FROM devidp_users"
        try:
            with self.engine.begin() as connection:
                rows = connection.execute(text(legacy)).all()
                connection.execute(text("DROP TABLE devidp_users"))
        except DatabaseError:
            return  # another worker is upgrading the same file
        self._create_tables()
        with self._session.begin() as db:
            db.add_all(
                User(subject=r.subject, email=r.email, name=r.name, password_hash=r.password_hash)
                for r in rows
            )
        for row in rows:
            self.set_roles(row.subject, json.loads(row.roles_json or "[]"))

    # -- users -----------------------------------------------------------------------------------

    def seed_demo_users(self, role_name: Callable[[str], str] = str) -> None:
        """Add missing demo users, their roles named as ``role_name`` says; existing ones keep
        any role changes made to them."""
        for demo in DEMO_USERS:
            if self.get_user(demo.subject) is None:
                roles = [role_name(role) for role in demo.roles]
                self._insert_user(demo.subject, demo.email, demo.password, roles, demo.name)

    def authenticate(self, email: str, password: str) -> DevIdpUser | None:
        """The user with this email and password, or None (without saying which was wrong).

        A blocked user is returned too: the login page refuses them as Auth0 does, only once the
        password was right (see `devidp.login.UserBlocked`)."""
        with self._session() as db:
            row = db.scalar(select(User).where(User.email == email.strip().lower()))
        if row is None or not check_password_hash(row.password_hash, password):
            return None
        return self.get_user(row.subject)

    # -- browser sessions at the provider --------------------------------------------------------

    def start_login_session(self, subject: str) -> LoginSession:
        row = LoginSession(
            sid=secrets.token_urlsafe(24), subject=subject, auth_time=int(time.time())
        )
        with self._session.begin() as db:
            db.add(row)
        return row

    def get_login_session(self, sid: str) -> LoginSession | None:
        with self._session() as db:
            row = db.get(LoginSession, sid)
        return row if row is not None and row.ended_at is None else None

    def end_login_session(self, sid: str) -> str | None:
        """End the session; its subject when this call ended it, None when it was not active.

        The conditional UPDATE decides between workers ending the same session at once, so
        exactly one of them sends the back-channel logout for it."""
        with self._session.begin() as db:
            ended = db.execute(
                update(LoginSession)
                .where(LoginSession.sid == sid, LoginSession.ended_at.is_(None))
                .values(ended_at=int(time.time()))
            ).rowcount
            subject = db.scalar(select(LoginSession.subject).where(LoginSession.sid == sid))
        return subject if ended else None

    def active_login_sessions(self, subject: str) -> list[str]:
        """The ids of this user's provider sessions that have not ended, oldest first."""
        with self._session() as db:
            return list(
                db.scalars(
                    select(LoginSession.sid)
                    .where(LoginSession.subject == subject, LoginSession.ended_at.is_(None))
                    .order_by(LoginSession.auth_time, LoginSession.sid)
                ).all()
            )

    # -- authorization codes ---------------------------------------------------------------------

    def save_authorization_code(self, **fields: Any) -> None:
        with self._session.begin() as db:
            db.add(AuthorizationCode(**fields))

    def claim_authorization_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Mark the code used and return it; None when unknown, already used or expired."""
        with self._session.begin() as db:
            claimed = db.execute(
                update(AuthorizationCode)
                .where(
                    AuthorizationCode.code == code,
                    AuthorizationCode.client_id == client_id,
                    AuthorizationCode.used_at.is_(None),
                )
                .values(used_at=int(time.time()))
            ).rowcount
            if not claimed:
                return None
            row = db.scalar(select(AuthorizationCode).where(AuthorizationCode.code == code))
        return None if row is None or row.is_expired() else row

    def nonce_was_used(self, client_id: str, nonce: str) -> bool:
        with self._session() as db:
            found = db.scalar(
                select(AuthorizationCode.id)
                .where(AuthorizationCode.client_id == client_id, AuthorizationCode.nonce == nonce)
                .limit(1)
            )
        return found is not None

    # -- refresh tokens --------------------------------------------------------------------------

    def save_refresh_token(
        self,
        token: str,
        *,
        client_id: str,
        subject: str,
        sid: str,
        scope: str,
        auth_time: int,
        ttl: int,
    ) -> None:
        now = int(time.time())
        row = RefreshToken(
            token_hash=_hash_token(token),
            client_id=client_id,
            subject=subject,
            sid=sid,
            scope=scope,
            auth_time=auth_time,
            issued_at=now,
            expires_at=now + ttl,
        )
        with self._session.begin() as db:
            db.add(row)

    def claim_refresh_token(self, token: str) -> RefreshToken | None:
        """Revoke the refresh token and return it, so each one works exactly once (rotation)."""
        token_hash = _hash_token(token)
        with self._session.begin() as db:
            claimed = db.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == token_hash, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=int(time.time()))
            ).rowcount
            if not claimed:
                return None
            row = db.get(RefreshToken, token_hash)
        return None if row is None or row.is_expired() else row
