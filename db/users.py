"""Reading and writing users: the only place that knows how a sign-in becomes a `users` row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.identity import PortalUser
from auth.tiers import Tier
from db.engine import Database
from db.models import Grant, User, utcnow


@dataclass(frozen=True)
class SignIn:
    """What the identity provider told us about a person at sign-in."""

    subject: str
    email: str
    name: str
    roles: Sequence[str]
    picture: str = ""


def to_portal_user(user: User) -> PortalUser:
    return PortalUser(
        id=user.id,
        subject=user.subject,
        email=user.email,
        name=user.name,
        tier=Tier.parse(user.tier),
    )


def record_sign_in(database: Database, sign_in: SignIn) -> User:
    """Create or update the user's row from the token; the tier follows the roles it carries.

    Two first sign-ins of the same person can race (two tabs, two workers); the unique subject
    makes one of them lose the insert, and it then updates the row the other created.
    """
    for _attempt in range(2):
        try:
            with database.transaction() as session:
                return _upsert(session, sign_in)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record sign-in for {sign_in.subject!r}")


def ensure_users(database: Database, people: Sequence[SignIn]) -> int:
    """Add the people missing from the table (the development provider's demo users), leaving
    existing rows alone; returns how many were added. Workers booting together may race to add
    the same people: the loser finds them added and adds nothing."""
    for _attempt in range(2):
        try:
            return _add_missing(database, people)
        except IntegrityError:
            continue
    return 0


def _add_missing(database: Database, people: Sequence[SignIn]) -> int:
    with database.transaction() as db:
        subjects = [person.subject for person in people]
        known = set(db.scalars(select(User.subject).where(User.subject.in_(subjects))))
        missing = [person for person in people if person.subject not in known]
        for person in missing:
            db.add(
                User(
                    subject=person.subject,
                    email=person.email,
                    name=person.name,
                    roles=list(person.roles),
                    tier=Tier.from_roles(person.roles).value,
                )
            )
    return len(missing)


def _upsert(session: Session, sign_in: SignIn) -> User:
    user = session.scalars(select(User).where(User.subject == sign_in.subject)).one_or_none()
    if user is None:
        user = User(subject=sign_in.subject)
        session.add(user)
    user.email = sign_in.email[:320]
    user.name = sign_in.name[:255]
    user.picture = sign_in.picture[:2048]
    user.roles = [role for role in sign_in.roles if isinstance(role, str)]
    user.tier = Tier.from_roles(user.roles).value
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
