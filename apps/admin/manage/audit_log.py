"""Reading the audit log: filters, newest-first keyset pages, and a CSV export that streams.

The export walks the log in batches, each in its own short transaction, so a log of millions of
events neither sits in memory nor holds one long read open on the database.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from apps.admin.manage.forms import InputError, parse_moment
from db.engine import Database
from db.models import AuditEvent, User

PAGE_SIZE = 100
EXPORT_BATCH = 1000
KNOWN_ACTIONS = (
    "user.tier_changed",
    "user.blocked",
    "user.unblocked",
    "user.sessions_ended",
    "user.deleted",
    "user.restored",
    "grant.created",
    "grant.revoked",
)
CSV_COLUMNS = ("occurred_at", "actor", "action", "target", "source", "details")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    target: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    older: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilter:
        chosen = cls(**{f.name: (args.get(f.name) or "").strip()[:320] for f in fields(cls)})
        parse_moment("since", chosen.since)
        parse_moment("until", chosen.until)
        if chosen.older:
            _decode(chosen.older)
        return chosen

    def query_args(self, **changes: str) -> dict[str, str]:
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        return {key: value for key, value in values.items() if value}


def _who(db: Session, value: str) -> list[str]:
    """A person as the log names them (their user id), whether given by id or by email."""
    subjects = db.scalars(select(User.subject).where(User.email == value).limit(20)).all()
    return [value, *subjects]


def conditions(db: Session, chosen: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if chosen.actor:
        where.append(AuditEvent.actor.in_(_who(db, chosen.actor)))
    if chosen.target:
        where.append(AuditEvent.target.in_(_who(db, chosen.target)))
    if chosen.action.endswith("."):
        where.append(AuditEvent.action.startswith(chosen.action, autoescape=True))
    elif chosen.action:
        where.append(AuditEvent.action == chosen.action)
    since = parse_moment("since", chosen.since)
    if since is not None:
        where.append(AuditEvent.occurred_at >= since)
    until = parse_moment("until", chosen.until)
    if until is not None:
        where.append(AuditEvent.occurred_at < until)
    return where


def _encode(event: AuditEvent) -> str:
    raw = json.dumps([event.occurred_at.isoformat(), event.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        moment, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(moment), int(ident)
    except (ValueError, TypeError, binascii.Error):
        raise InputError("The page link is damaged; start again from the newest events.") from None


def _older_than(cursor: str) -> ColumnElement[bool]:
    moment, ident = _decode(cursor)
    return or_(
        AuditEvent.occurred_at < moment,
        and_(AuditEvent.occurred_at == moment, AuditEvent.id < ident),
    )


def _newest_first(db: Session, where: list[ColumnElement[bool]], limit: int) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(*where)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.scalars(query))


def find_events(db: Session, chosen: AuditFilter) -> tuple[list[AuditEvent], str | None]:
    """A page of events, newest first, and the cursor of the next (older) page if there is one."""
    where = conditions(db, chosen)
    if chosen.older:
        where.append(_older_than(chosen.older))
    rows = _newest_first(db, where, PAGE_SIZE + 1)
    events = rows[:PAGE_SIZE]
    return events, _encode(events[-1]) if len(rows) > PAGE_SIZE else None


def emails_of(db: Session, events: list[AuditEvent]) -> dict[str, str]:
    """Emails of the people the events name, so the page can say who rather than an id."""
    subjects = {e.actor for e in events} | {e.target for e in events}
    rows = db.execute(select(User.subject, User.email).where(User.subject.in_(subjects)))
    return {subject: email for subject, email in rows if email}


def _cell(value: str) -> str:
    """Spreadsheets run a cell that starts like a formula; a leading quote keeps it text."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_rows(database: Database, chosen: AuditFilter) -> Iterator[str]:
    """The filtered log as CSV text, newest first, one batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor = ""
    while True:
        with database.transaction() as db:
            where = conditions(db, chosen)
            if cursor:
                where.append(_older_than(cursor))
            batch = _newest_first(db, where, EXPORT_BATCH)
        for event in batch:
            writer.writerow(
                [
                    event.occurred_at.isoformat() + "Z",
                    _cell(event.actor),
                    _cell(event.action),
                    _cell(event.target),
                    event.source,
                    _cell(json.dumps(event.details, sort_keys=True)),
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < EXPORT_BATCH:
            return
        cursor = _encode(batch[-1])
