"""Signing keys that rotate like an Auth0 tenant's: a new key signs at once, the old one stays
published for a grace period so tokens it signed keep verifying, then it leaves the JWKS.

Everything lives in the store's ``devidp_signing_keys`` table (``generation`` orders the keys,
``retire_at`` says when an older key leaves the JWKS), so every worker process sharing the
database signs with the same key and publishes the same set; no process keeps its own idea of
"current". Times come from ``self.clock`` so tests can jump past a grace period without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import func, inspect, or_, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import SigningKey

#: How long a replaced key stays published unless the caller says otherwise (one hour, long
#: enough for every access and ID token signed with it to expire).
DEFAULT_GRACE_SECONDS = 3600
#: Stores made before keys had ``retire_at`` published the newest two generations; keep that.
_LEGACY_PUBLISHED_GENERATIONS = 2
_KEY_PARAMETERS = {"use": "sig", "alg": "RS256"}


@dataclass(frozen=True)
class KeyInfo:
    """One key as the Management API lists it (never the private part)."""

    kid: str
    generation: int
    created_at: int
    retire_at: int | None
    current: bool


class SigningKeys:
    """Mixin for :class:`~devidp.store.DevIdpStore`: the key table, read by every worker.

    Expects ``self._session`` (a sessionmaker) and ``self.engine``; sets up its own cache.
    """

    _session: sessionmaker[Session]
    #: Seconds since the epoch; replace in tests to travel past a grace period.
    clock: Callable[[], float] = staticmethod(time.time)  # type: ignore[assignment]

    def _init_signing_keys(self) -> None:
        self._keys: dict[str, RSAKey] = {}
        self._upgrade_signing_keys()
        self._ensure_signing_key()

    def _now(self) -> int:
        return int(self.clock())

    def signing_key(self) -> RSAKey:
        """The private key of the newest generation, the one new tokens are signed with."""
        with self._session() as db:
            kid = db.scalar(select(SigningKey.kid).order_by(SigningKey.generation.desc()).limit(1))
        if kid is None:
            self._ensure_signing_key()
            return self.signing_key()
        return self._load_key(kid)

    def signing_key_set(self) -> KeySet:
        """The current key alone, as a set, so joserfc writes its ``kid`` into each header."""
        return KeySet([self.signing_key()])

    def public_jwks(self) -> dict[str, Any]:
        """Every key not yet retired, newest first: what ``/.well-known/jwks.json`` serves."""
        with self._session() as db:
            kids = db.scalars(
                select(SigningKey.kid)
                .where(or_(SigningKey.retire_at.is_(None), SigningKey.retire_at > self._now()))
                .order_by(SigningKey.generation.desc())
            ).all()
        return KeySet([self._load_key(kid) for kid in kids]).as_dict(private=False)

    def signing_keys(self) -> list[KeyInfo]:
        """All keys still published, newest first, with when each one retires."""
        with self._session() as db:
            rows = db.scalars(
                select(SigningKey)
                .where(or_(SigningKey.retire_at.is_(None), SigningKey.retire_at > self._now()))
                .order_by(SigningKey.generation.desc())
            ).all()
        return [
            KeyInfo(r.kid, r.generation, r.created_at, r.retire_at, current=i == 0)
            for i, r in enumerate(rows)
        ]

    def rotate_signing_key(self, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> str:
        """Sign with a new key from now on; older keys retire ``grace_seconds`` from now (a key
        already retiring sooner keeps its earlier date). Returns the new key's ``kid``."""
        if grace_seconds < 0:
            raise ValueError("grace_seconds must be 0 or more")
        while True:
            with self._session() as db:
                newest = db.scalar(select(func.max(SigningKey.generation))) or 0
            kid = self._insert_key(newest + 1)
            if kid is not None:
                break
        retire_at = self._now() + grace_seconds
        with self._session.begin() as db:
            db.execute(
                update(SigningKey)
                .where(
                    SigningKey.generation <= newest,
                    or_(SigningKey.retire_at.is_(None), SigningKey.retire_at > retire_at),
                )
                .values(retire_at=retire_at)
            )
        return kid

    def _ensure_signing_key(self) -> None:
        with self._session() as db:
            exists = db.scalar(select(SigningKey.kid).limit(1)) is not None
        if not exists:
            self._insert_key(1)

    def _insert_key(self, generation: int) -> str | None:
        """Insert a fresh key as ``generation``; None when another process took that number."""
        key = RSAKey.generate_key(2048, parameters=dict(_KEY_PARAMETERS), private=True)
        kid = key.thumbprint()
        pem = key.as_pem(private=True).decode()
        row = SigningKey(kid=kid, generation=generation, private_pem=pem, created_at=self._now())
        try:
            with self._session.begin() as db:
                db.add(row)
        except IntegrityError:
            return None
        return kid

    def _load_key(self, kid: str) -> RSAKey:
        if kid not in self._keys:
            with self._session() as db:
                pem = db.scalar(select(SigningKey.private_pem).where(SigningKey.kid == kid))
            self._keys[kid] = RSAKey.import_key(pem, parameters={"kid": kid, **_KEY_PARAMETERS})
        return self._keys[kid]

    def _upgrade_signing_keys(self) -> None:
        """Give a key table made before rotation had a grace period its ``retire_at`` column,
        retiring all but the two newest keys (what that store published)."""
        engine = self._session.kw["bind"]
        columns = {c["name"] for c in inspect(engine).get_columns(SigningKey.__tablename__)}
        if "retire_at" in columns:
            return
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("ALTER TABLE devidp_signing_keys ADD COLUMN retire_at INTEGER")
                )
        except DatabaseError:
            return  # another worker added it a moment ago
        with self._session.begin() as db:
            keep = db.scalars(
                select(SigningKey.generation)
                .order_by(SigningKey.generation.desc())
                .limit(_LEGACY_PUBLISHED_GENERATIONS)
            ).all()
            if keep:
                db.execute(
                    update(SigningKey)
                    .where(SigningKey.generation < min(keep))
                    .values(retire_at=self._now())
                )
