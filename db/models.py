"""SQLAlchemy models; the schema itself changes only through the Alembic revisions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Naive UTC: MariaDB's DATETIME keeps no zone, so every timestamp is stored as UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


#: Microseconds on MariaDB too (its DATETIME keeps whole seconds by default), so events that
#: happen within one second keep their order.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

#: Compared byte for byte, trailing spaces included (NO PAD), on MariaDB: its default collation
#: would make `okta|00uAbC` and `okta|00uabc` (two people at some issuers) the same user.
Identifier = String(255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
)


class Base(DeclarativeBase):
    pass


class User(Base):
    """A person known to the identity provider, mirrored here with what the portal adds.

    Identity fields and roles belong to Auth0 (sync overwrites them); `last_login_at` and the
    sessions are the portal's own. A user removed from Auth0 is soft-deleted (`deleted_at`), so
    their history stays while they can no longer sign in.
    """

    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_email", "email"),
        Index("ix_users_tier", "tier"),
        Index("ix_users_last_login_at", "last_login_at"),
        Index("ix_users_name", "name"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(Identifier, unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    picture: Mapped[str] = mapped_column(String(2048), nullable=False, default="")
    tier: Mapped[str] = mapped_column(String(16), nullable=False, default="stable")
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    blocked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, nullable=False, default=utcnow, onupdate=utcnow
    )
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)

    @property
    def refused(self) -> bool:
        """Blocked or removed from the identity provider: no sign-in, no requests."""
        return self.blocked or self.deleted_at is not None


class Session(Base):
    """A server-side login session; the cookie holds only a signed random id whose hash is `id`."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_expires_at", "expires_at"),
        Index("ix_sessions_idp_sid", "idp_sid"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    data: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    #: Why it ended (`auth.sessions.EndReason`): a blocked user is told so once, then signs in.
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_agent: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ip_address: Mapped[str] = mapped_column(String(45), nullable=False, default="")
    #: The identity provider's session id (`sid`), so its back-channel logout can end this one.
    idp_sid: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The user's tokens (access, refresh, ID), encrypted with a key derived from the secret.
    tokens: Mapped[str | None] = mapped_column(Text, nullable=True)
    tokens_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Set while one process refreshes the tokens, so the others wait instead of refreshing too.
    refreshing_until: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class AuditEvent(Base):
    """Who did what to whom, and through which path (the portal, a sync, an Auth0 webhook)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_actor", "actor"),
        Index("ix_audit_events_target", "target"),
        Index("ix_audit_events_action", "action"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(Identifier, nullable=False, default="")
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    source: Mapped[str] = mapped_column(String(16), nullable=False)


class ChangeIntent(Base):
    """A change bound for the identity provider and the users table, written down before either.

    Committed before the provider is called and closed in the transaction that writes the user's
    row and audit event, so a fault in between leaves this row `pending` for the reconciler
    (`directory.reconcile`) to finish or abandon by what the provider then holds.
    """

    __tablename__ = "change_intents"
    __table_args__ = (
        Index("ix_change_intents_state", "state", "created_at"),
        Index("ix_change_intents_user_id", "user_id"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    #: What changes: "tier" or "blocked".
    change: Mapped[str] = mapped_column(String(16), nullable=False)
    from_value: Mapped[str] = mapped_column(String(16), nullable=False)
    to_value: Mapped[str] = mapped_column(String(16), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    #: "pending", then "done", "refused" (the provider said no) or "abandoned" (the reconciler
    #: found the provider without the change).
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    #: How it ended, in words fit for the console.
    outcome: Mapped[str] = mapped_column(String(255), nullable=False, default="")


class SyncRun(Base):
    """One sync with Auth0: its counts, where it got to (`cursor`), and how it ended."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_started_at", "started_at"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    started_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    heartbeat_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    since: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cursor: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    resumed_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Grant(Base):
    """One user may open one product above their tier, until `expires_at` (or for good)."""

    __tablename__ = "grants"
    __table_args__ = (
        Index("ix_grants_user_id", "user_id"),
        Index("ix_grants_product", "product"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    product: Mapped[str] = mapped_column(String(160), nullable=False)
    granted_by: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class SeenLogoutToken(Base):
    """Back-channel logout tokens already acted on (by `jti`), so a replay is refused."""

    __tablename__ = "seen_logout_tokens"
    __table_args__ = ({"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},)

    jti: Mapped[str] = mapped_column(Identifier, primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)


class ProductMove(Base):
    """A product folder moved to another tier: its old address redirects to the new one.

    Kept in the database rather than in a process, so every worker and node answers the old
    address the same way, and a restart does not forget it.
    """

    __tablename__ = "product_moves"
    __table_args__ = ({"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},)

    old_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    new_key: Mapped[str] = mapped_column(String(160), nullable=False)
    moved_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)


class HostHandoff(Base):
    """A one-time code that gives a product's host the cookie of a session begun on the
    portal's host (host mode). Only a hash of the code is kept; the session id it carries is
    encrypted, so a copy of the table opens nothing."""

    __tablename__ = "host_handoffs"
    __table_args__ = (
        Index("ix_host_handoffs_expires_at", "expires_at"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"},
    )

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_session: Mapped[str] = mapped_column(Text, nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    #: The SHA-256 of the state cookie the browser that asked holds: only it can spend the code.
    state_hash: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    next_path: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
