"""Finding products under apps/<tier>/<product>/ and importing them, one failure at a time.

The folder a product sits in is its tier, so discovery is the whole of "promoting" a product.
A product whose product.toml names a `command` or an `upstream` is served through the portal's
proxy: it is not imported, and its folder needs no Python package. A product that fails to
import is recorded as broken with its error instead of stopping the portal (see
`portal.products.loader` for how far that goes); a folder whose name is not a tier is reported
and skipped. A rescan reuses every product whose files did not change, and a product
whose new files fail to import keeps serving its previous instance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path

from auth.identity import METADATA_FILE, ProductInfo, read_product_info
from auth.product_kinds import ProductKind
from auth.tiers import TIER_NAMES, TIERS_DESCENDING, Tier
from portal.products.loader import (
    IMPORT_ATTEMPTS,
    ImportMarks,
    ProductLoadError,
    folder_fingerprint,
    load_product_app,
    one_django_per_process,
)
from portal.products.process_state import ProcessState

log = logging.getLogger(__name__)


class Status(StrEnum):
    LOADED = "loaded"
    BROKEN = "broken"
    EXCLUDED = "excluded"


@dataclass
class Product:
    info: ProductInfo
    folder: Path
    status: Status
    error: str | None = None
    traceback: str | None = None
    app: Callable | None = field(default=None, repr=False)
    fingerprint: str = ""
    #: Set while an edit fails to import and the previous instance keeps serving.
    reload_error: str | None = None
    #: How its server is doing, for a `command` or `upstream` product once it is mounted.
    process_state: Callable[[], ProcessState] | None = field(default=None, repr=False)

    @property
    def mount_path(self) -> str:
        return self.info.mount_path


@dataclass
class Discovery:
    products: list[Product]
    ignored: list[str]

    def mounted(self) -> list[Product]:
        return [p for p in self.products if p.status is not Status.EXCLUDED]


def selected(key: str, patterns: Sequence[str]) -> bool:
    """Whether `tier/name` is served under PORTAL_APPS patterns (`stable/*`, `!devel/experimental`).

    With no include pattern everything is included; an exclude (`!`) always wins over an include.
    """
    includes = [p for p in patterns if not p.startswith("!")]
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    if includes and not any(fnmatchcase(key, p) for p in includes):
        return False
    return not any(fnmatchcase(key, p) for p in excludes)


@dataclass(frozen=True)
class Loading:
    """How products are imported: the deadline for one import, where import marks go, and the
    API audiences no product may declare (see `read_product_info`)."""

    timeout: float = 10.0
    marks: ImportMarks | None = None
    reserved_audiences: frozenset[str] = frozenset()
    #: Where the portal listens: no product's server may be there (`auth.portal_address`).
    portal_addresses: tuple[str, ...] = ()


def discover(
    apps_dir: Path,
    patterns: Sequence[str] = (),
    *,
    load: bool = True,
    keep: Mapping[str, Product] | None = None,
    loading: Loading = Loading(),
) -> Discovery:
    """Every product folder under `apps_dir`; products in `keep` (by `tier/name`) whose files
    did not change are reused as they are, so a rescan imports only what is new or edited."""
    products: list[Product] = []
    keep = keep or {}
    ignored: list[str] = []
    if not apps_dir.is_dir():
        log.warning("apps folder %s does not exist; no products are served", apps_dir)
        return Discovery(products, ignored)
    for entry in sorted(_subfolders(apps_dir)):
        if entry.name not in TIER_NAMES:
            ignored.append(entry.name)
            log.warning(
                "apps/%s is not a tier (%s); its products are not mounted",
                entry.name,
                ", ".join(TIER_NAMES),
            )
    for tier in TIERS_DESCENDING:
        tier_dir = apps_dir / tier.value
        if tier_dir.is_dir():
            products.extend(
                _product(
                    apps_dir,
                    tier,
                    folder,
                    patterns,
                    load,
                    loading,
                    keep.get(f"{tier.value}/{folder.name}"),
                )
                for folder in sorted(_subfolders(tier_dir))
            )
    return Discovery(products, ignored)


def folder_listing(apps_dir: Path) -> frozenset[str]:
    """The `tier/name` folders as they are on disk now: cheap enough to compare every few
    seconds, so new, removed and moved products are noticed without a restart."""
    found = set()
    for tier in TIER_NAMES:
        tier_dir = apps_dir / tier
        if tier_dir.is_dir():
            found.update(f"{tier}/{folder.name}" for folder in _subfolders(tier_dir))
    return frozenset(found)


def _subfolders(path: Path) -> Iterable[Path]:
    return (p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _product(
    apps_dir: Path,
    tier: Tier,
    folder: Path,
    patterns: Sequence[str],
    load: bool,
    loading: Loading,
    previous: Product | None,
) -> Product:
    name = folder.name
    info = ProductInfo(tier=tier, name=name, title=name)
    if not selected(info.key, patterns):
        if previous is not None and previous.status is Status.EXCLUDED:
            return previous
        return Product(info, folder, Status.EXCLUDED)
    fingerprint = folder_fingerprint(folder)
    if previous is not None and previous.fingerprint == fingerprint:
        return previous
    product = _fresh(apps_dir, tier, folder, load, loading, fingerprint)
    if product.status is Status.BROKEN and previous is not None and previous.app is not None:
        log.error("product %s: its edit does not load; the previous version serves", info.key)
        return replace(previous, fingerprint=fingerprint, reload_error=product.error)
    return product


def _fresh(
    apps_dir: Path, tier: Tier, folder: Path, load: bool, loading: Loading, fingerprint: str
) -> Product:
    info = ProductInfo(tier=tier, name=folder.name, title=folder.name)
    try:
        info = read_product_info(
            tier,
            folder,
            reserved_audiences=loading.reserved_audiences,
            portal_addresses=loading.portal_addresses,
        )
    except ValueError as error:
        return _broken(info, folder, f"{METADATA_FILE}: {error}", None, fingerprint)
    if not folder.name.isidentifier() or not folder.name.islower():
        return _broken(
            info, folder, "the folder name must be a lowercase Python identifier", None, fingerprint
        )
    if info.kind is not ProductKind.WSGI:
        return Product(info, folder, Status.LOADED, fingerprint=fingerprint)
    if not (folder / "__init__.py").is_file():
        return _broken(
            info, folder, "not a Python package: __init__.py is missing", None, fingerprint
        )
    if not load:
        return Product(info, folder, Status.LOADED, fingerprint=fingerprint)
    marks = loading.marks
    attempt = marks.attempt(info.key, fingerprint) if marks is not None else 1
    if attempt > IMPORT_ATTEMPTS:
        return _broken(info, folder, PROCESS_DIED, None, fingerprint)
    if attempt > 1:
        log.warning("product %s: a process ended while importing it; importing it again", info.key)
    try:
        with marks.importing(info.key, fingerprint, attempt) if marks else nullcontext():
            app = load_product_app(apps_dir, tier.value, folder, timeout=loading.timeout)
        conflict = one_django_per_process(info.key, app)
    except ProductLoadError as error:
        log.error("product %s failed to load: %s\n%s", info.key, error, error.details or "")
        return Product(
            info, folder, Status.BROKEN, str(error), error.details, fingerprint=fingerprint
        )
    if conflict:
        return _broken(info, folder, conflict, None, fingerprint)
    return Product(info, folder, Status.LOADED, app=app, fingerprint=fingerprint)


PROCESS_DIED = (
    "the portal's process ended while importing this product, twice in a row (os._exit, a "
    "crash), so it is not imported again until its files change"
)


def _broken(
    info: ProductInfo, folder: Path, error: str, trace: str | None, fingerprint: str
) -> Product:
    log.error("product %s is broken: %s", info.key, error)
    return Product(info, folder, Status.BROKEN, error, trace, fingerprint=fingerprint)
