"""Tables of the provider's own store: it stands in for Auth0's database, not the portal's.

Everything a second worker process needs lives here (users, signing keys, codes, refresh tokens,
browser sessions), so any gunicorn worker can finish a flow another one started.
"""

from __future__ import annotations

import time

from authlib.integrations.sqla_oauth2 import OAuth2AuthorizationCodeMixin
from authlib.oauth2.rfc6749 import TokenMixin
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Auth0 rejects a code after a minute; so does this provider.
AUTHORIZATION_CODE_TTL = 60


def _now() -> int:
    return int(time.time())


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "devidp_users"

    subject: Mapped[str] = mapped_column(String(191), primary_key=True)
    email: Mapped[str] = mapped_column(String(191), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    roles_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[int] = mapped_column(Integer, default=_now)


class SigningKey(Base):
    """One RSA key per generation; the highest generation signs, recent ones stay in the JWKS.

    ``generation`` is unique so two processes creating the first key at once cannot both win.
    """

    __tablename__ = "devidp_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Integer, default=_now)


class LoginSession(Base):
    """The provider's own browser session; its id is the ``sid`` claim of the ID tokens."""

    __tablename__ = "devidp_login_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(191), index=True)
    auth_time: Mapped[int] = mapped_column(Integer, default=_now)
    ended_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


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
