"""Server-side sessions: the cookie carries a signed random id, the database carries the rest.

Keeping the session in the database is what lets an admin end it, lets any worker on any machine
read it, and keeps tokens out of the browser. The table stores only a SHA-256 of the id, so a copy
of the database cannot be replayed as cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from itsdangerous import BadSignature, Signer
from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session as Transaction

from db.engine import Database
from db.models import Session, User, utcnow
from db.users import active_grants

ANONYMOUS_LIFETIME = timedelta(minutes=15)
TOUCH_INTERVAL = timedelta(seconds=60)
PURGE_AFTER = timedelta(days=7)


class EndReason(StrEnum):
    """Why a session ended, kept with it: a blocked user is told so once, on their next request."""

    SIGNED_OUT = "signed_out"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    REPLACED = "replaced"
    ENDED_BY_ADMIN = "ended_by_admin"
    PROVIDER_LOGOUT = "provider_logout"
    BLOCKED = "blocked"
    #: Blocked, and the user has been shown "Account blocked": from now on a plain ended session.
    BLOCK_SHOWN = "block_shown"


class Changes(Protocol):
    """Who hears that sessions ended or users changed, so every process drops its cached copy."""

    def sessions_ended(self, keys: Iterable[str]) -> None: ...

    def users_changed(self, user_ids: Iterable[int]) -> None: ...


class _Unheard:
    def sessions_ended(self, keys: Iterable[str]) -> None:
        pass

    def users_changed(self, user_ids: Iterable[int]) -> None:
        pass


@dataclass(frozen=True)
class StoredSession:
    raw_id: str
    user_id: int | None
    data: dict[str, object]


@dataclass(frozen=True)
class SignedInSession:
    raw_id: str
    user: User
    grants: frozenset[str]
    #: The session ended because the user was blocked, and they have not been told yet.
    ended_blocked: bool = False


def session_key(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        database: Database,
        secret_key: str,
        *,
        idle: timedelta,
        lifetime: timedelta,
        changes: Changes | None = None,
    ) -> None:
        self.database = database
        self.idle = idle
        self.lifetime = lifetime
        self.changes = changes or _Unheard()
        self._signer = Signer(secret_key, salt="portal.session")
        self._logout_key = hmac.new(secret_key.encode(), b"portal.logout", hashlib.sha256).digest()

    def cookie_value(self, raw_id: str, host: str) -> str:
        """The cookie for one host: the session id, bound to the host it is sent to, signed. A
        copy presented on another host (another product's, in host mode) is worthless there."""
        return self._signer.sign(f"{raw_id}|{host}").decode()

    def id_from_cookie(self, value: str | None, host: str) -> str | None:
        """The session id in a cookie we signed for `host`; anything else is no cookie at all."""
        if not value:
            return None
        try:
            raw_id, _, bound_to = self._signer.unsign(value).decode().rpartition("|")
        except (BadSignature, UnicodeDecodeError):
            return None
        return raw_id if raw_id and bound_to == host else None

    def logout_token(self, raw_id: str) -> str:
        """A per-session token for the sign-out form, so another site can't sign people out."""
        return hmac.new(self._logout_key, raw_id.encode(), hashlib.sha256).hexdigest()

    def check_logout_token(self, raw_id: str, token: str) -> bool:
        return hmac.compare_digest(self.logout_token(raw_id), token)

    def is_live(self, row: Session, now: datetime) -> bool:
        return (
            row.revoked_at is None
            and row.expires_at > now
            and (row.user_id is None or row.last_seen_at + self.idle > now)
        )

    def load(self, raw_id: str) -> StoredSession | None:
        now = utcnow()
        with self.database.transaction() as db:
            row = db.get(Session, session_key(raw_id))
            if row is None or not self.is_live(row, now):
                return None
            return _stored(raw_id, row)

    def load_with_user(self, raw_id: str) -> SignedInSession | None:
        """A live, signed-in session and its user in one query; pushes the idle deadline back.

        A session ended by blocking its user is returned too (`ended_blocked`) until the user has
        been told, so their next request can say "Account blocked" instead of "sign in"."""
        now = utcnow()
        with self.database.transaction() as db:
            found = db.execute(
                select(Session, User)
                .join(User, Session.user_id == User.id)
                .where(Session.id == session_key(raw_id))
            ).one_or_none()
            if found is None:
                return None
            session, user = found
            if not self.is_live(session, now):
                if _untold_block(session, user, now):
                    return SignedInSession(raw_id, user, frozenset(), ended_blocked=True)
                return None
            if session.last_seen_at < now - TOUCH_INTERVAL:
                session.last_seen_at = now
            return SignedInSession(raw_id, user, active_grants(db, user.id, now))

    def save(
        self,
        raw_id: str | None,
        data: dict[str, object],
        user_id: int | None,
        *,
        user_agent: str = "",
        ip_address: str = "",
        tokens: str | None = None,
        idp_sid: str | None = None,
    ) -> str:
        """Write the session, creating it (with a fresh id) when ``raw_id`` is None or gone;
        `tokens` (sealed) and `idp_sid` arrive with a sign-in and are kept until it ends."""
        now = utcnow()
        payload = json.dumps(data, separators=(",", ":"))
        with self.database.transaction() as db:
            row = db.get(Session, session_key(raw_id)) if raw_id else None
            if row is None or not self.is_live(row, now):
                raw_id = secrets.token_urlsafe(32)
                lifetime = self.lifetime if user_id is not None else ANONYMOUS_LIFETIME
                row = Session(
                    id=session_key(raw_id),
                    created_at=now,
                    expires_at=now + lifetime,
                    user_agent=user_agent[:255],
                    ip_address=ip_address[:45],
                )
                db.add(row)
            row.data = payload
            row.user_id = user_id
            row.last_seen_at = now
            if tokens is not None:
                row.tokens = tokens
            if idp_sid is not None:
                row.idp_sid = idp_sid[:255]
        return raw_id

    def open_sessions(self, user_id: int) -> list[Session]:
        """The user's sessions that are not ended or expired, most recently used first."""
        with self.database.transaction() as db:
            return list(
                db.scalars(
                    select(Session)
                    .where(
                        Session.user_id == user_id,
                        Session.revoked_at.is_(None),
                        Session.expires_at > utcnow(),
                    )
                    .order_by(Session.last_seen_at.desc())
                )
            )

    def load_tokens(self, raw_id: str) -> tuple[str | None, int] | None:
        """The sealed tokens of a live session and their version; None when the session ended."""
        with self.database.transaction() as db:
            row = db.get(Session, session_key(raw_id))
            if row is None or not self.is_live(row, utcnow()):
                return None
            return row.tokens, row.tokens_version

    def claim_refresh(self, raw_id: str, version: int, seconds: float) -> bool:
        """Take the right to refresh this version of the tokens; False if another process has."""
        now = utcnow()
        with self.database.transaction() as db:
            result = db.execute(
                update(Session)
                .where(
                    Session.id == session_key(raw_id),
                    Session.tokens_version == version,
                    Session.refreshing_until.is_(None) | (Session.refreshing_until < now),
                )
                .values(refreshing_until=now + timedelta(seconds=seconds))
            )
            return result.rowcount == 1

    def release_refresh(self, raw_id: str) -> None:
        with self.database.transaction() as db:
            db.execute(
                update(Session)
                .where(Session.id == session_key(raw_id))
                .values(refreshing_until=None)
            )

    def save_tokens(self, raw_id: str, sealed: str, version: int) -> None:
        with self.database.transaction() as db:
            db.execute(
                update(Session)
                .where(Session.id == session_key(raw_id), Session.tokens_version == version)
                .values(tokens=sealed, tokens_version=version + 1, refreshing_until=None)
            )

    def revoke_provider_session(self, *, sid: str | None, subject: str | None) -> int:
        """End the sessions a back-channel logout names: by the provider's `sid`, else every
        session of the user `subject`; returns how many were open."""
        with self.database.transaction() as db:
            query = select(Session.id, Session.user_id).where(Session.revoked_at.is_(None))
            if sid:
                query = query.where(Session.idp_sid == sid)
            if subject:
                users = select(User.id).where(User.subject == subject).scalar_subquery()
                query = query.where(Session.user_id == users)
            ended = db.execute(query).all()
            if ended:
                self._end(db, Session.id.in_([key for key, _ in ended]), EndReason.PROVIDER_LOGOUT)
        self.changes.sessions_ended(key for key, _ in ended)
        return len(ended)

    def revoke(self, raw_id: str, reason: EndReason = EndReason.SIGNED_OUT) -> None:
        """End one session. Ending one that blocking ended (once its user has been told) only
        records that they were."""
        key = session_key(raw_id)
        with self.database.transaction() as db:
            self._end(
                db,
                Session.id == key,
                reason,
                or_(Session.revoked_at.is_(None), Session.end_reason == EndReason.BLOCKED.value),
            )
        self.changes.sessions_ended([key])

    def revoke_user(self, user_id: int, reason: EndReason = EndReason.ENDED_BY_ADMIN) -> int:
        """End every session of one user; returns how many were open."""
        with self.database.transaction() as db:
            ended = self._end(db, Session.user_id == user_id, reason)
        self.changes.users_changed([user_id])
        return ended

    def user_changed(self, user_id: int) -> None:
        """The user's row changed (tier, block, grants): every process re-reads it at once."""
        self.changes.users_changed([user_id])

    @staticmethod
    def _end(
        db: Transaction,
        which: ColumnElement[bool],
        reason: EndReason,
        still_open: ColumnElement[bool] | None = None,
    ) -> int:
        result = db.execute(
            update(Session)
            .where(which, Session.revoked_at.is_(None) if still_open is None else still_open)
            .values(
                revoked_at=func.coalesce(Session.revoked_at, utcnow()),
                end_reason=reason.value,
                data="{}",
                tokens=None,
            ),
            execution_options={"synchronize_session": False},
        )
        return result.rowcount

    def purge(self, *, older_than: timedelta = PURGE_AFTER) -> int:
        """Delete sessions that ended (expired or revoked) more than `older_than` ago."""
        cutoff = utcnow() - older_than
        with self.database.transaction() as db:
            result = db.execute(
                delete(Session).where((Session.expires_at < cutoff) | (Session.revoked_at < cutoff))
            )
            return result.rowcount


def _untold_block(session: Session, user: User, now: datetime) -> bool:
    return (
        session.end_reason == EndReason.BLOCKED.value and user.refused and session.expires_at > now
    )


def _stored(raw_id: str, row: Session) -> StoredSession:
    try:
        data = json.loads(row.data or "{}")
    except ValueError:
        data = {}
    return StoredSession(
        raw_id=raw_id, user_id=row.user_id, data=data if isinstance(data, dict) else {}
    )
