"""Questions about past and running syncs, as the schedulers ask them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.engine import Database
from db.models import SyncRun, utcnow


def sync_due(database: Database, interval: timedelta) -> bool:
    """No sync succeeded within `interval` and none is running now."""
    with database.transaction() as db:
        recent = db.scalar(
            select(SyncRun.id)
            .where(
                (SyncRun.status == "running")
                | ((SyncRun.status == "succeeded") & (SyncRun.started_at > utcnow() - interval))
            )
            .limit(1)
        )
    return recent is None


def ever_synced(database: Database) -> bool:
    """Some sync succeeded once: there is something to be incremental to."""
    with database.transaction() as db:
        found = db.scalar(select(SyncRun.id).where(SyncRun.status == "succeeded").limit(1))
    return found is not None
