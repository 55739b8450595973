"""Reading product addresses (`/<tier>/<name>/...`); redirects to them are `auth.locations`'."""

from __future__ import annotations

from auth.tiers import TIER_NAMES


def product_key_in(path: str) -> str | None:
    """`tier/name` when the path is a product's address (`/ea/widgets/...`), else None."""
    parts = path.split("/", 3)
    if len(parts) >= 3 and parts[1] in TIER_NAMES and parts[2]:
        return f"{parts[1]}/{parts[2]}"
    return None
