"""The parts of one portal process, built once and shared by the portal app and the Gates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from auth.resolver import IdentityResolver
from auth.sessions import SessionStore
from db.engine import Database
from portal.config import Settings
from portal.discovery import Discovery
from portal.pages import ErrorPages


@dataclass
class Services:
    settings: Settings
    database: Database
    store: SessionStore
    resolver: IdentityResolver
    pages: ErrorPages
    discovery: Discovery

    @classmethod
    def build(cls, settings: Settings, discovery: Discovery) -> Services:
        database = Database(settings.database_url)
        store = SessionStore(
            database,
            settings.secret_key,
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
        )
        return cls(
            settings=settings,
            database=database,
            store=store,
            resolver=IdentityResolver(store, settings.identity_cache_seconds),
            pages=ErrorPages(settings.site_name),
            discovery=discovery,
        )
