"""The mount table, following the apps folder while the portal runs.

werkzeug's DispatcherMiddleware does the dispatching (`portal.routing.ProductMounts` asks it);
this keeps its table in step with the folders under `apps/`. A watcher thread looks every
`PORTAL_APPS_RECHECK_SECONDS` (1 s in development, 10 s in production) for new, removed, moved
and edited products, and a request for a `/<tier>/<name>` that isn't mounted looks at once.
Products whose files didn't change are kept as they are, state and all; an edited one is
imported afresh and replaces the old instance only once the new one imported fine. Imports run
outside the table's lock, so a slow product never holds up requests to the others.

Moves are recorded in the database, so the old address answers 308 on every node and after
restarts.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from auth.metrics import BROKEN_PRODUCTS
from db.product_moves import all_moves, forget_moves_to, record_move
from portal.products.discovery import Discovery, Loading, Product, Status, discover, folder_listing
from portal.services import Services

log = logging.getLogger(__name__)

UNKNOWN_MOUNT_RECHECK_SECONDS = 1.0


class ProductWatcher:
    def __init__(
        self,
        portal_app: Callable,
        fixed: dict[str, Callable],
        services: Services,
        mount: Callable[[Product], Callable],
        *,
        loading: Loading,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.portal_app = portal_app
        self.fixed = fixed
        self.services = services
        self.loading = loading
        self._mount = mount
        self._clock = clock
        self._table_lock = threading.Lock()
        self._import_lock = threading.Lock()
        self._gates: dict[str, tuple[Product, Callable]] = {}
        self._folders = folder_listing(services.settings.apps_dir)
        self._moved = self._moves_on_record()
        self.dispatcher = DispatcherMiddleware(
            portal_app, self._build(services.discovery.mounted())
        )
        self._rescanned = clock()
        self._watcher: threading.Thread | None = None
        self._closed = threading.Event()
        _count_broken(services.discovery)

    def mounted(self, mount: str) -> Product | None:
        """The product mounted at `/<tier>/<name>` now, if any."""
        entry = self._gates.get(mount)
        return entry[0] if entry is not None else None

    def start(self) -> None:
        """Watch from the first request on, so the thread runs in the process that serves (after
        gunicorn forks its workers)."""
        if self._watcher is None:
            self._start_watcher()

    def close(self) -> None:
        """Stop watching the apps folder (the portal is shutting down, or a test is done)."""
        self._closed.set()

    def rescan(self, *, reread_moves: bool = False) -> None:
        """Bring the table in line with the folder: import what is new or edited (outside the
        table's lock), then swap the new table in at once."""
        settings = self.services.settings
        with self._import_lock:
            self._rescanned = self._clock()
            before = self.services.discovery
            kept = {p.info.key: p for p in before.products}
            found = discover(
                settings.apps_dir, settings.apps_patterns, keep=kept, loading=self.loading
            )
            folders = folder_listing(settings.apps_dir)
            with self._table_lock:
                moved_now = self._note_moves(self._folders, folders)
                changed = [id(p) for p in found.products] != [id(p) for p in before.products]
                if changed or folders != self._folders:
                    self.services.discovery = found
                    self.dispatcher.mounts = self._build(found.mounted())
                    self._folders = folders
            if changed or moved_now or reread_moves:
                self._moved = {**self._moved, **self._moves_on_record()}
            if changed:
                _count_broken(found)
                _log_changes(before, found)

    def look_for(self, mount: str) -> None:
        """A request names a product that isn't mounted: import it if its folder is new, else
        (at most once a second, since anyone can send such requests) reread the moves."""
        folders = folder_listing(self.services.settings.apps_dir)
        due = self._clock() - self._rescanned > UNKNOWN_MOUNT_RECHECK_SECONDS
        if mount[1:] in folders and (due or folders != self._folders):
            self.rescan(reread_moves=True)
        elif due:
            self._rescanned = self._clock()
            self._moved = {**self._moved, **self._moves_on_record()}

    def drop_missing(self) -> None:
        """Unmount, at once, products whose folders are gone (moved or removed)."""
        folders = folder_listing(self.services.settings.apps_dir)
        with self._table_lock:
            gone = [key for key in self._gates if not self._gates[key][0].folder.is_dir()]
            if not gone:
                return
            self._note_moves(self._folders, folders)
            products = [
                p for p in self.services.discovery.products if p.mount_path not in set(gone)
            ]
            self.services.discovery = Discovery(products, self.services.discovery.ignored)
            self.dispatcher.mounts = self._build(self.services.discovery.mounted())
        log.info("products gone from their folders: %s", ", ".join(sorted(gone)))

    def _note_moves(self, before: frozenset[str], after: frozenset[str]) -> bool:
        """Record folders that went from one tier to another (same name, one new place)."""
        gone, new = before - after, after - before
        moves = {}
        for old in gone:
            name = old.split("/", 1)[1]
            targets = [key for key in new if key.split("/", 1)[1] == name]
            if len(targets) == 1:
                moves[old] = targets[0]
        for key in new:
            self._moved.pop(f"/{key}", None)
        for old, target in moves.items():
            self._moved[f"/{old}"] = f"/{target}"
        try:
            forget_moves_to(self.services.database, set(new))
            for old, target in moves.items():
                record_move(self.services.database, old, target)
        except SQLAlchemyError:
            log.warning("could not record product moves %s in the database", moves or "")
        return bool(moves or new)

    def _moves_on_record(self) -> dict[str, str]:
        try:
            moves = all_moves(self.services.database)
        except SQLAlchemyError:
            log.warning("could not read product moves from the database; using what is known")
            return {}
        return {f"/{old}": f"/{new}" for old, new in moves.items()}

    def moved_to(self, mount: str) -> str | None:
        """The `tier/name` a product once mounted at `mount` moved to, if it did."""
        new = self._moved.get(mount)
        return new[1:] if new is not None else None

    def _build(self, products: Iterable[Product]) -> dict[str, Callable]:
        """Gates for the products, reusing each unchanged product's Gate as it is."""
        previous = self._gates
        gates = {}
        for product in products:
            kept = previous.get(product.mount_path)
            gates[product.mount_path] = (
                kept if kept and kept[0] is product else (product, self._mount(product))
            )
        self._gates = gates
        return {**{path: gate for path, (_, gate) in gates.items()}, **self.fixed}

    def _start_watcher(self) -> None:
        """Started by the first request, so it runs in the process that serves (after a fork)."""
        with self._table_lock:
            if self._watcher is not None:
                return
            self._watcher = threading.Thread(
                target=_watch,
                args=(weakref.ref(self), self._closed, self.services.settings.apps_recheck_seconds),
                name="portal-apps-watcher",
                daemon=True,
            )
            self._watcher.start()


def _watch(mounts: weakref.ref, closed: threading.Event, interval: float) -> None:
    while not closed.wait(max(interval, 0.1)):
        table = mounts()
        if table is None:
            return
        try:
            table.rescan()
        except Exception:
            log.exception("could not rescan the apps folder; trying again")
        del table


def _count_broken(discovery: Discovery) -> None:
    BROKEN_PRODUCTS.set(sum(p.status is Status.BROKEN for p in discovery.products))


def _log_changes(before: Discovery, after: Discovery) -> None:
    old = {p.info.key: p for p in before.products}
    new = {p.info.key: p for p in after.products}
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    reloaded = sorted(k for k in new.keys() & old.keys() if new[k] is not old[k])
    log.info(
        "apps changed: %s added, %s removed, %s reloaded",
        added or "none",
        removed or "none",
        reloaded or "none",
    )
