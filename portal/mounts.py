"""The mount table, following the apps folder while the portal runs.

werkzeug's DispatcherMiddleware does the dispatching; this keeps its table in step with the
folders under `apps/`: checked every few seconds, and at once when a request arrives for a
`/<tier>/<name>` that isn't mounted. New products are imported
and mounted, removed ones unmounted, and a product moved to another tier answers its old URL with
a redirect to the new one. Products that didn't change are kept as they are, state and all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from auth.tiers import TIER_NAMES
from portal.discovery import Product, discover, folder_listing
from portal.services import Services

log = logging.getLogger(__name__)

UNKNOWN_MOUNT_RECHECK_SECONDS = 1.0


class ProductMounts:
    def __init__(
        self,
        portal_app: Callable,
        fixed: dict[str, Callable],
        services: Services,
        mount: Callable[[Product], Callable],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.portal_app = portal_app
        self.fixed = fixed
        self.services = services
        self._mount = mount
        self._clock = clock
        self._lock = threading.Lock()
        self._moved: dict[str, str] = {}
        self._folders = folder_listing(services.settings.apps_dir)
        self.dispatcher = DispatcherMiddleware(
            portal_app, self._build(services.discovery.mounted())
        )
        self._checked = self._rescanned = clock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        now = self._clock()
        if now - self._checked > self.services.settings.apps_recheck_seconds:
            self._refresh(now)
        path = environ.get("PATH_INFO", "")
        if _names_a_product(path) and _mount_of(path) not in self.dispatcher.mounts:
            if now - self._rescanned > UNKNOWN_MOUNT_RECHECK_SECONDS:
                self._refresh(now, force=True)
            moved = self._moved_from(path)
            if moved and _mount_of(path) not in self.dispatcher.mounts:
                return _redirect(start_response, moved + _query(environ))
        return self.dispatcher(environ, start_response)

    def _moved_from(self, path: str) -> str | None:
        parts = path.split("/", 3)
        if len(parts) < 3:
            return None
        old = f"/{parts[1]}/{parts[2]}"
        new = self._moved.get(old)
        return None if new is None else new + path[len(old) :]

    def _refresh(self, now: float, *, force: bool = False) -> None:
        with self._lock:
            self._checked = now
            if force:
                self._rescanned = now
            folders = folder_listing(self.services.settings.apps_dir)
            if folders == self._folders:
                return
            self._rescan(folders)

    def _rescan(self, folders: frozenset[str]) -> None:
        settings = self.services.settings
        current = {p.info.key: p for p in self.services.discovery.products if p.info.key in folders}
        found = discover(settings.apps_dir, settings.apps_patterns, keep=current)
        gone, new = self._folders - folders, folders - self._folders
        for old in gone:
            name = old.split("/", 1)[1]
            moved_to = [key for key in new if key.split("/", 1)[1] == name]
            if len(moved_to) == 1:
                self._moved[f"/{old}"] = f"/{moved_to[0]}"
        for key in new:
            self._moved.pop(f"/{key}", None)
        self.services.discovery = found
        self.dispatcher.mounts = self._build(found.mounted())
        self._folders = folders
        log.info(
            "apps changed: %s added, %s removed", sorted(new) or "none", sorted(gone) or "none"
        )

    def _build(self, products: Iterable[Product]) -> dict[str, Callable]:
        """Gates for the products, reusing each unchanged product's Gate as it is."""
        previous = getattr(self, "_gates", {})
        gates = {}
        for product in products:
            kept = previous.get(product.mount_path)
            gates[product.mount_path] = (
                kept if kept and kept[0] is product else (product, self._mount(product))
            )
        self._gates = gates
        return {**{path: gate for path, (_, gate) in gates.items()}, **self.fixed}


def _mount_of(path: str) -> str:
    return "/".join(path.split("/", 3)[:3])


def _names_a_product(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 3 and parts[1] in TIER_NAMES and bool(parts[2])


def _query(environ: dict) -> str:
    query = environ.get("QUERY_STRING", "")
    return f"?{query}" if query else ""


def _redirect(start_response: Callable, location: str) -> Iterable[bytes]:
    start_response(
        "308 Permanent Redirect",
        [("Location", location), ("Content-Length", "0"), ("Cache-Control", "no-store")],
    )
    return [b""]
