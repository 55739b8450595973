"""Change intents: the record, committed before the identity provider is called, that lets a
change interrupted half way be finished or abandoned later (`directory.reconcile`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import ChangeIntent, User, utcnow

PENDING = "pending"
DONE = "done"
REFUSED = "refused"
ABANDONED = "abandoned"


def open_intent(
    database: Database,
    user: User,
    *,
    change: str,
    from_value: str,
    to_value: str,
    actor: str,
    source: str,
) -> ChangeIntent:
    """Write the intent down in a transaction of its own: it must outlive what follows."""
    with database.transaction() as db:
        intent = ChangeIntent(
            user_id=user.id,
            change=change,
            from_value=from_value,
            to_value=to_value,
            actor=actor[:255],
            source=source,
            state=PENDING,
            created_at=utcnow(),
            outcome="",
        )
        db.add(intent)
    return intent


def close(db: Session, intent_id: int, state: str, outcome: str = "") -> bool:
    """Close the intent in the caller's transaction, unless someone closed it first (False).

    Done is final; an intent the reconciler abandoned may still be closed as done, by a request
    whose provider call was only slow. The conditional update also locks the row, so two
    reconcilers (every worker runs one) never both act on one intent."""
    closable = [PENDING, ABANDONED] if state == DONE else [PENDING]
    result = db.execute(
        update(ChangeIntent)
        .where(ChangeIntent.id == intent_id, ChangeIntent.state.in_(closable))
        .values(state=state, finished_at=utcnow(), outcome=outcome[:255])
    )
    return result.rowcount == 1


def pending(database: Database, created_before: datetime) -> Sequence[tuple[ChangeIntent, User]]:
    """Pending intents begun before `created_before`, oldest first, with their users."""
    with database.transaction() as db:
        return db.execute(
            select(ChangeIntent, User)
            .join(User, User.id == ChangeIntent.user_id)
            .where(ChangeIntent.state == PENDING, ChangeIntent.created_at < created_before)
            .order_by(ChangeIntent.created_at, ChangeIntent.id)
        ).all()


def pending_list(
    db: Session, user_id: int | None = None, limit: int = 20
) -> Sequence[tuple[ChangeIntent, User]]:
    """The oldest pending intents (of one user, when given), with their users, for the console."""
    query = select(ChangeIntent, User).join(User, User.id == ChangeIntent.user_id)
    if user_id is not None:
        query = query.where(ChangeIntent.user_id == user_id)
    query = query.where(ChangeIntent.state == PENDING).order_by(ChangeIntent.id).limit(limit)
    return db.execute(query).all()


def pending_count(db: Session) -> int:
    return db.scalar(
        select(func.count()).select_from(ChangeIntent).where(ChangeIntent.state == PENDING)
    )
