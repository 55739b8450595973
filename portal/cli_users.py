"""`portal users`: sync the users table with Auth0, change tiers or blocks from a terminal, and
settle changes left pending between the two."""

from __future__ import annotations

import getpass
import sys
import time
from datetime import UTC, datetime, timedelta

import click

from auth.tiers import TIER_NAMES, Tier
from db.audit import Source
from db.intents import pending_count
from db.models import SyncRun
from directory.management import DirectoryNotConfigured
from directory.reconcile import SETTLE_AFTER
from directory.sync import SyncError
from directory.user_admin import AdminError, ChangePending
from portal.products.discovery import Discovery
from portal.services import Services
from portal.settings import ConfigError, load_settings
from portal.startup import prepare_instance


def _services() -> Services:
    try:
        settings = load_settings()
        prepare_instance(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    return Services.build(settings, Discovery([], []))


def _actor(value: str | None) -> str:
    return value or f"cli:{getpass.getuser()}"


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class _Bar:
    """A progress bar on a terminal; silence elsewhere (cron, CI logs)."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.phase = ""
        self.bar = None
        self.last = 0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = click.progressbar(length=total, label=f"{phase:>13}", file=sys.stderr)
            self.bar.__enter__()
            self.last = 0
        self.bar.update(done - self.last)
        self.last = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def summary(run: SyncRun, seconds: float) -> str:
    total = run.created + run.updated + run.unchanged
    resumed = f", resuming run {run.resumed_from}" if run.resumed_from else ""
    return (
        f"{run.mode.capitalize()} sync {run.status} in {seconds:.1f} s (run {run.id}{resumed}): "
        f"{total} users seen; created {run.created}, updated {run.updated}, "
        f"deleted {run.deleted}, unchanged {run.unchanged}, failed {run.failed}"
    )


@click.group("users")
def users() -> None:
    """The users table, kept in line with Auth0."""


@users.command("sync")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Only users changed since then (UTC unless a zone is given).",
)
@click.option(
    "--incremental", is_flag=True, help="Only users changed since the last successful sync."
)
def sync(since: datetime | None, incremental: bool) -> None:
    """Bring Auth0's users and roles into the table (full unless --since/--incremental)."""
    services = _services()
    bar = _Bar()
    started = time.monotonic()
    try:
        syncer = services.user_sync(progress=bar)
        if since is not None:
            run = syncer.incremental(_naive_utc(since))
        elif incremental:
            run = syncer.incremental()
        else:
            run = syncer.full()
    except (SyncError, DirectoryNotConfigured) as error:
        bar.close()
        raise click.ClickException(str(error)) from None
    bar.close()
    click.echo(summary(run, time.monotonic() - started))


@users.command("set-tier")
@click.argument("who")
@click.argument("tier", type=click.Choice(TIER_NAMES))
@click.option("--actor", help="Who is making the change, for the audit log.")
def set_tier(who: str, tier: str, actor: str | None) -> None:
    """Give WHO (email or Auth0 user id) a tier: in Auth0 first, then here."""
    try:
        user = (
            _services()
            .user_admin()
            .set_tier(who, Tier.parse(tier), actor=_actor(actor), source=Source.CLI)
        )
    except (AdminError, ChangePending, DirectoryNotConfigured) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.email or user.subject} is now {user.tier}.")


@users.command("block")
@click.argument("who")
@click.option("--actor", help="Who is making the change, for the audit log.")
def block(who: str, actor: str | None) -> None:
    """Block WHO in Auth0 and here, and end their sessions."""
    try:
        user = (
            _services().user_admin().set_blocked(who, True, actor=_actor(actor), source=Source.CLI)
        )
    except (AdminError, ChangePending, DirectoryNotConfigured) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.email or user.subject} is blocked; their sessions are ended.")


@users.command("unblock")
@click.argument("who")
@click.option("--actor", help="Who is making the change, for the audit log.")
def unblock(who: str, actor: str | None) -> None:
    """Unblock WHO in Auth0 and here."""
    try:
        user = (
            _services().user_admin().set_blocked(who, False, actor=_actor(actor), source=Source.CLI)
        )
    except (AdminError, ChangePending, DirectoryNotConfigured) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.email or user.subject} is unblocked.")


@users.command("reconcile")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=int(SETTLE_AFTER.total_seconds()),
    show_default=True,
    help="Settle only changes begun at least this many seconds ago (younger ones may still "
    "be waiting for Auth0).",
)
def reconcile(older_than: int) -> None:
    """Finish or abandon the changes left pending between Auth0 and the table."""
    services = _services()
    try:
        outcomes = services.reconciler().run(timedelta(seconds=older_than))
    except DirectoryNotConfigured as error:
        raise click.ClickException(str(error)) from None
    with services.database.transaction() as db:
        left = pending_count(db)
    settled = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
    click.echo(f"Reconciled pending changes: {settled or 'none were due'}; {left} still pending.")
