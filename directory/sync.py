"""Keeping the users table in line with Auth0: full, incremental and single-user syncs.

Auth0 wins for identity fields and roles; the portal keeps its own fields (last login, sessions).
A full sync reads role membership role by role, then streams the bulk export (the only way past
the Management API's 1000-result cap) in batches of `batch_size`: each batch and the checkpoint
that records it commit in one transaction, so a crash loses at most the batch in flight and the
next run resumes from the checkpoint. Users the export no longer contains are soft-deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import chain, islice

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from auth.tier_roles import TierRoles
from db.audit import Source, record
from db.engine import Database
from db.models import SyncRun, User, utcnow
from directory.management import (
    ExportExpired,
    ManagementClient,
    ManagementError,
    RemoteUser,
    TooManyResults,
    UserNotFound,
)
from directory.sync_runs import Outcome, RunAlreadyLive, SyncRuns

log = logging.getLogger(__name__)

BATCH_SIZE = 500
INCREMENTAL_OVERLAP = timedelta(minutes=1)
SYNC_ACTOR = "auth0-sync"

Progress = Callable[[str, int, int | None], None]


class SyncError(RuntimeError):
    """A sync could not start or finish; the message says why (and the run row keeps it)."""


def _identity(remote: RemoteUser, roles: tuple[str, ...], tier_roles: TierRoles) -> dict:
    return {
        "email": remote.email[:320],
        "name": remote.name[:255],
        "picture": remote.picture[:2048],
        "blocked": remote.blocked,
        "roles": sorted(roles),
        "tier": tier_roles.tier_of(roles).value,
    }


class UserSync:
    def __init__(
        self,
        database: Database,
        client: ManagementClient,
        *,
        batch_size: int = BATCH_SIZE,
        progress: Progress | None = None,
        export_poll_seconds: float = 1.0,
        changed: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.batch_size = batch_size
        self.export_poll_seconds = export_poll_seconds
        self.progress = progress or (lambda _phase, _done, _total: None)
        #: Told which users changed after each commit, so every process re-reads them at once.
        self.changed = changed or (lambda _user_ids: None)
        self.runs = SyncRuns(database)

    # -- runs -------------------------------------------------------------------------------

    def full(self) -> SyncRun:
        """Mirror every Auth0 user, resuming an interrupted full sync when there is one."""
        run, cursor = self._begin("full", resume=True)
        return self._guarded(run, lambda: self._full(run, cursor))

    def incremental(self, since: datetime | None = None) -> SyncRun:
        """Only users changed since `since` (default: the last successful sync's start)."""
        if since is None:
            since = self.runs.last_success_start()
            if since is None:
                raise SyncError("no successful sync yet: run a full sync first (portal users sync)")
            since -= INCREMENTAL_OVERLAP
        run, _ = self._begin("incremental", resume=False, since=since)
        return self._guarded(run, lambda: self._incremental(run, since))

    def one(self, user_id: str, *, source: Source = Source.WEBHOOK) -> str:
        """Re-read one user from Auth0: 'created', 'updated', 'unchanged' or 'deleted'."""
        try:
            remote = self.client.get_user(user_id)
            roles = self.client.user_roles(user_id)
        except UserNotFound:
            return self._gone(user_id, source)
        except ManagementError as error:
            raise SyncError(f"could not re-read {user_id} from Auth0: {error}") from error
        outcome = Outcome()
        with self.database.transaction() as db:
            self._apply(db, [remote], {remote.user_id: roles}, utcnow(), outcome, source)
        self.changed(outcome.changed)
        if outcome.created:
            return "created"
        return "updated" if outcome.updated else "unchanged"

    def _gone(self, user_id: str, source: Source) -> str:
        """Auth0 no longer has the user: soft-delete the row, keeping its history."""
        with self.database.transaction() as db:
            gone = db.scalars(
                select(User).where(User.subject == user_id, User.deleted_at.is_(None))
            ).one_or_none()
            if gone is None:
                return "unchanged"
            self._soft_delete(db, [(gone.id, gone.subject)], source)
        self.changed([gone.id])
        return "deleted"

    # -- the work ---------------------------------------------------------------------------

    def _full(self, run: SyncRun, cursor: dict) -> None:
        membership = self._membership()
        cursor["total"] = total = self.client.count_users()
        users = self._export(cursor)
        snapshot_at = datetime.fromisoformat(cursor["snapshot_at"])
        done = cursor.get("offset", 0)
        for batch in _batches(users, self.batch_size):
            outcome = Outcome()
            with self.database.transaction() as db:
                self._apply(db, batch, membership, utcnow(), outcome, Source.SYNC)
                done += len(batch)
                cursor["offset"] = done
                self.runs.checkpoint(db, run, outcome, cursor)
            self.changed(outcome.changed)
            self.progress("users", done, total)
        cursor["phase"] = "deletions"
        self._delete_missing(run, snapshot_at, cursor)

    def _export(self, cursor: dict) -> Iterator[RemoteUser]:
        """The export to read: the checkpoint's job from its offset, or a new one from the start.

        `snapshot_at` is when the export was asked for: users the portal created after it (at
        sign-in) are missing from the file for that reason only, and must not be deleted.
        """
        if cursor.get("job_id"):
            _job, users = self.client.export_users_from(
                cursor["job_id"], cursor.get("offset", 0), poll_interval=self.export_poll_seconds
            )
            try:
                first = next(users, None)
            except ExportExpired:
                log.warning("export %s expired; starting a new one", cursor["job_id"])
            else:
                return chain([first] if first is not None else [], users)
        cursor.update(snapshot_at=utcnow().isoformat(), offset=0, phase="users")
        cursor["job_id"], users = self.client.export_users_from(
            None, 0, poll_interval=self.export_poll_seconds
        )
        return users

    def _incremental(self, run: SyncRun, since: datetime) -> None:
        """Changed users only; when more changed than a search can return, a full sync instead."""
        changed = self.client.updated_since(since)
        try:
            first = next(changed, None)
        except TooManyResults:
            log.info("more users changed since %s than a search returns: syncing in full", since)
            with self.database.transaction() as db:
                db.execute(update(SyncRun).where(SyncRun.id == run.id).values(mode="full"))
            run.mode = "full"
            self._full(run, {})
            return
        done = 0
        for batch in _batches(chain([first] if first else [], changed), self.batch_size):
            roles = {remote.user_id: self.client.user_roles(remote.user_id) for remote in batch}
            outcome = Outcome()
            with self.database.transaction() as db:
                self._apply(db, batch, roles, utcnow(), outcome, Source.SYNC)
                done += len(batch)
                self.runs.checkpoint(db, run, outcome, {"since": since.isoformat(), "done": done})
            self.changed(outcome.changed)
            self.progress("changed users", done, None)

    def _membership(self) -> dict[str, tuple[str, ...]]:
        """Role names per user id, read role by role (the export carries no roles)."""
        members: dict[str, list[str]] = {}
        for name in sorted(self.client.role_ids()):
            for user_id in self.client.users_of_role(name):
                members.setdefault(user_id, []).append(name)
            self.progress("roles", len(members), None)
        interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        return {
            user_id: interned.setdefault(tuple(sorted(names)), tuple(sorted(names)))
            for user_id, names in members.items()
        }

    def _apply(
        self,
        db: Session,
        batch: list[RemoteUser],
        membership: dict[str, tuple[str, ...]],
        now: datetime,
        outcome: Outcome,
        source: Source,
    ) -> None:
        """Upsert one batch in a few statements: read it, insert the new, update the changed."""
        wanted = {remote.user_id: remote for remote in batch if remote.user_id}
        outcome.failed += len(batch) - len(wanted)
        columns = (
            User.id,
            User.subject,
            User.email,
            User.name,
            User.picture,
            User.blocked,
            User.roles,
            User.tier,
            User.deleted_at,
        )
        existing = {
            row.subject: row
            for row in db.execute(select(*columns).where(User.subject.in_(list(wanted))))
        }
        inserts, updates = [], []
        for subject, remote in wanted.items():
            fields = _identity(remote, membership.get(subject, ()), self.client.tier_roles)
            row = existing.get(subject)
            if row is None:
                inserts.append(
                    {
                        "subject": subject,
                        **fields,
                        "created_at": now,
                        "updated_at": now,
                        "last_synced_at": now,
                    }
                )
                outcome.created += 1
                continue
            current = {key: getattr(row, key) for key in fields}
            current["roles"] = sorted(current["roles"] or [])
            if current == fields and row.deleted_at is None:
                outcome.unchanged += 1
                continue
            updates.append({"id": row.id, **fields, "deleted_at": None, "updated_at": now})
            outcome.updated += 1
            outcome.changed.append(row.id)
            self._audit_changes(db, subject, current, fields, row.deleted_at, source)
        if inserts:
            db.execute(insert(User), inserts)
        if updates:
            db.execute(update(User), updates)
        db.execute(update(User).where(User.subject.in_(list(wanted))).values(last_synced_at=now))

    def _audit_changes(
        self,
        db: Session,
        subject: str,
        before: dict,
        after: dict,
        deleted_at: datetime | None,
        source: Source,
    ) -> None:
        if before["tier"] != after["tier"]:
            record(
                db,
                actor=SYNC_ACTOR,
                action="user.tier_changed",
                target=subject,
                details={"from": before["tier"], "to": after["tier"]},
                source=source,
            )
        if before["blocked"] != after["blocked"]:
            action = "user.blocked" if after["blocked"] else "user.unblocked"
            record(db, actor=SYNC_ACTOR, action=action, target=subject, source=source)
        if deleted_at is not None:
            record(db, actor=SYNC_ACTOR, action="user.restored", target=subject, source=source)

    def _delete_missing(self, run: SyncRun, snapshot_at: datetime, cursor: dict) -> None:
        """Soft-delete users the export did not contain (and that existed before it was taken)."""
        while True:
            with self.database.transaction() as db:
                rows = db.execute(
                    select(User.id, User.subject)
                    .where(
                        User.deleted_at.is_(None),
                        User.created_at < snapshot_at,
                        (User.last_synced_at.is_(None)) | (User.last_synced_at < snapshot_at),
                    )
                    .limit(self.batch_size)
                ).all()
                outcome = Outcome(deleted=len(rows))
                self._soft_delete(db, [(row.id, row.subject) for row in rows], Source.SYNC)
                self.runs.checkpoint(db, run, outcome, cursor)
            self.changed([row.id for row in rows])
            if len(rows) < self.batch_size:
                return

    def _soft_delete(self, db: Session, rows: Iterable[tuple[int, str]], source: Source) -> None:
        rows = list(rows)
        if not rows:
            return
        db.execute(
            update(User)
            .where(User.id.in_([user_id for user_id, _ in rows]))
            .values(deleted_at=utcnow())
        )
        for _user_id, subject in rows:
            record(db, actor=SYNC_ACTOR, action="user.deleted", target=subject, source=source)
    def _begin(self, mode: str, **options: object) -> tuple[SyncRun, dict]:
        try:
            return self.runs.start(mode, **options)  # type: ignore[arg-type]
        except RunAlreadyLive as error:
            raise SyncError(str(error)) from None

    def _guarded(self, run: SyncRun, work: Callable[[], None]) -> SyncRun:
        """Run the work and close the run row either way, with the reason when it failed."""
        try:
            work()
        except (ManagementError, SyncError) as error:
            self.runs.finish(run, "failed", str(error))
            raise SyncError(f"{run.mode} sync failed: {error}") from error
        except Exception as error:
            self.runs.finish(run, "failed", f"{type(error).__name__}: {error}")
            raise
        return self.runs.finish(run, "succeeded", None)


def _batches(items: Iterable[RemoteUser], size: int) -> Iterator[list[RemoteUser]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
