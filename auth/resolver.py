"""Who is making this request: the session cookie, resolved to a user, through a short cache.

Every product request passes through here, so the answer is cached in-process for a few seconds
(`identity_cache_seconds`). That bounds how long a revoked session, a block or a lowered tier can
still be honoured on a worker, and keeps the Gate from querying the database on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from auth.bearer import BearerError, BearerVerifier, token_fingerprint
from auth.identity import PortalUser, ProductInfo
from auth.sessions import COOKIE_NAME, SessionStore
from auth.tiers import Tier
from db.users import to_portal_user, user_with_grants

MAX_CACHED = 10_000


@dataclass(frozen=True)
class Identity:
    user: PortalUser
    blocked: bool
    session_id: str
    logout_token: str
    grants: frozenset[str] = frozenset()
    #: The scopes of the bearer token this identity came with; a session has none.
    scopes: frozenset[str] = frozenset()

    def opens(self, product: ProductInfo) -> bool:
        """The user's tier opens the product, or an admin granted this one product to them;
        admin products hold the portal's own services, so only the admin tier opens them."""
        if self.user.tier.opens(product.tier):
            return True
        return product.tier is not Tier.ADMIN and product.key in self.grants


class IdentityResolver:
    """Cookie -> Identity; `forget` and `end_session` make this worker drop an answer at once."""

    def __init__(
        self,
        store: SessionStore,
        cache_seconds: float,
        bearer: BearerVerifier | None = None,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.bearer = bearer
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._cookies: dict[str, str] = {}
        self._forgotten = 0
        self._lock = threading.Lock()

    def resolve(self, environ: dict) -> Identity | None:
        """The cache is keyed by the cookie as sent, so a hit costs no parsing or signature
        check; only a miss verifies the signature (and a bad one is never cached)."""
        cookie = session_cookie(environ)
        if not cookie:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(cookie)
            generation = self._forgotten
        if hit is not None and hit[0] > now:
            return hit[1]
        raw_id = self.store.id_from_cookie(cookie)
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
                self._cookies = {r: c for r, c in self._cookies.items() if c in self._cache}
            self._cache[cookie] = (now + self.cache_seconds, identity)
            self._cookies[raw_id] = cookie
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
        portal_user = to_portal_user(user)
        tier = min(claims.tier, portal_user.tier, key=lambda t: t.rank)
        identity = Identity(
            user=replace(portal_user, tier=tier),
            blocked=user.refused,
            session_id="",
            logout_token="",
            grants=grants,
            scopes=claims.scopes,
        )
        lifetime = min(self.cache_seconds, claims.expires_at - time.time())
        with self._lock:
            self._cache[key] = (now + lifetime, identity)
        return identity

    def forget(self, raw_id: str) -> None:
        """Drop a session from this worker's cache, including answers being loaded right now."""
        with self._lock:
            self._cache.pop(self._cookies.pop(raw_id, ""), None)
            self._forgotten += 1

    def end_session(self, raw_id: str) -> None:
        """Revoke in the database first, then forget, so no load in between can bring it back."""
        self.store.revoke(raw_id)
        self.forget(raw_id)

    def _load(self, raw_id: str) -> Identity | None:
        found = self.store.load_with_user(raw_id)
        if found is None:
            return None
        user = found.user
        return Identity(
            user=to_portal_user(user),
            blocked=user.refused,
            session_id=raw_id,
            logout_token=self.store.logout_token(raw_id),
            grants=found.grants,
        )


def session_cookie(environ: dict) -> str | None:
    """The portal's session cookie as sent; a plain split, since its value never needs quoting."""
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME:
            return value or None
    return None
