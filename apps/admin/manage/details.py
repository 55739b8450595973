"""What the console reads besides the users list: one user in full, and who can open a product.

Pages and the API show the same facts, so the JSON shapes live here beside the queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session as DbSession

from apps.admin.manage.formatting import iso
from db.intents import pending_list
from db.models import AuditEvent, ChangeIntent, Grant, Session, User, utcnow
from kit import Tier
from kit.admin import ProductState

TRAIL_LENGTH = 50


@dataclass
class UserDetail:
    user: User
    sessions: list[Session]
    grants: list[Grant]
    trail: list[AuditEvent]
    #: Changes bound for Auth0 and the table that are not settled yet (`db.intents`).
    pending: list[ChangeIntent]


def grant_state(grant: Grant, now: datetime) -> str:
    if grant.revoked_at is not None:
        return "revoked"
    if grant.expires_at is not None and grant.expires_at <= now:
        return "expired"
    return "active"


def load_detail(
    db: DbSession, user: User, session_is_live: Callable[[Session, datetime], bool]
) -> UserDetail:
    """The user's open sessions, every grant they had, and the latest events by or about them."""
    now = utcnow()
    candidates = db.scalars(
        select(Session)
        .where(Session.user_id == user.id, Session.revoked_at.is_(None), Session.expires_at > now)
        .order_by(Session.last_seen_at.desc())
    )
    grants = db.scalars(
        select(Grant).where(Grant.user_id == user.id).order_by(Grant.created_at.desc())
    )
    trail = db.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.target == user.subject, AuditEvent.actor == user.subject))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(TRAIL_LENGTH)
    )
    return UserDetail(
        user=user,
        sessions=[s for s in candidates if session_is_live(s, now)],
        grants=list(grants),
        trail=list(trail),
        pending=[intent for intent, _user in pending_list(db, user.id)],
    )


def user_json(user: User) -> dict[str, object]:
    return {
        "subject": user.subject,
        "email": user.email,
        "name": user.name,
        "picture": user.picture,
        "tier": user.tier,
        "roles": list(user.roles or []),
        "blocked": user.blocked,
        "deleted": user.deleted_at is not None,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "last_login_at": iso(user.last_login_at),
        "last_synced_at": iso(user.last_synced_at),
        "deleted_at": iso(user.deleted_at),
    }


def grant_json(grant: Grant, now: datetime | None = None) -> dict[str, object]:
    return {
        "id": grant.id,
        "product": grant.product,
        "granted_by": grant.granted_by,
        "created_at": iso(grant.created_at),
        "expires_at": iso(grant.expires_at),
        "revoked_at": iso(grant.revoked_at),
        "state": grant_state(grant, now or utcnow()),
    }


def session_json(session: Session) -> dict[str, object]:
    return {
        "created_at": iso(session.created_at),
        "last_seen_at": iso(session.last_seen_at),
        "expires_at": iso(session.expires_at),
        "user_agent": session.user_agent,
        "ip_address": session.ip_address,
    }


def event_json(event: AuditEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "occurred_at": iso(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "source": event.source,
        "details": event.details,
    }


def detail_json(detail: UserDetail) -> dict[str, object]:
    now = utcnow()
    return {
        "user": user_json(detail.user),
        "sessions": [session_json(s) for s in detail.sessions],
        "grants": [grant_json(g, now) for g in detail.grants],
        "audit": [event_json(e) for e in detail.trail],
    }


@dataclass(frozen=True)
class Reach:
    """How many users a product lets in: by their tier, and by a grant above their tier."""

    by_tier: int
    by_grant: int

    @property
    def total(self) -> int:
        return self.by_tier + self.by_grant


def product_reach(db: DbSession, products: Sequence[ProductState]) -> dict[str, Reach]:
    """Users who can open each served product; blocked and deleted users open nothing."""
    allowed = (User.blocked.is_(False), User.deleted_at.is_(None))
    per_tier = Counter(
        dict(db.execute(select(User.tier, func.count()).where(*allowed).group_by(User.tier)).all())
    )
    now = utcnow()
    granted = db.execute(
        select(Grant.product, User.tier, func.count(func.distinct(Grant.user_id)))
        .join(User, User.id == Grant.user_id)
        .where(
            *allowed,
            Grant.revoked_at.is_(None),
            (Grant.expires_at.is_(None)) | (Grant.expires_at > now),
        )
        .group_by(Grant.product, User.tier)
    ).all()
    reach = {}
    for product in products:
        if product.status == "excluded":
            continue
        needed = product.info.tier
        by_tier = sum(n for tier, n in per_tier.items() if _tier_opens(tier, needed))
        by_grant = sum(
            n
            for key, tier, n in granted
            if key == product.info.key and not _tier_opens(tier, needed)
        )
        reach[product.info.key] = Reach(by_tier, by_grant)
    return reach


def _tier_opens(value: str, needed: Tier) -> bool:
    try:
        return Tier.parse(value).opens(needed)
    except ValueError:
        return False
