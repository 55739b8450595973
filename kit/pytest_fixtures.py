"""Pytest fixtures for a product's own tests, with nothing to import.

The portal's distribution registers this module under pytest's `pytest11` entry point, so every
pytest run where the portal is installed has these fixtures. A test in a product's folder (or in
a `tests/` folder inside it) asks for them by name:

    def test_page_greets_the_user(product_client, portal_user):
        assert portal_user.display_name in product_client.get("/").text

    @pytest.mark.parametrize("portal_tier", [Tier.ADMIN])
    def test_admins_see_the_debug_panel(product_client): ...

The fixtures find the product from the test file's path (the folder inside a tier folder), so
they work for any product without configuration. A product whose app needs building another way
defines its own `product_app` fixture in its `conftest.py`; the others follow from it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from auth.identity import PortalUser, ProductInfo, read_product_info
from auth.tiers import TIER_NAMES, Tier
from kit import testing
from kit.testing import ProductClient, ProductFlaskClient, make_user


def _product_folder_of(test_file: Path) -> Path:
    for folder in test_file.parents:
        if folder.parent.name in TIER_NAMES and (folder / "__init__.py").is_file():
            return folder
    raise pytest.UsageError(
        f"{test_file} is not inside a product folder (<apps>/<tier>/<product>/): "
        "define the product_app and product_info fixtures in its conftest.py"
    )


def _import_package(folder: Path) -> Any:
    """The product's package, under the dotted name the portal's own imports use."""
    parts, base = [folder.name], folder.parent
    while (base / "__init__.py").is_file():
        parts.insert(0, base.name)
        base = base.parent
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    return importlib.import_module(".".join(parts))


@pytest.fixture
def product_folder(request: pytest.FixtureRequest) -> Path:
    """The folder of the product the requesting test belongs to."""
    return _product_folder_of(Path(request.path))


@pytest.fixture
def product_info(product_folder: Path) -> ProductInfo:
    """The product as the portal reads it: tier from its folder, the rest from product.toml."""
    return read_product_info(Tier.parse(product_folder.parent.name), product_folder)


@pytest.fixture
def product_app(product_folder: Path) -> Any:
    """The product's WSGI app: the package's `app`, else what its `create_app()` returns."""
    package = _import_package(product_folder)
    if hasattr(package, "app"):
        return package.app
    if callable(getattr(package, "create_app", None)):
        return package.create_app()
    raise pytest.UsageError(f"{package.__name__} has neither `app` nor `create_app()`")


@pytest.fixture
def portal_tier(product_info: ProductInfo) -> Tier:
    """The signed-in user's tier: the product's own, the lowest the Gate lets in."""
    return product_info.tier


@pytest.fixture
def portal_user(portal_tier: Tier) -> PortalUser:
    """The user every request of `product_client` carries."""
    return make_user(portal_tier)


@pytest.fixture
def product_client(
    product_app: Any, product_info: ProductInfo, portal_user: PortalUser
) -> ProductFlaskClient | ProductClient:
    """A test client for the product mounted where the portal mounts it, as `portal_user`."""
    return testing.product_client(product_app, user=portal_user, product=product_info)
