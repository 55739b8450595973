"""Test databases: a SQLite file, or a fresh database on the MariaDB server CI provides."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MARIADB_ENV = "PORTAL_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "mariadb")


def mariadb_server_url() -> str:
    """The MariaDB URL for this run; in CI its absence fails the run instead of skipping tests."""
    url = os.environ.get(MARIADB_ENV, "").strip()
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{MARIADB_ENV} must be set in CI: the MariaDB tests are required there")
        pytest.skip(f"{MARIADB_ENV} is not set; MariaDB tests need it (CI sets it)")
    return url


@contextmanager
def fresh_mariadb() -> Iterator[str]:
    """A new, empty database beside the run's own, dropped afterwards whatever happens."""
    base = make_url(mariadb_server_url())
    name = f"{base.database}_{secrets.token_hex(4)}"
    admin = create_engine(base.set(database=None))
    with admin.begin() as connection:
        connection.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@contextmanager
def database_url_for(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
    else:
        with fresh_mariadb() as url:
            yield url
