"""The background incremental sync: runs when due, skips otherwise, never crashes the worker."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from auth.tiers import Tier
from db.audit import Source
from db.models import ChangeIntent, SyncRun, utcnow
from directory.reconcile import SETTLE_AFTER
from directory.user_admin import ChangePending
from portal.config import Settings
from portal.products.discovery import Discovery
from portal.scheduler import RECONCILE_INTERVAL, IncrementalSyncScheduler
from portal.services import Services
from tests.support.idp import MANAGEMENT_CLIENT, start_idp

pytestmark = pytest.mark.site


@pytest.fixture
def idp(tmp_path):
    server = start_idp(tmp_path / "idp.sqlite3")
    yield server
    server.stop()


@pytest.fixture
def idp_faults(idp):
    return idp.controls.faults


@pytest.fixture
def services(database, idp):
    settings = Settings(
        secret_key="s" * 40,
        database_url=database.url,
        oidc_issuer=idp.issuer,
        oidc_client_id="portal-tests",
        management_client_id=MANAGEMENT_CLIENT[0],
        management_client_secret=MANAGEMENT_CLIENT[1],
    )
    return Services.build(settings, Discovery([], []))


def runs(services):
    with services.database.transaction() as db:
        return [(r.mode, r.status) for r in db.scalars(select(SyncRun).order_by(SyncRun.id))]


def test_the_first_tick_of_a_new_installation_syncs_in_full(services):
    scheduler = IncrementalSyncScheduler(services, timedelta(minutes=5))
    assert scheduler.tick() == "ran"
    assert runs(services) == [("full", "succeeded")]


def test_a_sync_that_fails_is_reported_and_the_scheduler_keeps_going(services, idp_faults):
    idp_faults.fail("/api/v2/roles*", 403, times=50)
    scheduler = IncrementalSyncScheduler(services, timedelta(minutes=5))
    assert scheduler.tick() == "failed"
    assert runs(services) == [("full", "failed")]


def test_a_recent_sync_makes_the_tick_skip(services):
    services.user_sync().full()
    scheduler = IncrementalSyncScheduler(services, timedelta(minutes=5))
    assert scheduler.tick() == "skipped"
    assert runs(services) == [("full", "succeeded")]


def test_once_the_interval_has_passed_the_tick_runs_an_incremental_sync(services):
    services.user_sync().full()
    scheduler = IncrementalSyncScheduler(services, timedelta(seconds=0))
    assert scheduler.tick() == "ran"
    assert runs(services) == [("full", "succeeded"), ("incremental", "succeeded")]


def leave_a_change_pending(services, idp, idp_faults):
    """A tier change Auth0 refused and could then not be asked about, begun long enough ago."""
    subject = idp.store.add_user("sam@example.org", "pw-123456", [], "Sam")
    services.user_sync().one(subject)
    idp_faults.fail("/api/v2/users/*/roles", 400, times=1, method="DELETE")
    idp_faults.fail("/api/v2/users/*/roles", 400, times=1, method="GET")
    with pytest.raises(ChangePending):
        services.user_admin().set_tier(subject, Tier.EA, actor="cli:ops", source=Source.CLI)


def intent_states(services):
    with services.database.transaction() as db:
        return db.scalars(select(ChangeIntent.state)).all()


def backdate_intents(services):
    with services.database.transaction() as db:
        db.execute(update(ChangeIntent).values(created_at=utcnow() - SETTLE_AFTER))


def test_the_scheduler_settles_changes_left_pending_long_enough(services, idp, idp_faults):
    leave_a_change_pending(services, idp, idp_faults)
    scheduler = IncrementalSyncScheduler(services, timedelta(minutes=5))
    assert scheduler.reconcile() == 0
    backdate_intents(services)
    assert scheduler.reconcile() == 1
    assert intent_states(services) == ["abandoned"]


def test_a_starting_process_settles_pending_changes_even_with_the_sync_switched_off(
    services, idp, idp_faults
):
    leave_a_change_pending(services, idp, idp_faults)
    backdate_intents(services)
    IncrementalSyncScheduler(services, RECONCILE_INTERVAL, sync=False).start()
    deadline = time.monotonic() + 60
    while intent_states(services) == ["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert intent_states(services) == ["abandoned"]
    assert runs(services) == []
