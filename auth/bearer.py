"""Bearer access tokens for scripts and CLIs: `Authorization: Bearer <JWT>` on any product mount.

A token is accepted only when it is an RS256 JWT signed by one of the issuer's current keys, for
the configured API audience, unexpired and already valid (a small leeway for clock skew). The
algorithm allow-list is fixed before the token is looked at, so `none` and HS256-signed-with-the-
public-key tokens never reach a verifier.

The issuer's key set is cached. An unknown `kid` (a key rotated in at the issuer) triggers a
refetch, but at most once a minute, so random `kid`s cannot make the portal hammer the issuer;
a failed fetch keeps the keys already known, so an outage at the issuer does not stop scripts.
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

from auth.tiers import TIER_NAMES, Tier

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 30
KEYS_LIFETIME = 3600.0
REFETCH_AT_MOST_EVERY = 60.0
HTTP_TIMEOUT = 5.0


class BearerError(Exception):
    """The token is refused; the message says why, for the 401 answer."""


class IssuerKeys:
    """The issuer's signing keys by `kid`, cached, refreshed on rotation, kept through outages."""

    def __init__(
        self,
        jwks_uri: Callable[[], str],
        *,
        lifetime: float = KEYS_LIFETIME,
        refetch_every: float = REFETCH_AT_MOST_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks_uri = jwks_uri
        self._lifetime = lifetime
        self._refetch_every = refetch_every
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self._lifetime
            if (kid not in self._keys or stale) and self._may_fetch(now):
                self._fetch(now)
            found = self._keys.get(kid)
        if found is None:
            raise BearerError("the token was signed with a key the issuer does not publish")
        return found

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._refetch_every

    def _fetch(self, now: float) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            response = requests.get(self._jwks_uri(), timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            keys = {
                key.key_id: key
                for key in jwt.PyJWKSet.from_dict(response.json()).keys
                if key.key_id and key.algorithm_name in ALGORITHMS
            }
        except (requests.RequestException, ValueError, KeyError, jwt.PyJWKSetError) as error:
            log.warning(
                "could not refresh the issuer's keys, keeping %d: %s", len(self._keys), error
            )
            return
        self._keys = keys
        self._fetched_at = now


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    tier: Tier
    expires_at: float
    #: What the token was granted, from its `scope` claim alone. Auth0 (RBAC, "add permissions
    #: in the access token") lists every permission of the user's roles in `permissions`
    #: whatever was asked for, so only `scope` says what this token was meant for.
    scopes: frozenset[str] = frozenset()


def token_tier(claims: dict, roles_claim: str) -> Tier:
    """The tier a token carries: roles in the namespaced claim, or `access:<tier>` permissions."""
    names = [r for r in claims.get(roles_claim) or [] if isinstance(r, str)]
    granted = list(claims.get("permissions") or []) + str(claims.get("scope") or "").split()
    names += [
        p.removeprefix("access:")
        for p in granted
        if isinstance(p, str)
        and p.startswith("access:")
        and p.removeprefix("access:") in TIER_NAMES
    ]
    return Tier.from_roles(names)


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
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.roles_claim = roles_claim
        self.admin_scope = admin_scope

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
            tier=token_tier(claims, self.roles_claim),
            expires_at=float(claims["exp"]),
            scopes=frozenset(str(claims.get("scope") or "").split()),
        )


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
