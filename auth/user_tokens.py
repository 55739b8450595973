"""The signed-in user's tokens, kept in their server-side session, and the tokens products get.

Sign-in leaves an access token for the portal's own API, a refresh token and an ID token in the
session row, sealed (Fernet, with a key derived from the secret key), never in a cookie. The
portal's own access token never reaches a product: it opens every product mount, so a product
holding it could act anywhere in the portal as whoever visits it. A product gets a token for the
API it declares instead (`audience` and `scope` in its product.toml), from a refresh grant that
names that audience (Auth0's multi-resource refresh tokens), kept in the same sealed store, one
per audience and scope, until it nears expiry.

A session refreshes once at a time, however many requests ask: threads of one process queue on a
lock per session, and across processes the session row decides (a conditional UPDATE claims the
refresh; the others wait for the new tokens). Every refresh rotates the session's one refresh
token, whichever API it was for, and the rotated one is stored before anyone can use it again.
A refresh the issuer refuses ends the session: the next browser request goes to sign-in, an API
call gets 401.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, replace

import jwt
from cryptography.fernet import Fernet, InvalidToken

from auth.identity import SignInAgain, TokenNotOffered, TokenUnavailable
from auth.sessions import SessionStore

log = logging.getLogger(__name__)

REFRESH_MARGIN = 60.0
CLAIM_SECONDS = 30.0
WAIT_SECONDS = 15.0
_STRIPES = 64


def _expires_at(answer: dict, now: float) -> float:
    return float(answer.get("expires_at") or now + float(answer.get("expires_in") or 0))


@dataclass(frozen=True)
class ApiToken:
    """An access token for one product's API, got with the session's refresh token."""

    access_token: str
    expires_at: float
    issued_at: float

    def fresh(self, now: float) -> bool:
        """Not within the refresh margin of expiry: a minute, or a quarter of a short lifetime."""
        margin = min(REFRESH_MARGIN, max(self.expires_at - self.issued_at, 0) / 4)
        return self.expires_at - margin > now

    @classmethod
    def from_response(cls, answer: dict) -> ApiToken:
        now = time.time()
        return cls(str(answer["access_token"]), _expires_at(answer, now), now)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    id_token: str | None = None
    issued_at: float = 0.0
    #: Product API tokens, by `api_key(audience, scope)`.
    apis: dict[str, ApiToken] = field(default_factory=dict)

    @classmethod
    def from_response(cls, answer: dict) -> TokenSet:
        """The tokens a sign-in's token endpoint answer brings."""
        now = time.time()
        return cls(
            access_token=str(answer["access_token"]),
            expires_at=_expires_at(answer, now),
            issued_at=now,
            refresh_token=answer.get("refresh_token"),
            id_token=answer.get("id_token"),
        )

    def renewed(self, answer: dict, key: str, api: ApiToken | None) -> TokenSet:
        """After a refresh: the rotated refresh token, a newer ID token if one came, and the
        product token it brought (None: the answer was not fit to hand to the product)."""
        return replace(
            self,
            refresh_token=answer.get("refresh_token") or self.refresh_token,
            id_token=answer.get("id_token") or self.id_token,
            apis={**self.apis, key: api} if api else self.apis,
        )


def api_key(audience: str, scope: str) -> str:
    """Where a product token is kept: products asking the same API for the same scope share it."""
    return f"{audience} {scope}".rstrip()


class RefreshRefused(Exception):
    """The issuer said no to the refresh token (expired, revoked, reused): sign in again."""


class TokenVault:
    """Seals token sets for the database; a key derived for this purpose alone."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(f"portal.user-tokens:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, tokens: TokenSet) -> str:
        return self._fernet.encrypt(json.dumps(asdict(tokens)).encode()).decode()

    def open(self, sealed: str) -> TokenSet:
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
            apis = {key: ApiToken(**api) for key, api in data.pop("apis", {}).items()}
            return TokenSet(**data, apis=apis)
        except (InvalidToken, ValueError, TypeError, AttributeError) as error:
            raise TokenUnavailable("the stored tokens cannot be read") from error


def token_audiences(token: str) -> list[str] | None:
    """The `aud` of a JWT access token, unverified (the issuer has just handed it over); None
    for an opaque token, which no API that checks JWTs (the portal's included) accepts."""
    try:
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.InvalidTokenError:
        return None
    if isinstance(audience, str):
        return [audience]
    return [a for a in audience or [] if isinstance(a, str)]


class UserTokens:
    def __init__(
        self,
        store: SessionStore,
        vault: TokenVault,
        refresh: Callable[..., dict],
        *,
        reserved_audiences: Collection[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`refresh(refresh_token, audience=..., scope=...)` redeems a refresh token at the
        issuer; `reserved_audiences` are APIs no product gets a token for."""
        self.store = store
        self.vault = vault
        self.reserved_audiences = frozenset(reserved_audiences)
        self._refresh = refresh
        self._clock = clock
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def tokens(self, raw_id: str) -> TokenSet | None:
        found = self.store.load_tokens(raw_id)
        return self.vault.open(found[0]) if found and found[0] else None

    def access_token(self, raw_id: str, audience: str, scope: str = "") -> str:
        """A valid token for `audience` (and `scope`) as the session's user: the one kept in
        the session, or a new one when it is about to expire."""
        if audience in self.reserved_audiences:
            raise TokenNotOffered(f"{audience!r} is reserved to the portal; no product gets it")
        key = api_key(audience, scope)
        kept = self._fresh(self._current(raw_id)[0], key)
        if kept:
            return kept
        deadline = time.monotonic() + WAIT_SECONDS
        with self._locks[hash(raw_id) % _STRIPES]:
            while True:
                tokens, version = self._current(raw_id)
                kept = self._fresh(tokens, key)
                if kept:
                    return kept
                if self.store.claim_refresh(raw_id, version, CLAIM_SECONDS):
                    return self._refresh_now(raw_id, tokens, version, audience, scope)
                self._wait_for_other_process(raw_id, version, deadline)

    def _fresh(self, tokens: TokenSet, key: str) -> str | None:
        kept = tokens.apis.get(key)
        return kept.access_token if kept and kept.fresh(self._clock()) else None

    def _current(self, raw_id: str) -> tuple[TokenSet, int]:
        found = self.store.load_tokens(raw_id)
        if found is None:
            raise SignInAgain("the session has ended")
        sealed, version = found
        if not sealed:
            raise TokenUnavailable("this session holds no tokens")
        return self.vault.open(sealed), version

    def _refresh_now(
        self, raw_id: str, tokens: TokenSet, version: int, audience: str, scope: str
    ) -> str:
        if not tokens.refresh_token:
            self.store.release_refresh(raw_id)
            raise TokenNotOffered(
                "the sign-in brought no refresh token (is offline_access among OIDC_SCOPES?), "
                "so the portal cannot get tokens for other APIs"
            )
        params = {"audience": audience, "scope": scope} if scope else {"audience": audience}
        try:
            answer = self._refresh(tokens.refresh_token, **params)
        except RefreshRefused as error:
            log.info("refresh refused for a session; ending it: %s", error)
            self.store.revoke(raw_id)
            raise SignInAgain("the identity provider refused to renew the sign-in") from error
        except Exception:
            self.store.release_refresh(raw_id)
            raise
        issued_for = token_audiences(str(answer.get("access_token") or ""))
        fit = issued_for is None or (
            audience in issued_for and not self.reserved_audiences.intersection(issued_for)
        )
        api = ApiToken.from_response(answer) if fit else None
        key = api_key(audience, scope)
        self.store.save_tokens(raw_id, self.vault.seal(tokens.renewed(answer, key, api)), version)
        if api is None:
            raise TokenNotOffered(
                f"the identity provider answered with a token for {' '.join(issued_for or [])!r}, "
                f"not {audience!r}; allow that audience in the application's refresh token "
                "policies"
            )
        return api.access_token

    def _wait_for_other_process(self, raw_id: str, version: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self._current(raw_id)[1] != version:
                return
        raise TokenUnavailable("the token refresh in another process did not finish in time")
