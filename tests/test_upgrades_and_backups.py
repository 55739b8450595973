"""The backup, restore and upgrade commands of docs/how-to/upgrades-and-backups.md, run as written.

Each test makes a database at an older revision holding a user and a signed-in session, runs the
page's backup block, loses the database, runs the restore block (which ends in `portal db
upgrade`) and the upgrade block (a second run, which changes nothing), and checks the schema is
current and the same person is still signed in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from auth.sessions import SessionStore
from db.engine import Database, make_engine
from db.migrate import pending_revisions, upgrade
from db.users import UserRecord, upsert_user
from tests.support.databases import fresh_mariadb
from tests.support.required import unavailable

pytestmark = pytest.mark.unit

PAGE = Path(__file__).resolve().parent.parent / "docs/how-to/upgrades-and-backups.md"
BIN = Path(sys.executable).parent
OLDER_REVISION = "0008"
SECRET = "backup-test-secret-" + "x" * 24
BLOCK = re.compile(r'^```console title="(?P<title>[^"]+)"\n(?P<body>.*?)^```$', re.M | re.S)


def console_block(title: str) -> list[str]:
    """The command lines of the page's console block with this title, without their `$ `."""
    blocks = {match["title"]: match["body"] for match in BLOCK.finditer(PAGE.read_text())}
    lines = blocks[title].splitlines()
    return [line.removeprefix("$ ") for line in lines if line.startswith("$ ")]


def run_block(title: str, cwd: Path, env: dict[str, str]) -> None:
    for command in console_block(title):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def shell_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        DATABASE_URL=database_url,
        PORTAL_INSTANCE_PATH=str(instance),
        SECRET_KEY=SECRET,
        **extra,
    )
    return env


def session_store(database: Database) -> SessionStore:
    return SessionStore(database, SECRET, idle=timedelta(hours=2), lifetime=timedelta(hours=12))


def sign_in_someone(database_url: str) -> str:
    """A database at an older revision with one user signed in; returns the session's id."""
    upgrade(database_url, OLDER_REVISION)
    database = Database(database_url)
    try:
        user = upsert_user(
            database,
            UserRecord(
                subject="auth0|ada", email="ada@example.org", name="Ada", roles=["ea"], tier="ea"
            ),
        )
        return session_store(database).save(None, {"csrf": "kept"}, user.id)
    finally:
        database.dispose()


def assert_current_and_still_signed_in(database_url: str, raw_id: str) -> None:
    engine = make_engine(database_url)
    try:
        assert not pending_revisions(engine, database_url)
    finally:
        engine.dispose()
    database = Database(database_url)
    try:
        signed_in = session_store(database).load_with_user(raw_id)
        assert signed_in is not None
        assert (signed_in.user.email, signed_in.user.tier) == ("ada@example.org", "ea")
        stored = session_store(database).load(raw_id)
        assert stored is not None
        assert stored.data == {"csrf": "kept"}
    finally:
        database.dispose()


def needs(*commands: str) -> None:
    missing = [command for command in commands if shutil.which(command) is None]
    if missing:
        unavailable(f"needs {', '.join(missing)}", "backup and restore")


def test_a_mariadb_backup_restored_into_an_empty_server_keeps_users_and_sessions(
    tmp_path: Path,
) -> None:
    needs("mariadb-dump", "mariadb", "gzip")
    with fresh_mariadb() as database_url:
        url = make_url(database_url)
        raw_id = sign_in_someone(database_url)
        env = shell_env(
            database_url,
            tmp_path / "instance",
            DB_HOST=url.host or "127.0.0.1",
            DB_PORT=str(url.port or 3306),
            DB_USER=url.username or "root",
            DB_NAME=url.database or "",
        )
        if url.password:
            env["MYSQL_PWD"] = url.password

        run_block("Back up MariaDB", tmp_path, env)
        server = create_engine(url.set(database=None))
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE `{url.database}`"))
        server.dispose()
        run_block("Restore MariaDB", tmp_path, env)
        run_block("Upgrade", tmp_path, env)

        assert_current_and_still_signed_in(database_url, raw_id)


def test_a_sqlite_backup_restored_over_a_lost_file_keeps_users_and_sessions(
    tmp_path: Path,
) -> None:
    needs("sqlite3")
    (tmp_path / "instance").mkdir()
    database_url = "sqlite:///instance/portal.sqlite3"
    absolute_url = f"sqlite:///{tmp_path / 'instance/portal.sqlite3'}"
    raw_id = sign_in_someone(absolute_url)
    env = shell_env(database_url, tmp_path / "instance")

    run_block("Back up SQLite", tmp_path, env)
    for lost in (tmp_path / "instance").glob("portal.sqlite3*"):
        lost.unlink()
    run_block("Restore SQLite", tmp_path, env)
    run_block("Upgrade", tmp_path, env)

    assert_current_and_still_signed_in(absolute_url, raw_id)
