"""The "sync now" button: a full sync in a background thread, and what the page polls.

A full sync of a large tenant takes minutes, longer than any request should, so it runs in a
thread of the worker that took the click. Progress is read back from the run's row (its cursor
holds `offset` and `total`), not from this thread, so a poll answered by any worker sees it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from apps.admin.manage.errors import ConsoleError
from apps.admin.manage.formatting import iso
from db.models import SyncRun, utcnow
from directory.management import DirectoryNotConfigured
from directory.sync import SyncError, UserSync
from directory.sync_runs import STALE_AFTER
from kit.admin import AdminServices

log = logging.getLogger(__name__)

RECENT_RUNS = 20


def is_live(run: SyncRun, now: datetime) -> bool:
    """Running, and its worker has been heard from recently (a dead one stops heartbeating)."""
    return run.status == "running" and run.heartbeat_at > now - STALE_AFTER


class SyncRunner:
    """At most one console-started sync per process; the run rows stop two across processes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, services: AdminServices) -> None:
        try:
            sync = services.user_sync(None)
        except DirectoryNotConfigured as error:
            raise ConsoleError(503, str(error)) from error
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise ConsoleError(409, "A full sync started from the console is still running.")
            with services.database.transaction() as db:
                running = [run for run in latest_runs(db, 5) if is_live(run, utcnow())]
            if running:
                run = running[0]
                raise ConsoleError(
                    409,
                    f"A {run.mode} sync (run {run.id}) is already running since "
                    f"{run.started_at:%Y-%m-%d %H:%M} UTC.",
                )
            self._thread = threading.Thread(
                target=self._run, args=(sync,), name="console-full-sync", daemon=True
            )
            self._thread.start()

    @staticmethod
    def _run(sync: UserSync) -> None:
        try:
            sync.full()
        except SyncError as error:
            log.warning("full sync from the console failed: %s", error)
        except Exception:
            log.exception("full sync from the console failed")

    def join(self, timeout: float | None = None) -> None:
        """Wait for the running sync, if any (tests, and an orderly shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def latest_runs(db: Session, limit: int = RECENT_RUNS) -> list[SyncRun]:
    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    return list(db.scalars(query))


def run_json(run: SyncRun, now: datetime | None = None) -> dict[str, object]:
    cursor = run.cursor or {}
    done, total = cursor.get("offset"), cursor.get("total")
    return {
        "id": run.id,
        "mode": run.mode,
        "status": run.status,
        "live": is_live(run, now or utcnow()),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "heartbeat_at": iso(run.heartbeat_at),
        "created": run.created,
        "updated": run.updated,
        "deleted": run.deleted,
        "unchanged": run.unchanged,
        "failed": run.failed,
        "error": run.error,
        "phase": cursor.get("phase"),
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if done is not None and total else None,
    }


def schedule(minutes: int, runs: list[SyncRun]) -> dict[str, object]:
    """The incremental schedule as the settings give it, and when the next run is about due."""
    if minutes <= 0:
        return {"enabled": False, "every_minutes": 0, "last_at": None, "next_at": None}
    last = next((run for run in runs if run.mode == "incremental"), None)
    next_at = last.started_at + timedelta(minutes=minutes) if last is not None else None
    return {
        "enabled": True,
        "every_minutes": minutes,
        "last_at": last.started_at if last else None,
        "next_at": next_at,
    }
