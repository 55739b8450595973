"""Keeping each product's cookies inside its own mount.

Products share the portal's origin in path mode, so a product's `Set-Cookie: session=...; Path=/`
would reach every other product and replace theirs (two plain Flask apps both call their cookie
`session`). The Gate rewrites what a product sets before the browser sees it: no `Path` or
`Path=/` becomes the product's mount path, a path inside the mount stays, a path outside it
(another product's, the portal's) and the portal's own cookie names are dropped, and `Domain` is
removed so a cookie never spreads to other hosts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


def scoped_cookie(header: str, mount_path: str, *, forbidden: Iterable[str] = ()) -> str | None:
    """The `Set-Cookie` value to send for a product mounted at `mount_path`, or None to drop it."""
    pair, *attributes = [part.strip() for part in header.split(";")]
    name = pair.split("=", 1)[0].strip()
    if name in set(forbidden):
        log.warning("dropped a product's cookie %r: the name belongs to the portal", name)
        return None
    kept = []
    path = ""
    for attribute in attributes:
        key = attribute.split("=", 1)[0].strip().lower()
        if key == "domain":
            continue
        if key == "path":
            path = attribute.split("=", 1)[1].strip() if "=" in attribute else ""
            continue
        if attribute:
            kept.append(attribute)
    if path in ("", "/"):
        path = mount_path
    elif path != mount_path and not path.startswith(mount_path + "/"):
        log.warning("dropped a product's cookie %r: Path=%s is outside %s", name, path, mount_path)
        return None
    return "; ".join([pair, f"Path={path}", *kept])
