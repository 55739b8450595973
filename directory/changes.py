"""The changes an admin makes both in the identity provider and in the table: a tier, a block.

Each knows how to make itself at the provider, read back what the provider holds, and write a
value into the user's row with its audit event, so an admin's request and the reconciler
(`directory.reconcile`) apply a change the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from sqlalchemy.orm import Session

from auth.sessions import EndReason, SessionStore
from auth.tiers import TIER_NAMES, Tier
from db.audit import Source, record
from db.models import User, utcnow
from directory.management import ManagementClient

BLOCKED = "blocked"
UNBLOCKED = "unblocked"


@dataclass(frozen=True)
class Held:
    """What the provider holds for the user: the value, and the roles it was read from."""

    value: str
    roles: tuple[str, ...] | None = field(default=None, compare=False)


class Change(Protocol):
    #: The intent's `change` column.
    kind: ClassVar[str]

    @property
    def to(self) -> str: ...

    def current(self, user: User) -> str: ...

    def make(self, client: ManagementClient, subject: str) -> None: ...

    def held(self, client: ManagementClient, subject: str) -> Held: ...

    def write(
        self,
        db: Session,
        row: User,
        held: Held,
        *,
        actor: str,
        source: Source,
        details: dict | None = None,
    ) -> bool:
        """Give the row `held`'s value with its audit event; False when it had it already."""

    def announce(self, sessions: SessionStore, user_id: int) -> None:
        """After the commit: tell every process, so none keeps serving the old value."""


@dataclass(frozen=True)
class TierChange:
    tier: Tier
    kind: ClassVar[str] = "tier"

    @property
    def to(self) -> str:
        return self.tier.value

    def current(self, user: User) -> str:
        return user.tier

    def make(self, client: ManagementClient, subject: str) -> None:
        client.set_tier(subject, self.tier)

    def held(self, client: ManagementClient, subject: str) -> Held:
        roles = client.user_roles(subject)
        return Held(client.tier_roles.tier_of(roles).value, roles)

    def write(
        self,
        db: Session,
        row: User,
        held: Held,
        *,
        actor: str,
        source: Source,
        details: dict | None = None,
    ) -> bool:
        before = row.tier
        if before == held.value:
            return False
        if held.roles is not None:
            row.roles = sorted(held.roles)
        else:
            others = {role for role in row.roles if role not in TIER_NAMES}
            row.roles = sorted(others | ({held.value} - {Tier.STABLE.value}))
        row.tier = held.value
        row.updated_at = utcnow()
        record(
            db,
            actor=actor,
            action="user.tier_changed",
            target=row.subject,
            details={"from": before, "to": held.value, **(details or {})},
            source=source,
        )
        return True

    def announce(self, sessions: SessionStore, user_id: int) -> None:
        sessions.user_changed(user_id)


@dataclass(frozen=True)
class BlockChange:
    blocked: bool
    kind: ClassVar[str] = "blocked"

    @property
    def to(self) -> str:
        return BLOCKED if self.blocked else UNBLOCKED

    def current(self, user: User) -> str:
        return BLOCKED if user.blocked else UNBLOCKED

    def make(self, client: ManagementClient, subject: str) -> None:
        client.set_blocked(subject, self.blocked)

    def held(self, client: ManagementClient, subject: str) -> Held:
        return Held(BLOCKED if client.get_user(subject).blocked else UNBLOCKED)

    def write(
        self,
        db: Session,
        row: User,
        held: Held,
        *,
        actor: str,
        source: Source,
        details: dict | None = None,
    ) -> bool:
        blocked = held.value == BLOCKED
        if row.blocked == blocked:
            return False
        row.blocked = blocked
        row.updated_at = utcnow()
        action = "user.blocked" if blocked else "user.unblocked"
        record(db, actor=actor, action=action, target=row.subject, details=details, source=source)
        return True

    def announce(self, sessions: SessionStore, user_id: int) -> None:
        """Blocking ends every session the user has open."""
        if self.blocked:
            sessions.revoke_user(user_id, EndReason.BLOCKED)
        else:
            sessions.user_changed(user_id)


def change_to(kind: str, value: str) -> Change:
    """The change of `kind` ("tier" or "blocked") to `value`, as an intent row names it."""
    if kind == BlockChange.kind:
        return BlockChange(value == BLOCKED)
    return TierChange(Tier.parse(value))
