"""Reading and writing `users` rows and their grants: the data, not what it means (auth.users)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.audit import Source
from db.audit import record as audit
from db.engine import Database
from db.models import Grant, User, utcnow

#: Who the audit log names for a tier the identity provider's token changed at sign-in.
SIGN_IN_ACTOR = "idp-sign-in"


@dataclass(frozen=True)
class UserRecord:
    """A user's row as the identity provider's data makes it; `tier` is decided by the caller."""

    subject: str
    email: str
    name: str
    roles: Sequence[str]
    tier: str
    picture: str = ""


def upsert_user(database: Database, record: UserRecord) -> User:
    """Create or update the user's row, and stamp the sign-in time; a tier the token changes is
    audited (source `sign-in`), as every other way a tier changes is.

    Two first sign-ins of the same person can race (two tabs, two workers); the unique subject
    makes one of them lose the insert, and it then updates the row the other created.
    """
    for _attempt in range(2):
        try:
            with database.transaction() as session:
                return _upsert(session, record)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record sign-in for {record.subject!r}")


def add_missing_users(database: Database, records: Sequence[UserRecord]) -> int:
    """Add the people missing from the table (the development provider's demo users), leaving
    existing rows alone; returns how many were added. Workers booting together may race to add
    the same people: the loser finds them added and adds nothing."""
    for _attempt in range(2):
        try:
            return _add_missing(database, records)
        except IntegrityError:
            continue
    return 0


def _add_missing(database: Database, records: Sequence[UserRecord]) -> int:
    with database.transaction() as db:
        subjects = [record.subject for record in records]
        known = set(db.scalars(select(User.subject).where(User.subject.in_(subjects))))
        missing = [record for record in records if record.subject not in known]
        for record in missing:
            db.add(
                User(
                    subject=record.subject,
                    email=record.email,
                    name=record.name,
                    roles=list(record.roles),
                    tier=record.tier,
                )
            )
    return len(missing)


def _upsert(session: Session, record: UserRecord) -> User:
    user = session.scalars(select(User).where(User.subject == record.subject)).one_or_none()
    if user is None:
        user = User(subject=record.subject)
        session.add(user)
    elif user.tier != record.tier:
        audit(
            session,
            actor=SIGN_IN_ACTOR,
            action="user.tier_changed",
            target=record.subject,
            details={"from": user.tier, "to": record.tier},
            source=Source.SIGN_IN,
        )
    user.email = record.email[:320]
    user.name = record.name[:255]
    user.picture = record.picture[:2048]
    user.roles = list(record.roles)
    user.tier = record.tier
    user.last_login_at = utcnow()
    session.flush()
    return user


def active_grants(db: Session, user_id: int, now: datetime) -> frozenset[str]:
    """Products (`tier/name`) granted to the user above their tier, not revoked or expired."""
    return frozenset(
        db.scalars(
            select(Grant.product).where(
                Grant.user_id == user_id,
                Grant.revoked_at.is_(None),
                (Grant.expires_at.is_(None)) | (Grant.expires_at > now),
            )
        )
    )


def user_with_grants(database: Database, subject: str) -> tuple[User, frozenset[str]] | None:
    """A user by subject with their active grants: what a bearer token's identity needs."""
    with database.transaction() as db:
        user = db.scalars(select(User).where(User.subject == subject)).one_or_none()
        if user is None:
            return None
        return user, active_grants(db, user.id, utcnow())
