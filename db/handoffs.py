"""One-time codes for host mode's cookie handoff: written once, taken once, then worthless."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from db.engine import Database
from db.models import HostHandoff, utcnow


def add_handoff(
    database: Database,
    code_hash: str,
    *,
    sealed_session: str,
    host: str,
    state_hash: str,
    next_path: str,
    lifetime: timedelta,
) -> None:
    with database.transaction() as db:
        db.add(
            HostHandoff(
                code_hash=code_hash,
                sealed_session=sealed_session,
                host=host,
                state_hash=state_hash,
                next_path=next_path,
                expires_at=utcnow() + lifetime,
            )
        )


def take_handoff(
    database: Database, code_hash: str, host: str, state_hash: str
) -> tuple[str, str] | None:
    """The sealed session and the path to go on to, if the code is for `host` and for the
    browser holding the state `state_hash` names, unexpired and unused; marking it used is one
    conditional UPDATE, so two workers can't both take it."""
    now = utcnow()
    with database.transaction() as db:
        taken = db.execute(
            update(HostHandoff)
            .where(
                HostHandoff.code_hash == code_hash,
                HostHandoff.host == host,
                HostHandoff.state_hash == state_hash,
                HostHandoff.used_at.is_(None),
                HostHandoff.expires_at > now,
            )
            .values(used_at=now)
        ).rowcount
        if taken != 1:
            return None
        row = db.execute(
            select(HostHandoff.sealed_session, HostHandoff.next_path).where(
                HostHandoff.code_hash == code_hash
            )
        ).one()
        return row.sealed_session, row.next_path


def purge_handoffs(database: Database, *, before: datetime) -> int:
    with database.transaction() as db:
        return db.execute(delete(HostHandoff).where(HostHandoff.expires_at < before)).rowcount
