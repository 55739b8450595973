"""The audit log: one row per change to a user, whoever made it and however it arrived."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from db.models import AuditEvent, utcnow


class Source(StrEnum):
    """The path a change came through; events before these existed say `portal`."""

    CONSOLE = "console"
    API = "api"
    CLI = "cli"
    SYNC = "sync"
    WEBHOOK = "webhook"
    SIGN_IN = "sign-in"
    #: The reconciler finishing or abandoning a change left half made (`directory.reconcile`).
    RECONCILE = "reconcile"


def record(
    db: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    details: dict | None = None,
    source: Source,
) -> AuditEvent:
    """Add an event to the caller's transaction, so the change and its record land together."""
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor[:255],
        action=action,
        target=target[:255],
        details=details or {},
        source=source.value,
    )
    db.add(event)
    return event
