"""Tables of the provider's own store: it stands in for Auth0's database, not the portal's.

Everything a second worker process needs lives here (users, roles, signing keys, codes, refresh
tokens, browser sessions, export jobs), so any gunicorn worker can finish what another started.
Times of users are kept in milliseconds, like Auth0's ``updated_at``, so a change made in the same
second as a sync still sorts after it.
"""

from __future__ import annotations

import time

from authlib.integrations.sqla_oauth2 import OAuth2AuthorizationCodeMixin
from authlib.oauth2.rfc6749 import TokenMixin
from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Auth0 rejects a code after a minute; so does this provider.
AUTHORIZATION_CODE_TTL = 60


def _now() -> int:
    return int(time.time())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Base(DeclarativeBase):
    pass


class User(Base):
    """A person as Auth0 keeps them; an empty ``password_hash`` means no password sign-in."""

    __tablename__ = "devidp_users"
    __table_args__ = (
        Index("ix_devidp_users_created", "created_ms", "subject"),
        Index("ix_devidp_users_updated", "updated_ms", "subject"),
    )

    subject: Mapped[str] = mapped_column(String(191), primary_key=True)
    email: Mapped[str] = mapped_column(String(191), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    picture: Mapped[str] = mapped_column(String(512), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    app_metadata_json: Mapped[str] = mapped_column(Text, default="{}")
    created_ms: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_ms: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class Role(Base):
    __tablename__ = "devidp_roles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(191), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class UserRole(Base):
    """One role of one user; the primary key's order serves "users of a role" in subject order."""

    __tablename__ = "devidp_user_roles"

    role_id: Mapped[str] = mapped_column(ForeignKey(Role.id), primary_key=True)
    subject: Mapped[str] = mapped_column(ForeignKey(User.subject), primary_key=True, index=True)


class ExportJob(Base):
    """A users-export job; ``token`` names its file and is the unguessable part of its URL."""

    __tablename__ = "devidp_export_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    spec_json: Mapped[str] = mapped_column(Text, default="{}")
    created_ms: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)


class SigningKey(Base):
    """One RSA key per generation; the highest generation signs, older ones stay in the JWKS
    until ``retire_at`` (set when a newer key replaces them; None = not replaced yet).

    ``generation`` is unique so two processes creating the first key at once cannot both win.
    """

    __tablename__ = "devidp_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Integer, default=_now)
    retire_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class LoginSession(Base):
    """The provider's own browser session; its id is the ``sid`` claim of the ID tokens."""

    __tablename__ = "devidp_login_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(191), index=True)
    auth_time: Mapped[int] = mapped_column(Integer, default=_now)
    ended_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class LoginFailure(Base):
    """One failed sign-in at the login form, counted against an email (as a SHA-256 digest)
    or a client address; see :mod:`.login_limits`. Rows older than their window are deleted
    as new failures for the same key arrive."""

    __tablename__ = "devidp_login_failures"
    __table_args__ = (Index("ix_devidp_login_failures_key", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(191))
    at: Mapped[float] = mapped_column(Float)


class AuthorizationCode(Base, OAuth2AuthorizationCodeMixin):
    """authlib's code columns plus who it is for and whether it was redeemed.

    The mixin's ``auth_time`` is kept as the user's login time (it goes into the ID token), so
    the code's own age is measured from ``issued_at``.
    """

    __tablename__ = "devidp_authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(191))
    sid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(Integer, default=_now)
    used_at: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def is_expired(self) -> bool:
        return self.issued_at + AUTHORIZATION_CODE_TTL < time.time()


class RefreshToken(Base, TokenMixin):
    """Only a hash of the refresh token is kept; access tokens are JWTs and need no row."""

    __tablename__ = "devidp_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(191))
    subject: Mapped[str] = mapped_column(String(191), index=True)
    sid: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text, default="")
    auth_time: Mapped[int] = mapped_column(Integer, default=_now)
    issued_at: Mapped[int] = mapped_column(Integer, default=_now)
    expires_at: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def check_client(self, client: object) -> bool:
        return self.client_id == getattr(client, "client_id", None)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return self.expires_at < time.time()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None
