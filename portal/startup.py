"""What must be true before the portal serves: an instance folder and an up-to-date schema."""

from __future__ import annotations

import os

from db.engine import make_engine
from db.migrate import pending_revisions, upgrade
from portal.settings import ConfigError, Settings


def prepare_instance(settings: Settings) -> None:
    """Development applies pending migrations itself; production refuses to run on an old schema.

    In production migrations are a deliberate step (`portal db upgrade`), run once before the
    new release starts, never by each of N workers racing each other.
    """
    if not settings.production:
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        return
    engine = make_engine(settings.database_url)
    try:
        if pending_revisions(engine, settings.database_url):
            raise ConfigError(
                "the database schema is behind this release: run `portal db upgrade` first"
            )
    finally:
        engine.dispose()


def allow_plain_http_in_development(settings: Settings) -> None:
    """authlib refuses OAuth over plain http except on loopback; development may use any host."""
    if not settings.production and settings.base_url.startswith("http://"):
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
