"""Finding products under apps/<tier>/<product>/ and importing them, one failure at a time.

The folder a product sits in is its tier, so discovery is the whole of "promoting" a product.
A product that fails to import is recorded as broken with its error instead of stopping the
portal; a folder whose name is not a tier is reported and skipped.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path

from auth.identity import METADATA_FILE, ProductInfo, read_product_info
from auth.tiers import TIER_NAMES, TIERS_DESCENDING, Tier

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


def discover(
    apps_dir: Path,
    patterns: Sequence[str] = (),
    *,
    load: bool = True,
    keep: Mapping[str, Product] | None = None,
) -> Discovery:
    """Every product folder under `apps_dir`; products in `keep` (by `tier/name`) are reused as
    they are instead of imported again, so a rescan loads only what is new."""
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
                keep.get(f"{tier.value}/{folder.name}") or _product(tier, folder, patterns, load)
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


def _product(tier: Tier, folder: Path, patterns: Sequence[str], load: bool) -> Product:
    name = folder.name
    info = ProductInfo(tier=tier, name=name, title=name)
    if not selected(info.key, patterns):
        return Product(info, folder, Status.EXCLUDED)
    try:
        info = read_product_info(tier, folder)
    except ValueError as error:
        return _broken(info, folder, f"{METADATA_FILE}: {error}", None)
    if not name.isidentifier() or not name.islower():
        return _broken(info, folder, "the folder name must be a lowercase Python identifier", None)
    if not (folder / "__init__.py").is_file():
        return _broken(info, folder, "not a Python package: __init__.py is missing", None)
    if not load:
        return Product(info, folder, Status.LOADED)
    try:
        app = load_product_app(tier, folder)
    except Exception as error:
        log.exception("product %s failed to load", info.key)
        return _broken(info, folder, f"{type(error).__name__}: {error}", traceback.format_exc())
    return Product(info, folder, Status.LOADED, app=app)


def _broken(info: ProductInfo, folder: Path, error: str, trace: str | None) -> Product:
    if trace is None:
        log.error("product %s is broken: %s", info.key, error)
    return Product(info, folder, Status.BROKEN, error=error, traceback=trace)


def load_product_app(tier: Tier, folder: Path) -> Callable:
    """Import `apps.<tier>.<name>` from its folder and return its WSGI app.

    The module is imported afresh each time, so a product moved or edited on disk is seen as it
    is now; relative imports inside the product work because the package is registered first.
    """
    module_name = f"apps.{tier.value}.{folder.name}"
    for loaded in [m for m in sys.modules if m == module_name or m.startswith(module_name + ".")]:
        del sys.modules[loaded]
    spec = importlib.util.spec_from_file_location(
        module_name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    app = getattr(module, "app", None)
    factory = getattr(module, "create_app", None)
    if app is None and callable(factory):
        app = factory()
    if app is None or not callable(app):
        raise TypeError("the package exposes neither a WSGI `app` nor a `create_app()` factory")
    return app
