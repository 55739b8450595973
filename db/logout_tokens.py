"""Back-channel logout tokens already acted on, by `jti`, so a replayed one is refused."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from db.engine import Database
from db.models import SeenLogoutToken, utcnow

#: Longer than any logout token is accepted for (its `iat` must be recent).
REMEMBERED_FOR = timedelta(days=1)


class AlreadySeen(Exception):
    """This logout token was acted on before."""


def remember_logout_token(database: Database, jti: str) -> None:
    """Record the token's id; AlreadySeen when it was recorded before (a replay)."""
    try:
        with database.transaction() as db:
            db.add(SeenLogoutToken(jti=str(jti)[:255], expires_at=utcnow() + REMEMBERED_FOR))
    except IntegrityError:
        raise AlreadySeen(jti) from None
