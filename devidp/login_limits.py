"""Failed sign-ins at the provider's login form, limited per account and per client address.

Auth0 answers password guessing with brute-force protection; the development provider stands in
for it, so it limits the same thing: failed password POSTs. Two limits, each over a sliding
window, either switched off with 0:

- per account: a few failures for one email (default 5 in 5 minutes) lock that email's form,
  whoever tries, so a guesser spread over many addresses still gets a handful of guesses;
- per address: many failures from one client address (default 30 a minute), whatever emails it
  tries, so one client cannot sweep through accounts.

Over a limit the form answers 429 with ``Retry-After`` and the same words whether or not the
email belongs to anyone: failures are counted for any email, existing or not, and the account
lock also holds back the right password until the window has passed (otherwise the lock would
tell a guesser the moment they found it). A successful sign-in clears its account's failures.

The counts live in the provider's own store, so every gunicorn worker sharing it sees the same
counts. The check and the record are separate statements, so workers racing at the very edge of a
limit may let one or two extra attempts through; the limit is a brake on guessing, not a quota.
Emails are kept only as SHA-256 digests. The address is ``request.remote_addr``: behind a proxy
it is right only when the portal is told to trust that proxy (PORTAL_TRUSTED_PROXIES).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from .models import LoginFailure

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Limit:
    """At most ``count`` failures per ``window`` seconds; ``count`` 0 switches it off."""

    count: int
    window: int

    @property
    def enabled(self) -> bool:
        return self.count > 0 and self.window > 0


class LoginLimiter:
    """Counts failed sign-ins and says how long a client must wait before trying again.

    ``clock`` is wall-clock seconds (shared by every process using the store); tests replace it.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        per_account: Limit,
        per_address: Limit,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self.per_account = per_account
        self.per_address = per_address
        self.clock = clock

    def retry_after(self, address: str, email: str) -> int:
        """Seconds until this address may try this email again; 0 when it may try now."""
        now = self.clock()
        with self._sessions() as db:
            return max(
                (
                    self._wait(db, kind, key, limit, now)
                    for kind, key, limit in self._keys(address, email)
                ),
                default=0,
            )

    def record_failure(self, address: str, email: str) -> None:
        """Count a failed attempt against the address and the email; forget expired ones."""
        now = self.clock()
        with self._sessions.begin() as db:
            for kind, key, limit in self._keys(address, email):
                db.execute(
                    delete(LoginFailure).where(
                        LoginFailure.kind == kind,
                        LoginFailure.key == key,
                        LoginFailure.at <= now - limit.window,
                    )
                )
                db.add(LoginFailure(kind=kind, key=key, at=now))

    def record_success(self, email: str) -> None:
        """The right password (within the limits) clears the account's failures."""
        if not self.per_account.enabled:
            return
        with self._sessions.begin() as db:
            db.execute(
                delete(LoginFailure).where(
                    LoginFailure.kind == ACCOUNT, LoginFailure.key == _account_key(email)
                )
            )

    def _keys(self, address: str, email: str) -> list[tuple[str, str, Limit]]:
        keys = []
        if self.per_account.enabled:
            keys.append((ACCOUNT, _account_key(email), self.per_account))
        if self.per_address.enabled:
            keys.append((ADDRESS, address or "unknown", self.per_address))
        return keys

    @staticmethod
    def _wait(db: Session, kind: str, key: str, limit: Limit, now: float) -> int:
        """Over the limit: until the failure whose expiry brings the count back under it (the
        ``count``-th most recent in the window) leaves the window."""
        recent = db.scalars(
            select(LoginFailure.at)
            .where(
                LoginFailure.kind == kind,
                LoginFailure.key == key,
                LoginFailure.at > now - limit.window,
            )
            .order_by(LoginFailure.at.desc())
            .limit(limit.count)
        ).all()
        if len(recent) < limit.count:
            return 0
        return max(1, math.ceil(recent[-1] + limit.window - now))


def _account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()
