"""Who is making this request: the session cookie, resolved to a user, through a short cache.

Every product request passes through here, so the answer is cached in-process for a few seconds
(`identity_cache_seconds`). That keeps the Gate from querying the database on every request. A
change to a session or user is announced to every process (:mod:`auth.invalidation`), which drops
its copy at once; the cache lifetime bounds how long a revoked session, a block or a lowered tier
can still be honoured on a worker that did not hear (Redis away).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from auth.bearer import BearerError, BearerVerifier, token_fingerprint
from auth.cookies import sent_session_cookie
from auth.hosts import Origins
from auth.sessions import EndReason, SessionStore, session_key
from auth.users import Identity, identity_from_row
from db.users import user_with_grants

MAX_CACHED = 10_000


class IdentityResolver:
    """Cookie -> Identity; `forget*` and `end_session` make this worker drop answers at once."""

    def __init__(
        self,
        store: SessionStore,
        cache_seconds: float,
        origins: Origins,
        bearer: BearerVerifier | None = None,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.origins = origins
        self.bearer = bearer
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        #: Each session's cache keys: one per host it has a cookie for (host mode has many).
        self._cookies: dict[str, set[str]] = {}
        self._forgotten = 0
        self._lock = threading.Lock()

    def resolve(self, environ: dict) -> Identity | None:
        """The cache is keyed by the cookie as sent (which names its host), so a hit costs no
        parsing or signature check; only a miss verifies the signature (and a bad one is never
        cached). More than one session cookie raises TamperedCookies."""
        cookie = sent_session_cookie(environ, self.origins)
        if cookie is None:
            return None
        host = self.origins.request_host(environ)
        key = host + " " + cookie
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            generation = self._forgotten
        if hit is not None and hit[0] > now:
            return hit[1]
        raw_id = self.store.id_from_cookie(cookie, host)
        if raw_id is None:
            return None
        identity = self._load(raw_id)
        with self._lock:
            if generation != self._forgotten:
                return identity
            if len(self._cache) >= MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
                self._cookies = {
                    r: {c for c in keys if c in self._cache} for r, keys in self._cookies.items()
                }
            self._cache[key] = (now + self.cache_seconds, identity)
            self._cookies.setdefault(session_key(raw_id), set()).add(key)
        return identity

    def resolve_bearer(self, token: str) -> Identity:
        """The identity of an access token: its tier is the lower of the token's and the user
        table's (a downgrade applies before the token expires); BearerError when refused."""
        if self.bearer is None:
            raise BearerError("access tokens are not accepted: the portal has no API audience")
        key = "bearer:" + token_fingerprint(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now and hit[1] is not None:
            return hit[1]
        claims = self.bearer.verify(token)
        found = user_with_grants(self.store.database, claims.subject)
        if found is None:
            raise BearerError("the token's user has never signed in to the portal")
        user, grants = found
        identity = identity_from_row(user, grants, tier_cap=claims.tier, scopes=claims.scopes)
        lifetime = min(self.cache_seconds, claims.expires_at - time.time())
        with self._lock:
            self._cache[key] = (now + lifetime, identity)
        return identity

    def forget(self, raw_id: str) -> None:
        """Drop a session from this worker's cache, including answers being loaded right now."""
        self.forget_keys([session_key(raw_id)])

    def forget_keys(self, keys: Iterable[str]) -> None:
        """`forget` by the sessions' stored keys, as other processes announce them."""
        with self._lock:
            for key in keys:
                for cached in self._cookies.pop(key, ()):
                    self._cache.pop(cached, None)
            self._forgotten += 1

    def forget_users(self, user_ids: Iterable[int]) -> None:
        """Drop every cached answer about these users: their sessions and their tokens."""
        wanted = set(user_ids)
        with self._lock:
            stale = [
                key
                for key, (_, identity) in self._cache.items()
                if identity is not None and identity.user.id in wanted
            ]
            for key in stale:
                del self._cache[key]
            self._forgotten += 1

    def end_session(self, raw_id: str, reason: EndReason = EndReason.SIGNED_OUT) -> None:
        """Revoke in the database first, then forget, so no load in between can bring it back."""
        self.store.revoke(raw_id, reason)
        self.forget(raw_id)

    def _load(self, raw_id: str) -> Identity | None:
        found = self.store.load_with_user(raw_id)
        if found is None:
            return None
        return identity_from_row(
            found.user,
            found.grants,
            session_id=raw_id,
            logout_token=self.store.logout_token(raw_id),
            blocked=found.ended_blocked,
        )
