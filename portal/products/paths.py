"""Reading product addresses (`/<tier>/<name>/...`) and answering with redirects, in WSGI."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from auth.tiers import TIER_NAMES


def product_key_in(path: str) -> str | None:
    """`tier/name` when the path is a product's address (`/ea/widgets/...`), else None."""
    parts = path.split("/", 3)
    if len(parts) >= 3 and parts[1] in TIER_NAMES and parts[2]:
        return f"{parts[1]}/{parts[2]}"
    return None


def query_suffix(environ: dict) -> str:
    query = environ.get("QUERY_STRING", "")
    return f"?{query}" if query else ""


def redirect(start_response: Callable, status: str, location: str) -> Iterable[bytes]:
    start_response(
        status, [("Location", location), ("Content-Length", "0"), ("Cache-Control", "no-store")]
    )
    return [b""]
