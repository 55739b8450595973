"""Changing a user's tier or block state: Auth0 first, then the table, then the audit log.

Auth0 is the source of truth, so a change it refuses must leave the portal untouched; writing it
there first, and only then locally in one transaction with its audit event, keeps both in step.
Once committed, every change is announced (`SessionStore.user_changed`, `revoke_user`), so every
worker and node drops what it cached about the user at once.
The admin console and the `portal users` commands both come through here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, or_, select

from auth.sessions import EndReason, SessionStore
from auth.tiers import TIER_NAMES, Tier
from db.audit import Source, record
from db.engine import Database
from db.models import Grant, User, utcnow
from directory.management import ManagementClient, ManagementError


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
        """`actor` is the acting admin's user id (subject) or a label such as `cli:ops`."""
        user = self.find(who)
        if user.tier == tier.value:
            return user
        if user.tier == Tier.ADMIN.value:
            if user.subject == actor:
                raise AdminError("You cannot remove your own admin tier; ask another admin.")
            self._keep_an_admin(user, "lower the tier of")
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
        self.sessions.user_changed(user.id)
        return row

    def set_blocked(
        self, who: str, blocked: bool, *, actor: str, source: Source = Source.PORTAL
    ) -> User:
        """Block or unblock; blocking also ends every session the user has open."""
        user = self.find(who)
        verb = "block" if blocked else "unblock"
        if blocked and user.subject == actor:
            raise AdminError("You cannot block yourself.")
        if blocked and user.tier == Tier.ADMIN.value:
            self._keep_an_admin(user, "block")
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
            self.sessions.revoke_user(user.id, EndReason.BLOCKED)
        else:
            self.sessions.user_changed(user.id)
        return row

    def end_sessions(self, who: str, *, actor: str, source: Source = Source.PORTAL) -> int:
        """End every session the user has open, on every worker within the identity cache time."""
        user = self.find(who)
        ended = self.sessions.revoke_user(user.id, EndReason.ENDED_BY_ADMIN)
        with self.database.transaction() as db:
            record(
                db,
                actor=actor,
                action="user.sessions_ended",
                target=user.subject,
                details={"sessions": ended},
                source=source,
            )
        return ended

    def grant(
        self,
        who: str,
        product: str,
        *,
        expires_at: datetime | None,
        actor: str,
        source: Source = Source.PORTAL,
    ) -> Grant:
        """Let one user open one product (`tier/name`) above their tier, until `expires_at`."""
        tier, _, name = product.partition("/")
        if tier not in TIER_NAMES or not name.isidentifier():
            raise AdminError(f"{product!r} is not a product (expected <tier>/<name>)")
        if tier == Tier.ADMIN.value:
            raise AdminError("Admin products cannot be granted: make the person an admin instead.")
        if expires_at is not None and expires_at <= utcnow():
            raise AdminError("The expiry must be in the future.")
        user = self.find(who)
        with self.database.transaction() as db:
            grant = Grant(
                user_id=user.id,
                product=product,
                granted_by=actor[:255],
                expires_at=expires_at,
                created_at=utcnow(),
            )
            db.add(grant)
            record(
                db,
                actor=actor,
                action="grant.created",
                target=user.subject,
                source=source,
                details={
                    "product": product,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
        self.sessions.user_changed(user.id)
        return grant

    def revoke_grant(self, grant_id: int, *, actor: str, source: Source = Source.PORTAL) -> Grant:
        with self.database.transaction() as db:
            grant = db.get(Grant, grant_id)
            if grant is None or grant.revoked_at is not None:
                raise AdminError(f"No active grant {grant_id}.")
            grant.revoked_at = utcnow()
            subject = db.get(User, grant.user_id).subject
            record(
                db,
                actor=actor,
                action="grant.revoked",
                target=subject,
                source=source,
                details={"product": grant.product},
            )
        self.sessions.user_changed(grant.user_id)
        return grant

    def _keep_an_admin(self, user: User, verb: str) -> None:
        with self.database.transaction() as db:
            admins = db.scalar(
                select(func.count())
                .select_from(User)
                .where(
                    User.tier == Tier.ADMIN.value,
                    User.blocked.is_(False),
                    User.deleted_at.is_(None),
                    User.id != user.id,
                )
            )
        if not admins:
            raise AdminError(
                f"{user.email or user.subject} is the last admin: make someone else admin "
                f"before you {verb} them."
            )

    @staticmethod
    def _at_auth0(what: str, change: Callable[[], None]) -> None:
        try:
            change()
        except ManagementError as error:
            raise AdminError(f"Auth0 refused to {what}; nothing was changed: {error}") from error


def _tier_roles(tier: Tier) -> set[str]:
    return set() if tier is Tier.STABLE else {tier.value}
