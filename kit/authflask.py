"""AuthFlask: a Flask app that already knows who is asking.

The portal mounts a product at ``/<tier>/<name>`` behind the Gate, which signs people in and
checks their tier before the product's code runs, for every route, blueprint and static file.
So a product never writes an auth decorator, and nothing here is needed for protection: a plain
Flask or WSGI app is just as safe. What AuthFlask adds is comfort:

- ``current_user``: the signed-in `PortalUser` (also in every template);
- ``app.product``: the `ProductInfo` naming the product (``product`` in
  templates);
- the portal's look: ``{% extends "portal/base.html" %}`` gives pages the portal header, the
  user's tier badge and the sign-out button (`kit.frame`);
- a session cookie of its own, scoped to the mount path and signed with a key derived for the
  product, so it never clobbers the portal's sign-in cookie and products can't forge each other's;
- websocket routes, ``@app.websocket("/ws")`` (`kit.websockets`).

The example to copy is ``apps/stable/hello``::

    from flask import render_template

    from kit import AuthFlask, current_user

    app = AuthFlask(__name__)

    @app.get("/")
    def index():
        return render_template("hello/index.html")   # {% extends "portal/base.html" %}

Test it without the portal through `kit.testing.product_client`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, has_request_context, request
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from werkzeug.local import LocalProxy
from werkzeug.utils import cached_property

from auth.cookies import product_cookie_name
from auth.identity import (
    LOGOUT_TOKEN_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
)
from kit.admin import AdminServices
from kit.frame import FRAME_TEMPLATES, frame_context
from kit.token_errors import register_token_errors
from kit.websockets import PortalSock

log = logging.getLogger(__name__)


# An unbound app (a product's own unit tests) still needs a key to sign its session; a fresh one
# per process means nothing guessable ever ships, and the portal replaces it in bind_portal.
_UNBOUND_SECRET = secrets.token_hex(32)


def _request_user() -> PortalUser:
    try:
        return request.environ[USER_ENVIRON_KEY]
    except KeyError:
        raise RuntimeError(
            "no portal user in this request: the product runs behind the portal's Gate, "
            "and its tests use kit.testing.product_client"
        ) from None


current_user: PortalUser = LocalProxy(_request_user)  # type: ignore[assignment]
"""The signed-in user of the current request."""


def derive_product_secret(portal_secret: str, product: ProductInfo) -> str:
    """A product's own signing key: products can't forge each other's or the portal's cookies."""
    message = f"portal-product-session:{product.key}".encode()
    return hmac.new(portal_secret.encode(), message, hashlib.sha256).hexdigest()


class AuthFlask(Flask):
    """A Flask app that renders inside the portal's page frame and knows its user and product."""

    admin_services: AdminServices | None = None
    """What the portal lets admin-tier products do (`kit.admin`), given only to products in the
    admin tier, which the Gate opens to admins alone; None everywhere else."""

    def __init__(self, import_name: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(import_name, *args, **kwargs)
        self._bound_product: ProductInfo | None = None
        self._sock: PortalSock | None = None
        self.config.update(
            SECRET_KEY=self.config.get("SECRET_KEY") or _UNBOUND_SECRET,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            PORTAL_NAME="Portal",
            PORTAL_URL="",
        )
        self.context_processor(self._portal_context)
        register_token_errors(self)

    @cached_property
    def jinja_loader(self) -> BaseLoader | None:  # type: ignore[override]
        """The product's own templates first, so it may override any portal template."""
        own = super().jinja_loader
        portal = FileSystemLoader(str(FRAME_TEMPLATES))
        return ChoiceLoader([own, portal] if own is not None else [portal])

    @property
    def product(self) -> ProductInfo | None:
        """This product as the portal mounted it; None only in an unbound app outside a request."""
        if has_request_context():
            found = request.environ.get(PRODUCT_ENVIRON_KEY)
            if found is not None:
                return found
        return self._bound_product

    def bind_portal(
        self,
        product: ProductInfo,
        secret_key: str,
        site_name: str = "Portal",
        *,
        secure_cookies: bool = False,
        portal_url: str = "",
    ) -> None:
        """Called by the portal when it mounts this app; products don't call it themselves.
        `portal_url` is the portal's origin when the product has a host of its own."""
        self._bound_product = product
        self.config.update(
            SECRET_KEY=derive_product_secret(secret_key, product),
            SESSION_COOKIE_NAME=product_cookie_name(product),
            SESSION_COOKIE_PATH=product.mount_path,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=secure_cookies,
            PORTAL_NAME=site_name,
            PORTAL_URL=portal_url,
        )

    def websocket(self, path: str, **options: Any) -> Callable[[Callable], Callable]:
        """A websocket route, watched by the portal: `PortalSock.route` on this app's own Sock."""
        if self._sock is None:
            self._sock = PortalSock(self)
        return self._sock.route(path, **options)

    def _portal_context(self) -> dict[str, Any]:
        """What portal/base.html needs, so product pages get the portal frame for free."""
        user = request.environ.get(USER_ENVIRON_KEY)
        product = self.product
        return {
            "current_user": user,
            "product": product,
            **frame_context(
                user=user,
                product=product,
                logout_token=request.environ.get(LOGOUT_TOKEN_ENVIRON_KEY),
                site_name=self.config["PORTAL_NAME"],
                portal_url=self.config["PORTAL_URL"],
            ),
        }
