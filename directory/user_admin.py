"""Changing a user's tier or block state: an intent, then Auth0, then the table and audit log.

Auth0 is the source of truth, so a change it refuses must leave the portal untouched; writing it
there first, and only then locally in one transaction with its audit event, keeps both in step.
A fault between the two (the database gone once Auth0 said yes) would leave Auth0 changed and
the table not, so the change is first written down as an intent (`db.intents`), committed, and
closed in that last transaction; the reconciler (`directory.reconcile`) settles one left open.
Once committed, every change is announced (`SessionStore.user_changed`, `revoke_user`), so every
worker and node drops what it cached about the user at once.
The admin console and the `portal users` commands both come through here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from auth.sessions import EndReason, SessionStore
from auth.tiers import TIER_NAMES, Tier
from db import intents
from db.audit import Source, record
from db.engine import Database
from db.models import ChangeIntent, Grant, User, utcnow
from directory.changes import BlockChange, Change, Held, TierChange
from directory.management import ManagementClient, ManagementError, UserNotFound
from directory.reconcile import Reconciler

log = logging.getLogger(__name__)


class AdminError(RuntimeError):
    """The change was not made; the message is the exact reason, fit to show the admin."""


class ChangePending(RuntimeError):
    """The change may have been made at the provider but is not yet in the table; its intent
    is pending, for the reconciler. The message says so, fit to show the admin."""


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

    def set_tier(self, who: str, tier: Tier, *, actor: str, source: Source) -> User:
        """`actor` is the acting admin's user id (subject) or a label such as `cli:ops`."""
        user = self.find(who)
        if user.tier == tier.value:
            return user
        if user.tier == Tier.ADMIN.value:
            if user.subject == actor:
                raise AdminError("You cannot remove your own admin tier; ask another admin.")
            self._keep_an_admin(user, "lower the tier of")
        what = f"set the tier of {user.email or user.subject}"
        return self._change(user, TierChange(tier), what, actor=actor, source=source)

    def set_blocked(self, who: str, blocked: bool, *, actor: str, source: Source) -> User:
        """Block or unblock; blocking also ends every session the user has open."""
        user = self.find(who)
        verb = "block" if blocked else "unblock"
        if blocked and user.subject == actor:
            raise AdminError("You cannot block yourself.")
        if blocked and user.tier == Tier.ADMIN.value:
            self._keep_an_admin(user, "block")
        what = f"{verb} {user.email or user.subject}"
        return self._change(user, BlockChange(blocked), what, actor=actor, source=source)

    def end_sessions(self, who: str, *, actor: str, source: Source) -> int:
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
        source: Source,
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

    def revoke_grant(self, grant_id: int, *, actor: str, source: Source) -> Grant:
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

    def _change(self, user: User, change: Change, what: str, *, actor: str, source: Source) -> User:
        """The intent, committed; then the provider; then the row, the audit event and the
        intent's close in one transaction. A fault after the first step leaves the intent for
        the reconciler, and the admin is told the change is pending, never that it failed."""
        intent = intents.open_intent(
            self.database,
            user,
            change=change.kind,
            from_value=change.current(user),
            to_value=change.to,
            actor=actor,
            source=source,
        )
        try:
            change.make(self.client, user.subject)
        except ManagementError as error:
            return self._after_refusal(intent, user, change, what, error)
        return self._finish(intent, user, change, actor=actor, source=source)

    def _finish(
        self, intent: ChangeIntent, user: User, change: Change, *, actor: str, source: Source
    ) -> User:
        try:
            with self.database.transaction() as db:
                row = db.get(User, user.id)
                if intents.close(db, intent.id, intents.DONE):
                    change.write(db, row, Held(change.to), actor=actor, source=source)
        except SQLAlchemyError as error:
            log.exception("change %s reached the identity provider, not the table", intent.id)
            raise ChangePending(
                f"Auth0 made the change, but the portal's database did not record it. The change "
                f"is pending (change {intent.id}): the portal completes it here, with its audit "
                "entry, once the database answers again (or run `portal users reconcile`). "
                "Don't make it again."
            ) from error
        change.announce(self.sessions, user.id)
        return row

    def _after_refusal(
        self,
        intent: ChangeIntent,
        user: User,
        change: Change,
        what: str,
        error: ManagementError,
    ) -> User:
        """The provider said no, or nothing: what it holds now says whether it made the change
        (a lost answer), made none of it (a refusal), or stopped half way."""
        try:
            held = change.held(self.client, user.subject)
        except UserNotFound:
            held = None
        except ManagementError as unread:
            refused = error.status is not None and 400 <= error.status < 500 and error.status != 429
            said = "refused to" if refused else "did not confirm that it would"
            raise ChangePending(
                f"Auth0 {said} {what} ({error}), and could not be asked what it holds now "
                f"({unread}). Nothing was changed here; the change is pending (change "
                f"{intent.id}): the portal checks Auth0 within minutes and completes or "
                "abandons it (or run `portal users reconcile`)."
            ) from error
        if held is not None and held.value == change.to:
            return self._finish(
                intent, user, change, actor=intent.actor, source=Source(intent.source)
            )
        if held is None or held.value == intent.from_value:
            with self.database.transaction() as db:
                intents.close(db, intent.id, intents.REFUSED, str(error))
            raise AdminError(f"Auth0 refused to {what}; nothing was changed: {error}") from error
        Reconciler(self.database, self.client, self.sessions).settle(intent, user, held)
        raise AdminError(
            f"Auth0 refused to {what} ({error}) after changing part of it: it now holds "
            f"{held.value}, and so does the portal."
        ) from error
