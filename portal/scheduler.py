"""Incremental syncs every few minutes, from inside the portal's own processes.

Every worker on every node runs this loop, but a sync starts only when none succeeded within the
interval and none is running, so the cluster as a whole syncs about once per interval without a
separate scheduler to deploy. The sync's own run bookkeeping keeps two ticks from overlapping.

The same loop settles admin changes left half made between Auth0 and the table
(`directory.reconcile`): once when the process starts, then before every tick. It runs wherever
the portal can reach the Management API, with the incremental sync switched off too (`sync`
False: then only reconciling, every `RECONCILE_INTERVAL`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from db.sync_runs import ever_synced, sync_due
from directory.management import ManagementError
from directory.sync import SyncError
from portal.services import Services

log = logging.getLogger(__name__)

#: How often the loop reconciles when no incremental sync sets its pace.
RECONCILE_INTERVAL = timedelta(minutes=5)


class IncrementalSyncScheduler:
    def __init__(self, services: Services, interval: timedelta, *, sync: bool = True) -> None:
        self.services = services
        self.interval = interval
        self.sync = sync

    def due(self) -> bool:
        """No sync succeeded within the interval and none is running now."""
        return sync_due(self.services.database, self.interval)

    def tick(self) -> str:
        """One look at the clock: 'ran', 'skipped' (not due) or 'failed' (logged). The very first
        sync of a new installation is a full one: there is nothing to be incremental to."""
        if not self.due():
            return "skipped"
        syncer = self.services.user_sync()
        try:
            ran_before = ever_synced(self.services.database)
            run = syncer.incremental() if ran_before else syncer.full()
        except SyncError as error:
            log.warning("scheduled incremental sync did not run: %s", error)
            return "failed"
        log.info("scheduled %s sync: run %s, %s updated", run.mode, run.id, run.updated)
        return "ran"

    def reconcile(self) -> int:
        """Settle the pending changes old enough to settle; how many were settled. A provider
        or database that fails is logged: the changes stay pending for the next time."""
        try:
            outcomes = self.services.reconciler().run()
        except (ManagementError, SQLAlchemyError) as error:
            log.warning("pending changes were not reconciled: %s", error)
            return 0
        return sum(count for outcome, count in outcomes.items() if outcome != "pending")

    def start(self) -> None:
        """Ticks for as long as the process lives (a daemon thread: it ends with the worker)."""
        threading.Thread(target=self._loop, name="incremental-sync", daemon=True).start()

    def _loop(self) -> None:
        seconds = self.interval.total_seconds()
        self._survive(self.reconcile)
        while True:
            time.sleep(seconds * random.uniform(0.9, 1.1))
            self._survive(self.reconcile)
            if self.sync:
                self._survive(self.tick)

    @staticmethod
    def _survive(step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:
            log.exception("the incremental sync scheduler failed; it will try again")
