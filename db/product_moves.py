"""Where moved products went: `tier/name` before a move, and `tier/name` after it."""

from __future__ import annotations

from sqlalchemy import delete, select

from db.engine import Database
from db.models import ProductMove, utcnow


def record_move(database: Database, old_key: str, new_key: str) -> None:
    """`old_key` now redirects to `new_key`; a product at `new_key` no longer redirects away,
    and earlier moves to `old_key` follow it to its new place."""
    with database.transaction() as db:
        db.execute(delete(ProductMove).where(ProductMove.old_key == new_key))
        for earlier in db.scalars(select(ProductMove).where(ProductMove.new_key == old_key)):
            earlier.new_key = new_key
        row = db.get(ProductMove, old_key)
        if row is None:
            db.add(ProductMove(old_key=old_key, new_key=new_key, moved_at=utcnow()))
        else:
            row.new_key, row.moved_at = new_key, utcnow()


def forget_moves_to(database: Database, keys: set[str]) -> None:
    """Products that exist again at these addresses stop redirecting from them."""
    if keys:
        with database.transaction() as db:
            db.execute(delete(ProductMove).where(ProductMove.old_key.in_(keys)))


def all_moves(database: Database) -> dict[str, str]:
    """Old `tier/name` -> where the product is now (`record_move` keeps chains one hop long)."""
    with database.transaction() as db:
        rows = db.execute(select(ProductMove.old_key, ProductMove.new_key))
        return {old: new for old, new in rows}
