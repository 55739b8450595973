"""Test a product on its own, as if the portal's Gate had let the request through.

In the portal the Gate puts the user, the product and a sign-out token in the WSGI environ and
the product is mounted at ``/<tier>/<name>``. `product_client` does the same for every
request (redirects included), so a product's tests exercise exactly what production runs, with
no sign-in, database or portal:

    from kit.testing import product_client
    from auth.tiers import Tier

    def test_greets_the_user():
        client = product_client(app, tier=Tier.EA)
        assert b"Hello" in client.get("/").data
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import Client

from auth.identity import (
    LOGOUT_TOKEN_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
    read_product_info,
)
from auth.tiers import Tier
from kit.authflask import AuthFlask

TEST_LOGOUT_TOKEN = "test-logout-token"  # noqa: S105 - a fixed value tests can assert on

_DEFAULT_USER: Any = object()


def make_user(tier: Tier, **overrides: Any) -> PortalUser:
    """A believable user of ``tier``; override any field the test cares about."""
    fields: dict[str, Any] = {
        "id": 1,
        "subject": f"test|{tier.value}",
        "email": f"{tier.value}@example.test",
        "name": f"{tier.label} Tester",
        "tier": tier,
    }
    fields.update(overrides)
    return PortalUser(**fields)


class _GateMixin:
    """Adds what the Gate adds, and mounts the app where the portal would."""

    gate_environ: dict[str, Any]
    base_url: str

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if not args or isinstance(args[0], str):
            kwargs.setdefault("base_url", self.base_url)
        return super().open(*args, **kwargs)  # type: ignore[misc]

    def run_wsgi_app(self, environ: dict[str, Any], buffered: bool = False) -> Any:
        environ.update(self.gate_environ)
        return super().run_wsgi_app(environ, buffered=buffered)  # type: ignore[misc]


class ProductFlaskClient(_GateMixin, FlaskClient):
    """A Flask test client for a product behind the Gate."""


class ProductClient(_GateMixin, Client):
    """A werkzeug test client for a non-Flask product behind the Gate."""


def product_client(
    app: Any,
    *,
    user: PortalUser | None = _DEFAULT_USER,
    tier: Tier | None = None,
    product: ProductInfo | None = None,
) -> ProductFlaskClient | ProductClient:
    """A test client whose every request carries what the Gate would put in the environ.

    ``product`` defaults to the one the app is bound to, else one named after the app's module
    (``apps.<tier>.<name>``). ``user`` defaults to `make_user` of ``tier``, and ``tier`` to
    the product's own (the lowest the Gate lets in). ``user=None`` sends no user, as no real
    request through the Gate ever does, to test how a product copes without one.
    """
    product = product or _product_of(app)
    if user is _DEFAULT_USER:
        user = make_user(tier or product.tier)
    if user is not None and not user.tier.opens(product.tier):
        raise ValueError(
            f"a {user.tier.value} user never reaches the {product.tier.value} product "
            f"{product.key}: the Gate answers 403 first"
        )
    environ: dict[str, Any] = {
        PRODUCT_ENVIRON_KEY: product,
        LOGOUT_TOKEN_ENVIRON_KEY: TEST_LOGOUT_TOKEN,
    }
    if user is not None:
        environ[USER_ENVIRON_KEY] = user
    client: ProductFlaskClient | ProductClient
    if isinstance(app, Flask):
        client = ProductFlaskClient(app, app.response_class, use_cookies=True)
    else:
        client = ProductClient(app, use_cookies=True)
    client.gate_environ = environ
    client.base_url = f"http://localhost{product.mount_path}/"
    return client


def _product_of(app: Any) -> ProductInfo:
    if isinstance(app, AuthFlask) and app.product is not None:
        return app.product
    module = getattr(app, "import_name", None) or getattr(app, "__module__", "") or ""
    parts = module.split(".")
    if len(parts) >= 3 and parts[0] == "apps":
        tier, name = Tier.parse(parts[1]), parts[2]
    else:
        tier, name = Tier.STABLE, parts[-1] or "product"
    file = getattr(sys.modules.get(module), "__file__", None)
    if file and parts[0] == "apps":
        return read_product_info(tier, Path(file).parent)
    return ProductInfo(tier=tier, name=name, title=name)
