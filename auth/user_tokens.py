"""The signed-in user's own tokens, kept in their server-side session, refreshed when needed.

Products call upstream APIs on the user's behalf with `current_user.access_token()`. The tokens
sit encrypted in the session row (Fernet, with a key derived from the secret key), never in a
cookie. When the access token is close to expiry it is refreshed once per session, however many
requests ask at the same moment: threads of one process queue on a lock per session, and across
processes the session row decides (a conditional UPDATE claims the refresh; the others wait for
the new tokens). The rotated refresh token is stored before anyone can use it again. A refresh
the issuer refuses ends the session: the next browser request goes to sign-in, an API call gets
401.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cryptography.fernet import Fernet, InvalidToken

from auth.identity import SignInAgain, TokenUnavailable
from auth.sessions import SessionStore

log = logging.getLogger(__name__)

REFRESH_MARGIN = 60.0
CLAIM_SECONDS = 30.0
WAIT_SECONDS = 15.0
_STRIPES = 64


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    id_token: str | None = None
    issued_at: float = 0.0

    def fresh(self, now: float) -> bool:
        """Not within the refresh margin of expiry: a minute, or a quarter of a short lifetime."""
        margin = min(REFRESH_MARGIN, max(self.expires_at - self.issued_at, 0) / 4)
        return self.expires_at - margin > now

    @classmethod
    def from_response(cls, answer: dict, previous: TokenSet | None = None) -> TokenSet:
        """Tokens from a token endpoint answer; what it leaves out carries over from before."""
        now = time.time()
        expires_in = float(answer.get("expires_in") or 0)
        expires_at = float(answer.get("expires_at") or now + expires_in)
        return cls(
            access_token=str(answer["access_token"]),
            expires_at=expires_at,
            issued_at=now,
            refresh_token=answer.get("refresh_token") or (previous and previous.refresh_token),
            id_token=answer.get("id_token") or (previous and previous.id_token),
        )


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
            return TokenSet(**json.loads(self._fernet.decrypt(sealed.encode())))
        except (InvalidToken, ValueError, TypeError) as error:
            raise TokenUnavailable("the stored tokens cannot be read") from error


class UserTokens:
    def __init__(
        self,
        store: SessionStore,
        vault: TokenVault,
        refresh: Callable[[str], dict],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.vault = vault
        self._refresh = refresh
        self._clock = clock
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def tokens(self, raw_id: str) -> TokenSet | None:
        found = self.store.load_tokens(raw_id)
        return self.vault.open(found[0]) if found and found[0] else None

    def access_token(self, raw_id: str) -> str:
        """A valid access token for the session, refreshed first when it is about to expire."""
        current = self._current(raw_id)
        if current[0].fresh(self._clock()):
            return current[0].access_token
        with self._locks[hash(raw_id) % _STRIPES]:
            tokens, version = self._current(raw_id)
            if tokens.fresh(self._clock()):
                return tokens.access_token
            if not self.store.claim_refresh(raw_id, version, CLAIM_SECONDS):
                return self._wait_for_other_process(raw_id, version)
            return self._refresh_now(raw_id, tokens, version)

    def _current(self, raw_id: str) -> tuple[TokenSet, int]:
        found = self.store.load_tokens(raw_id)
        if found is None:
            raise SignInAgain("the session has ended")
        sealed, version = found
        if not sealed:
            raise TokenUnavailable("this session holds no access token")
        return self.vault.open(sealed), version

    def _refresh_now(self, raw_id: str, tokens: TokenSet, version: int) -> str:
        if not tokens.refresh_token:
            self.store.release_refresh(raw_id)
            raise SignInAgain("the access token expired and there is no refresh token")
        try:
            answer = self._refresh(tokens.refresh_token)
        except RefreshRefused as error:
            log.info("refresh refused for a session; ending it: %s", error)
            self.store.revoke(raw_id)
            raise SignInAgain("the identity provider refused to renew the sign-in") from error
        except Exception:
            self.store.release_refresh(raw_id)
            raise
        renewed = TokenSet.from_response(answer, tokens)
        self.store.save_tokens(raw_id, self.vault.seal(renewed), version)
        return renewed.access_token

    def _wait_for_other_process(self, raw_id: str, version: int) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            tokens, now_version = self._current(raw_id)
            if now_version != version:
                return tokens.access_token
        raise TokenUnavailable("the token refresh in another process did not finish in time")
