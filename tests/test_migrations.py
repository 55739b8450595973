"""The Alembic revisions and the SQLAlchemy models describe the same schema, on both databases."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from db.engine import make_engine
from db.migrate import pending_revisions, upgrade
from db.models import Base
from tests.support.databases import BACKENDS, database_url_for

pytestmark = pytest.mark.unit


@pytest.fixture(params=BACKENDS)
def migrated_url(request, tmp_path_factory):
    with database_url_for(request.param, tmp_path_factory) as url:
        upgrade(url)
        yield url


def test_the_models_match_the_migrated_schema(migrated_url):
    engine = make_engine(migrated_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_a_migrated_database_has_no_pending_revisions(migrated_url):
    engine = make_engine(migrated_url)
    assert pending_revisions(engine, migrated_url) is False
    engine.dispose()


def test_upgrading_twice_changes_nothing(migrated_url):
    upgrade(migrated_url)
    engine = make_engine(migrated_url)
    assert sorted(inspect(engine).get_table_names()) == [
        "alembic_version",
        "audit_events",
        "change_intents",
        "grants",
        "host_handoffs",
        "product_moves",
        "seen_logout_tokens",
        "sessions",
        "sync_runs",
        "users",
    ]
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_users_signed_in_before_the_mirror_columns_keep_their_rows(backend, tmp_path_factory):
    with database_url_for(backend, tmp_path_factory) as url:
        upgrade(url, "0001")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (subject, email, name, tier, roles, blocked, created_at,"
                    " updated_at) VALUES ('auth0|old', 'old@example.org', 'Old', 'ea', '[\"ea\"]',"
                    " 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
        upgrade(url)
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT email, tier, picture, deleted_at FROM users WHERE subject = :s"),
                {"s": "auth0|old"},
            ).one()
        engine.dispose()
    assert tuple(row) == ("old@example.org", "ea", "", None)
