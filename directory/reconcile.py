"""Finishing or abandoning changes left half made between the identity provider and the table.

An admin's change is written down as an intent (`db.intents`) before the provider is called, and
closed in the transaction that writes the user's row and audit event. A fault in between (the
database gone after the provider said yes, the provider not answering) leaves the intent
pending. The reconciler asks the provider what it holds for that user now: when it holds the
change, the change is applied here with its audit event; when it does not, the intent is
abandoned, and the row follows whatever the provider holds, so the two agree either way. Its
audit events name the admin who asked and the path they asked through (`requested_via`), with
`reconcile` as their source. It runs at start and on the sync scheduler's ticks in every
process, and from `portal users reconcile`; closing an intent is conditional, so two
reconcilers never both act on one.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from auth.sessions import SessionStore
from db import intents
from db.audit import Source, record
from db.engine import Database
from db.models import ChangeIntent, User, utcnow
from directory.changes import Held, change_to
from directory.management import ManagementClient, ManagementError, UserNotFound

log = logging.getLogger(__name__)

#: A younger intent may belong to a request still waiting for the provider: left alone.
SETTLE_AFTER = timedelta(minutes=2)
#: Who the audit log names when the row follows the provider after an abandoned change.
RECONCILE_ACTOR = "portal-reconcile"


class Reconciler:
    def __init__(
        self, database: Database, client: ManagementClient, sessions: SessionStore
    ) -> None:
        self.database = database
        self.client = client
        self.sessions = sessions

    def run(self, settle_after: timedelta = SETTLE_AFTER) -> Counter[str]:
        """Settle every pending intent older than `settle_after`; counts of how each ended
        ("done", "abandoned", "pending" when the provider could not be asked, "settled
        elsewhere" when another process closed it first)."""
        outcomes: Counter[str] = Counter()
        for intent, user in intents.pending(self.database, utcnow() - settle_after):
            try:
                outcomes[self.settle(intent, user)] += 1
            except ManagementError as error:
                log.warning("change %s stays pending: %s", intent.id, error)
                outcomes[intents.PENDING] += 1
        if outcomes:
            log.info("reconciled pending changes: %s", dict(outcomes))
        return outcomes

    def settle(self, intent: ChangeIntent, user: User, held: Held | None = None) -> str:
        """Finish or abandon one intent by what the provider holds (read now unless given)."""
        change = change_to(intent.change, intent.to_value)
        if held is None:
            try:
                held = change.held(self.client, user.subject)
            except UserNotFound:
                return self._abandon(intent, user, None)
        if held.value == intent.to_value:
            return self._complete(intent, user, held)
        return self._abandon(intent, user, held)

    def _complete(self, intent: ChangeIntent, user: User, held: Held) -> str:
        change = change_to(intent.change, intent.to_value)
        details = {"requested_via": intent.source, "intent": intent.id}
        with self.database.transaction() as db:
            if not intents.close(db, intent.id, intents.DONE, "completed by reconciliation"):
                return "settled elsewhere"
            row = db.get(User, user.id)
            wrote = change.write(
                db, row, held, actor=intent.actor, source=Source.RECONCILE, details=details
            )
            if not wrote:
                record(
                    db,
                    actor=intent.actor,
                    action="user.change_completed",
                    target=row.subject,
                    details={**_asked(intent), **details},
                    source=Source.RECONCILE,
                )
        change.announce(self.sessions, user.id)
        return intents.DONE

    def _abandon(self, intent: ChangeIntent, user: User, held: Held | None) -> str:
        holds = "no such user" if held is None else held.value
        reason = f"Auth0 holds {holds}, not {intent.to_value}"
        details = {"requested_via": intent.source, "intent": intent.id}
        with self.database.transaction() as db:
            if not intents.close(db, intent.id, intents.ABANDONED, reason):
                return "settled elsewhere"
            row = db.get(User, user.id)
            record(
                db,
                actor=intent.actor,
                action="user.change_abandoned",
                target=row.subject,
                details={**_asked(intent), **details, "provider_holds": holds},
                source=Source.RECONCILE,
            )
            followed = held is not None and change_to(intent.change, held.value).write(
                db, row, held, actor=RECONCILE_ACTOR, source=Source.RECONCILE, details=details
            )
        if followed:
            change_to(intent.change, holds).announce(self.sessions, user.id)
        return intents.ABANDONED


def _asked(intent: ChangeIntent) -> dict:
    return {"change": intent.change, "from": intent.from_value, "to": intent.to_value}
