"""`portal users ...` as an operator runs it: a real process against a real provider."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from db.engine import Database
from db.models import AuditEvent, SyncRun, User
from portal.config import PROJECT_ROOT
from tests.support.databases import BACKENDS, database_url_for
from tests.support.idp import MANAGEMENT_CLIENT, start_idp

pytestmark = pytest.mark.site

USERS = 3_000


def directory_of(tmp_path, people: int):
    server = start_idp(tmp_path / "idp.sqlite3")
    server.store.import_users(
        {
            "user_id": f"auth0|cli{n:05d}",
            "email": f"cli{n}@example.org",
            "name": f"Cli {n}",
            "roles": ["ea"] if n % 3 == 0 else [],
        }
        for n in range(people)
    )
    return server


@pytest.fixture
def idp(tmp_path):
    """A directory past the Management API's 1,000-result cap: what a full sync pages through."""
    server = directory_of(tmp_path, USERS)
    yield server
    server.stop()


@pytest.fixture
def small_idp(tmp_path):
    """A directory of a few people, for the commands that change one of them."""
    server = directory_of(tmp_path, 10)
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path_factory):
    with database_url_for(request.param, tmp_path_factory) as url:
        yield url


def environment(idp, database_url, tmp_path, **extra):
    return {
        **os.environ,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "OIDC_ISSUER": idp.issuer,
        "OIDC_CLIENT_ID": "portal-tests",
        "OIDC_CLIENT_SECRET": "portal-tests-secret",
        "AUTH0_MANAGEMENT_CLIENT_ID": MANAGEMENT_CLIENT[0],
        "AUTH0_MANAGEMENT_CLIENT_SECRET": MANAGEMENT_CLIENT[1],
        **extra,
    }


def portal(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def table(database_url):
    database = Database(database_url)
    with database.transaction() as db:
        rows = {r.subject: (r.email, r.tier) for r in db.execute(select(User)).scalars()}
        runs = db.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    database.dispose()
    return rows, runs


def audit(database_url, subject):
    database = Database(database_url)
    with database.transaction() as db:
        events = [
            (e.actor, e.action, e.details, e.source)
            for e in db.scalars(select(AuditEvent).where(AuditEvent.target == subject))
        ]
    database.dispose()
    return events


def test_sync_prints_a_summary_and_records_the_run(idp, database_url, tmp_path):
    result = portal("users", "sync", env=environment(idp, database_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"{USERS + 4} users seen; created {USERS + 4}, updated 0, deleted 0" in result.stdout
    rows, runs = table(database_url)
    assert len(rows) == USERS + 4
    assert [(run.mode, run.status) for run in runs] == [("full", "succeeded")]


def test_a_killed_sync_resumes_where_it_stopped_and_ends_with_the_same_table(
    idp, database_url, tmp_path
):
    env = environment(idp, database_url, tmp_path, PORTAL_SYNC_BATCH_SIZE="10")
    portal("db", "upgrade", env=env)
    process = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "users", "sync"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = Database(database_url)
    offset, deadline = 0, time.monotonic() + 120
    while offset < 500 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
        with database.transaction() as db:
            cursor = db.scalar(select(SyncRun.cursor).order_by(SyncRun.id.desc()).limit(1))
        offset = (cursor or {}).get("offset", 0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    database.dispose()
    rows_at_kill, runs = table(database_url)
    assert runs[0].status == "running"
    assert 500 <= runs[0].cursor["offset"] < USERS + 4
    assert len(rows_at_kill) == runs[0].cursor["offset"]

    result = portal("users", "sync", env=env)
    assert result.returncode == 0, result.stderr
    assert f"resuming run {runs[0].id}" in result.stdout
    rows, runs = table(database_url)
    assert [run.status for run in runs] == ["interrupted", "succeeded"]
    assert runs[0].created + runs[1].created == USERS + 4
    expected = {
        f"auth0|cli{n:05d}": (f"cli{n}@example.org", "ea" if n % 3 == 0 else "stable")
        for n in range(USERS)
    }
    assert {k: v for k, v in rows.items() if k.startswith("auth0|cli")} == expected


def test_set_tier_from_the_command_line(small_idp, database_url, tmp_path):
    env = environment(small_idp, database_url, tmp_path)
    portal("users", "sync", env=env)
    result = portal("users", "set-tier", "cli1@example.org", "devel", "--actor", "ops", env=env)
    assert (result.returncode, result.stdout) == (0, "cli1@example.org is now devel.\n")
    assert small_idp.store.get_user("auth0|cli00001").roles == ("devel",)
    assert audit(database_url, "auth0|cli00001") == [
        ("ops", "user.tier_changed", {"from": "stable", "to": "devel"}, "cli")
    ]


def test_reconcile_settles_a_change_left_pending_and_says_so(small_idp, database_url, tmp_path):
    env = environment(small_idp, database_url, tmp_path)
    portal("users", "sync", env=env)
    small_idp.controls.faults.fail("/api/v2/users/*/roles", 400, times=1, method="DELETE")
    small_idp.controls.faults.fail("/api/v2/users/*/roles", 400, times=1, method="GET")
    result = portal("users", "set-tier", "cli1@example.org", "devel", "--actor", "ops", env=env)
    assert result.returncode == 1
    assert "could not be asked what it holds now" in result.stderr
    assert "the change is pending (change 1)" in result.stderr

    result = portal("users", "reconcile", "--older-than", "0", env=env)
    assert (result.returncode, result.stdout) == (
        0,
        "Reconciled pending changes: abandoned 1; 0 still pending.\n",
    )
    abandoned = {"change": "tier", "from": "stable", "to": "devel", "requested_via": "cli"}
    assert audit(database_url, "auth0|cli00001") == [
        (
            "ops",
            "user.change_abandoned",
            {**abandoned, "intent": 1, "provider_holds": "stable"},
            "reconcile",
        )
    ]


def test_set_tier_refused_by_auth0_exits_non_zero_with_the_reason(
    small_idp, database_url, tmp_path
):
    env = environment(small_idp, database_url, tmp_path)
    portal("users", "sync", env=env)
    small_idp.controls.faults.fail("/api/v2/users/*/roles", 403, times=20)
    result = portal("users", "set-tier", "cli1@example.org", "devel", env=env)
    assert result.returncode == 1
    assert "Auth0 refused to set the tier of cli1@example.org (" in result.stderr
    assert "Nothing was changed here; the change is pending (change 1)" in result.stderr
    assert table(database_url)[0]["auth0|cli00001"] == ("cli1@example.org", "stable")


def test_sync_without_management_credentials_names_the_settings(small_idp, database_url, tmp_path):
    env = environment(small_idp, database_url, tmp_path)
    del env["AUTH0_MANAGEMENT_CLIENT_ID"]
    result = portal("users", "sync", env=env)
    assert result.returncode == 1
    assert "set AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET" in result.stderr
