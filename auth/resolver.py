"""Who is making this request: the session cookie, resolved to a user, through a short cache.

Every product request passes through here, so the answer is cached in-process for a few seconds
(``identity_cache_seconds``). That bounds how long a revoked session, a block or a lowered tier can
still be honoured on a worker, and keeps the Gate from querying the database on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.http import parse_cookie

from auth.identity import PortalUser
from auth.sessions import COOKIE_NAME, TOUCH_INTERVAL, SessionStore, session_key
from db.models import Session, User, utcnow
from db.users import to_portal_user

MAX_CACHED = 10_000


@dataclass(frozen=True)
class Identity:
    user: PortalUser
    blocked: bool
    session_id: str
    logout_token: str


class IdentityResolver:
    def __init__(self, store: SessionStore, cache_seconds: float) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._lock = threading.Lock()

    def session_id(self, environ: dict) -> str | None:
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        return self.store.id_from_cookie(cookies.get(COOKIE_NAME))

    def resolve(self, environ: dict) -> Identity | None:
        raw_id = self.session_id(environ)
        if raw_id is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(raw_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        identity = self._load(raw_id)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
            self._cache[raw_id] = (now + self.cache_seconds, identity)
        return identity

    def forget(self, raw_id: str) -> None:
        """Drop a session from this worker's cache at once (sign-out, block on this worker)."""
        with self._lock:
            self._cache.pop(raw_id, None)

    def _load(self, raw_id: str) -> Identity | None:
        now = utcnow()
        with self.store.database.transaction() as db:
            found = db.execute(
                select(Session, User)
                .join(User, Session.user_id == User.id)
                .where(Session.id == session_key(raw_id))
            ).one_or_none()
            if found is None:
                return None
            session, user = found
            if not self.store.is_live(session, now):
                return None
            if session.last_seen_at < now - TOUCH_INTERVAL:
                session.last_seen_at = now
            return Identity(
                user=to_portal_user(user),
                blocked=user.blocked,
                session_id=raw_id,
                logout_token=self.store.logout_token(raw_id),
            )
