"""The `sync_runs` rows of the user sync: starting a run (taking over one whose process died),
checkpoints, and how it ended, so a sync is resumable, never runs twice at once, and leaves a
record of what it did."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth.metrics import SYNC_RUNS, SYNC_USERS
from db.engine import Database
from db.models import SyncRun, utcnow

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)


@dataclass
class Outcome:
    """What one batch (or a whole run) did to the table."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    #: Row ids of users updated or deleted, announced once their transaction has committed.
    changed: list[int] = field(default_factory=list)


class RunAlreadyLive(RuntimeError):
    """A sync of this mode is running now (in a live process, with a fresh heartbeat)."""


class SyncRuns:
    def __init__(self, database: Database) -> None:
        self.database = database

    def start(
        self, mode: str, *, resume: bool, since: datetime | None = None
    ) -> tuple[SyncRun, dict]:
        now = utcnow().replace(microsecond=0)
        with self.database.transaction() as db:
            latest = db.scalars(
                select(SyncRun).where(SyncRun.mode == mode).order_by(SyncRun.id.desc()).limit(1)
            ).one_or_none()
            cursor: dict = {}
            resumed_from = None
            if latest is not None and latest.status == "running":
                if _alive(latest.owner) and latest.heartbeat_at > now - STALE_AFTER:
                    raise RunAlreadyLive(
                        f"a {mode} sync (run {latest.id}) is already running "
                        f"since {latest.started_at}"
                    )
                latest.status = "interrupted"
                latest.finished_at = now
            if resume and latest is not None and latest.status in {"interrupted", "failed"}:
                cursor = dict(latest.cursor or {})
                resumed_from = latest.id if cursor else None
            run = SyncRun(
                mode=mode,
                status="running",
                started_at=now,
                heartbeat_at=now,
                since=since,
                cursor=cursor or None,
                resumed_from=resumed_from,
                owner=_owner(),
            )
            db.add(run)
        if resumed_from:
            log.info("resuming %s sync from run %s at %s", mode, resumed_from, cursor)
        return run, cursor

    def checkpoint(self, db: Session, run: SyncRun, outcome: Outcome, cursor: dict) -> None:
        db.execute(
            update(SyncRun)
            .where(SyncRun.id == run.id)
            .values(
                created=SyncRun.created + outcome.created,
                updated=SyncRun.updated + outcome.updated,
                deleted=SyncRun.deleted + outcome.deleted,
                unchanged=SyncRun.unchanged + outcome.unchanged,
                failed=SyncRun.failed + outcome.failed,
                cursor=dict(cursor),
                heartbeat_at=utcnow(),
            )
        )

    def finish(self, run: SyncRun, status: str, error: str | None) -> SyncRun:
        SYNC_RUNS.labels(run.mode, status).inc()
        with self.database.transaction() as db:
            row = db.get(SyncRun, run.id)
            row.status = status
            row.error = error
            row.finished_at = utcnow()
            if status == "succeeded":
                row.cursor = None
        with self.database.transaction() as db:
            finished = db.get(SyncRun, run.id)
        for outcome in ("created", "updated", "deleted", "unchanged", "failed"):
            SYNC_USERS.labels(outcome).inc(getattr(finished, outcome))
        return finished

    def last_success_start(self) -> datetime | None:
        with self.database.transaction() as db:
            return db.scalar(
                select(SyncRun.started_at)
                .where(SyncRun.status == "succeeded")
                .order_by(SyncRun.started_at.desc())
                .limit(1)
            )


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def _alive(owner: str) -> bool:
    """Whether the process that started a run may still be working on it.

    On this machine the process can be asked directly; a run started elsewhere is presumed alive
    until its heartbeat is older than STALE_AFTER.
    """
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
