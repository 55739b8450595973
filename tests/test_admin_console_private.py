"""Console behaviour that needs a portal of its own: a real full sync (which soft-deletes users
the provider lacks, so it must not run on the shared portal) and the last-admin rule (reachable
only while an admin's identity is still cached after someone demoted them)."""

import time
from dataclasses import replace

import pytest
from sqlalchemy import delete, update

from auth.tiers import Tier
from db.models import SyncRun, User, utcnow
from tests.support.live import private_site
from tests.test_admin_console_helpers import (
    ADMIN_SUBJECT,
    api_call,
    console_url,
    new_user,
    post_form,
    remote,
    row,
)

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A portal of this module's own, its identities cached for five minutes."""
    with private_site(tmp_path_factory, identity_cache_seconds=300) as live:
        yield live


def wait_for_finished_run(portal, admin, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = admin.get(console_url(portal, "/sync/status"), timeout=10).json()["runs"]
        if runs and not runs[0]["live"] and runs[0]["status"] != "running":
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the sync did not finish")


def test_sync_now_runs_a_full_sync_in_the_background(portal, admin):
    subject = portal.idp_store.add_user("synced@example.org", "pw-123456", ["ea"], "Syd Sync")
    answer = post_form(portal, admin, "/sync", allow_redirects=True)
    assert "A full sync has started; this page shows its progress." in answer.text
    run = wait_for_finished_run(portal, admin)
    assert (run["mode"], run["status"], run["error"], run["deleted"]) == (
        "full",
        "succeeded",
        None,
        0,
    )
    assert run["created"] + run["updated"] + run["unchanged"] == 5
    assert (row(portal, subject).tier, row(portal, subject).email) == ("ea", "synced@example.org")
    html = admin.get(console_url(portal, "/sync"), timeout=10).text
    assert f'<tr data-run="{run["id"]}"><td>{run["id"]}</td><td>full</td><td>succeeded</td>' in html


def test_a_running_sync_shows_its_progress_and_refuses_a_second(portal, admin):
    now = utcnow()
    with portal.services.database.transaction() as db:
        running = SyncRun(
            mode="full",
            status="running",
            started_at=now,
            heartbeat_at=now,
            cursor={"offset": 250, "total": 1000, "phase": "users"},
            owner="elsewhere:1",
        )
        db.add(running)
    try:
        status = admin.get(console_url(portal, "/sync/status"), timeout=10).json()
        assert status["running"] is True
        assert (status["runs"][0]["done"], status["runs"][0]["percent"]) == (250, 25)
        html = admin.get(console_url(portal, "/sync"), timeout=10).text
        assert f"Run {running.id} (full) is running: 250 of 1000 users." in html
        refused = api_call(portal, admin, "POST", "/sync")
        assert refused.status_code == 409
        assert refused.json()["message"].startswith(f"A full sync (run {running.id}) is already")
    finally:
        with portal.services.database.transaction() as db:
            db.execute(delete(SyncRun).where(SyncRun.id == running.id))


def test_the_sync_page_shows_the_incremental_schedule(portal, admin, monkeypatch):
    services = portal.services
    html = admin.get(console_url(portal, "/sync"), timeout=10).text
    assert "Off: set <code>PORTAL_INCREMENTAL_SYNC_MINUTES</code>" in html
    console = next(p.app for p in services.discovery.products if p.info.key == "admin/manage")
    monkeypatch.setattr(
        console, "admin_services", replace(console.admin_services, incremental_sync_minutes=15)
    )
    html = admin.get(console_url(portal, "/sync"), timeout=10).text
    assert '<p id="schedule">Every 15 minutes' in html
    assert api_call(portal, admin, "GET", "/sync").json()["schedule"]["every_minutes"] == 15


def test_the_last_admin_can_be_neither_lowered_nor_blocked(portal, admin):
    other, email = new_user(portal, ["admin"], "Otto Other")
    admin.get(console_url(portal, "/"), timeout=10)
    # Demoted behind this worker's back (by another node while Redis was away): an announced
    # change would end the acting admin's access at once, and with it this test.
    with portal.services.database.transaction() as db:
        db.execute(update(User).where(User.subject == ADMIN_SUBJECT).values(tier=Tier.DEVEL.value))

    lowered = post_form(portal, admin, f"/users/{other}/tier", {"tier": "ea", "confirm": "yes"})
    assert lowered.status_code == 409
    assert (
        f"{email} is the last admin: make someone else admin before you lower the tier of them."
        in lowered.text
    )
    blocked = api_call(portal, admin, "POST", f"/users/{other}/block")
    assert (blocked.status_code, blocked.json()["message"]) == (
        409,
        f"{email} is the last admin: make someone else admin before you block them.",
    )
    assert (row(portal, other).tier, row(portal, other).blocked) == ("admin", False)
    assert (remote(portal, other).roles, remote(portal, other).blocked) == (("admin",), False)
