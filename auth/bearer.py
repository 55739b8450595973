"""Bearer access tokens for scripts and CLIs: `Authorization: Bearer <JWT>` on any product mount.

A token is accepted only when it is an RS256 JWT signed by one of the issuer's current keys, for
the configured API audience, unexpired and already valid (a small leeway for clock skew). The
algorithm allow-list is fixed before the token is looked at, so `none` and HS256-signed-with-the-
public-key tokens never reach a verifier.

The issuer's key set is cached. It is fetched when the portal starts and kept fresh by a
background thread (every hour; after a failure again within seconds, backing off to
`RETRY_AT_MOST_EVERY`). An unknown `kid` (a key rotated in at the issuer) triggers a refetch, but
at most once a minute, so random `kid`s cannot make the portal hammer the issuer; a failed fetch
keeps the keys already known, so an outage at the issuer does not stop scripts. While no key is
known at all (the issuer has not answered since the start), tokens cannot be checked either way:
that is :class:`IssuerKeysUnavailable`, a 503 with `Retry-After`, not a refusal.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import requests

from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles
from auth.tiers import TIER_NAMES, Tier

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 30
KEYS_LIFETIME = 3600.0
REFETCH_AT_MOST_EVERY = 60.0
FIRST_RETRY_AFTER = 0.5
RETRY_AT_MOST_EVERY = 10.0
HTTP_TIMEOUT = 5.0


class BearerError(Exception):
    """The token is refused; the message says why, for the 401 answer."""


class IssuerKeysUnavailable(BearerError):
    """No signing key of the issuer is known yet, so no token can be checked: try again soon."""

    retry_after = int(RETRY_AT_MOST_EVERY)


class IssuerKeys:
    """The issuer's signing keys by `kid`, cached, refreshed on rotation, kept through outages."""

    def __init__(
        self,
        jwks_uri: Callable[[], str],
        *,
        lifetime: float = KEYS_LIFETIME,
        refetch_every: float = REFETCH_AT_MOST_EVERY,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = HTTP_TIMEOUT,
    ) -> None:
        self._jwks_uri = jwks_uri
        self._lifetime = lifetime
        self._refetch_every = refetch_every
        self._clock = clock
        self._timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failures = 0
        self._lock = threading.Lock()
        self._known = threading.Event()
        self._refresher: threading.Thread | None = None
        self.fetches = 0

    def start(self) -> None:
        """Fetch the keys now and keep them fresh in the background, so no request waits on the
        issuer and a failed fetch at start is retried within seconds, not at the next request."""
        with self._lock:
            if self._refresher is not None:
                return
            self._refresher = threading.Thread(
                target=self._refresh_forever, name="portal-issuer-keys", daemon=True
            )
        self._refresher.start()

    def wait_known(self, seconds: float) -> bool:
        """Whether some key is known, waiting up to `seconds` for the refresher's first good
        fetch (not at all when nothing fetches in the background)."""
        if self._refresher is None:
            return self._known.is_set()
        return self._known.wait(seconds)

    def key(self, kid: str) -> jwt.PyJWK:
        now = self._clock()
        with self._lock:
            fetch = self._wants_fetch(kid, now)
            if fetch:
                self._attempted_at = now
        if fetch:
            self._fetch()
        with self._lock:
            found = self._keys.get(kid)
            known = bool(self._keys)
        if found is not None:
            return found
        if not known:
            raise IssuerKeysUnavailable("the issuer's signing keys could not be fetched yet")
        raise BearerError("the token was signed with a key the issuer does not publish")

    def _wants_fetch(self, kid: str, now: float) -> bool:
        """An unknown kid (a rotation) or stale keys, within the refetch limits; the refresher,
        when running, alone fetches at start and on expiry."""
        stale = self._fetched_at is None or now - self._fetched_at > self._lifetime
        if kid in self._keys and not stale:
            return False
        if self._refresher is not None and (not self._keys or kid in self._keys):
            return False
        if self._attempted_at is None:
            return True
        wait = self._refetch_every if self._keys else self._retry_after()
        return now - self._attempted_at >= wait

    def _retry_after(self) -> float:
        return min(FIRST_RETRY_AFTER * 2 ** max(0, self._failures - 1), RETRY_AT_MOST_EVERY)

    def _refresh_forever(self) -> None:
        while True:
            fetched = self._fetch()
            with self._lock:
                wait = self._lifetime if fetched else self._retry_after()
            time.sleep(wait)

    def _fetch(self) -> bool:
        """One fetch; the keys are replaced only by a good answer. Outside the lock: requests
        keep using the known keys while it waits on the issuer."""
        try:
            response = requests.get(self._jwks_uri(), timeout=self._timeout)
            response.raise_for_status()
            keys = {
                key.key_id: key
                for key in jwt.PyJWKSet.from_dict(response.json()).keys
                if key.key_id and key.algorithm_name in ALGORITHMS
            }
        except (requests.RequestException, ValueError, KeyError, jwt.PyJWKSetError) as error:
            with self._lock:
                self.fetches += 1
                self._failures += 1
                if self._failures == 1:
                    log.warning(
                        "could not refresh the issuer's keys, keeping %d: %s",
                        len(self._keys),
                        error,
                    )
            return False
        with self._lock:
            self.fetches += 1
            if self._failures:
                log.warning("fetched the issuer's keys again after %d failures", self._failures)
            self._keys = keys
            self._fetched_at = self._clock()
            self._failures = 0
        self._known.set()
        return True


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    tier: Tier
    expires_at: float
    #: What the token was granted, from its `scope` claim alone. Auth0 (RBAC, "add permissions
    #: in the access token") lists every permission of the user's roles in `permissions`
    #: whatever was asked for, so only `scope` says what this token was meant for.
    scopes: frozenset[str] = frozenset()


def token_tier(claims: dict, roles_claim: str, tier_roles: TierRoles = DEFAULT_TIER_ROLES) -> Tier:
    """The tier a token carries: roles in the namespaced claim (named as `tier_roles` says), or
    `access:<tier>` permissions (the API's own, always named after the tiers)."""
    best = tier_roles.tier_of(claims.get(roles_claim) or [])
    granted = list(claims.get("permissions") or []) + str(claims.get("scope") or "").split()
    for permission in granted:
        if isinstance(permission, str) and permission.startswith("access:"):
            name = permission.removeprefix("access:")
            if name in TIER_NAMES and Tier(name).rank > best.rank:
                best = Tier(name)
    return best


class BearerVerifier:
    """Checks tokens for the portal's API; `admin_scope` is what admin products want of one."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: IssuerKeys,
        roles_claim: str,
        admin_scope: str,
        tier_roles: TierRoles = DEFAULT_TIER_ROLES,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.roles_claim = roles_claim
        self.admin_scope = admin_scope
        self.tier_roles = tier_roles

    def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise BearerError("the token is not a well-formed JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise BearerError(f"tokens must be signed with RS256, not {header.get('alg')!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise BearerError("the token names no signing key (kid)")
        try:
            claims = jwt.decode(
                token,
                self.keys.key(kid),
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise BearerError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise BearerError("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise BearerError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise BearerError("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise BearerError("the token's signature does not verify") from None
        except jwt.InvalidTokenError as error:
            raise BearerError(f"the token is invalid: {error}") from None
        return TokenClaims(
            subject=str(claims["sub"]),
            tier=token_tier(claims, self.roles_claim, self.tier_roles),
            expires_at=float(claims["exp"]),
            scopes=frozenset(str(claims.get("scope") or "").split()),
        )


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
