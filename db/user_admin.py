"""Changing a user's tier or block state: Auth0 first, then the table, then the audit log.

Auth0 is the source of truth, so a change it refuses must leave the portal untouched; writing it
there first, and only then locally in one transaction with its audit event, keeps both in step.
The admin console and the `portal users` commands both come through here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import or_, select

from auth.management import ManagementClient, ManagementError
from auth.sessions import SessionStore
from auth.tiers import TIER_NAMES, Tier
from db.audit import Source, record
from db.engine import Database
from db.models import User, utcnow


class AdminError(RuntimeError):
    """The change was not made; the message is the exact reason, fit to show the admin."""


class UserAdmin:
    def __init__(
        self, database: Database, client: ManagementClient, sessions: SessionStore
    ) -> None:
        self.database = database
        self.client = client
        self.sessions = sessions

    def find(self, who: str) -> User:
        """A user by email or Auth0 user id."""
        with self.database.transaction() as db:
            matches = db.scalars(
                select(User).where(or_(User.subject == who, User.email == who)).limit(2)
            ).all()
        if not matches:
            raise AdminError(f"no user with email or id {who!r}")
        if len(matches) > 1:
            raise AdminError(f"{who!r} matches several users; use the Auth0 user id")
        return matches[0]

    def set_tier(self, who: str, tier: Tier, *, actor: str, source: Source = Source.PORTAL) -> User:
        user = self.find(who)
        if user.tier == tier.value:
            return user
        self._at_auth0(
            f"set the tier of {user.email or user.subject}",
            lambda: self.client.set_tier(user.subject, tier),
        )
        roles = sorted({r for r in user.roles if r not in TIER_NAMES} | _tier_roles(tier))
        with self.database.transaction() as db:
            row = db.get(User, user.id)
            before = row.tier
            row.tier = tier.value
            row.roles = roles
            row.updated_at = utcnow()
            record(
                db,
                actor=actor,
                action="user.tier_changed",
                target=row.subject,
                details={"from": before, "to": tier.value},
                source=source,
            )
            return row

    def set_blocked(
        self, who: str, blocked: bool, *, actor: str, source: Source = Source.PORTAL
    ) -> User:
        """Block or unblock; blocking also ends every session the user has open."""
        user = self.find(who)
        verb = "block" if blocked else "unblock"
        self._at_auth0(
            f"{verb} {user.email or user.subject}",
            lambda: self.client.set_blocked(user.subject, blocked),
        )
        with self.database.transaction() as db:
            row = db.get(User, user.id)
            changed = row.blocked != blocked
            row.blocked = blocked
            row.updated_at = utcnow()
            if changed:
                record(db, actor=actor, action=f"user.{verb}ed", target=row.subject, source=source)
        if blocked:
            self.sessions.revoke_user(user.id)
        return row

    @staticmethod
    def _at_auth0(what: str, change: Callable[[], None]) -> None:
        try:
            change()
        except ManagementError as error:
            raise AdminError(f"Auth0 refused to {what}; nothing was changed: {error}") from error


def _tier_roles(tier: Tier) -> set[str]:
    return set() if tier is Tier.STABLE else {tier.value}
