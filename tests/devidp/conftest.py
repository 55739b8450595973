"""Each test gets its own provider, mounted at /idp like the portal mounts it."""

import shutil

import pytest
from devidp_support import MANAGEMENT_SETTINGS, Idp, Management, make_settings, mount

from devidp import create_dev_idp


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "instance" / "devidp.sqlite3"


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory):
    """One store with its RSA key and demo users, copied per test: key generation is slow."""
    path = tmp_path_factory.mktemp("template") / "devidp.sqlite3"
    create_dev_idp(make_settings(path)).extensions["devidp"].store.engine.dispose()
    return path


def copy_seeded(seeded_db, db_path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        source = seeded_db.with_name(seeded_db.name + suffix)
        if source.exists():
            shutil.copyfile(source, db_path.with_name(db_path.name + suffix))


@pytest.fixture
def app(db_path, seeded_db):
    copy_seeded(seeded_db, db_path)
    return create_dev_idp(make_settings(db_path))


@pytest.fixture
def idp(app) -> Idp:
    return Idp(app, mount(app))


@pytest.fixture
def mgmt(db_path, seeded_db) -> Management:
    """A provider with the Management API enabled, and a client holding a valid token."""
    copy_seeded(seeded_db, db_path)
    app = create_dev_idp(make_settings(db_path, **MANAGEMENT_SETTINGS))
    return Management(app, mount(app))
