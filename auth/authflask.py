"""AuthFlask: a Flask app that already knows who is asking.

Why use it
----------
The portal mounts your product at ``/<tier>/<name>`` behind the Gate, which signs people in and
checks their tier before your code runs, for every route, blueprint and static file. So your
product never writes an auth decorator, and nothing here is needed for protection: a plain Flask
or WSGI app is just as safe. What AuthFlask adds is comfort:

- ``current_user``: the signed-in :class:`~auth.identity.PortalUser` (also in every template);
- ``app.product``: the :class:`~auth.identity.ProductInfo` naming your product (``product`` in
  templates);
- the portal's look: ``{% extends "portal/base.html" %}`` gives your pages the portal header,
  the user's tier badge and the sign-out button;
- a session cookie of your own, scoped to your mount path and signed with a key derived for your
  product, so it never clobbers the portal's sign-in cookie and products can't forge each other's.
  (Products run inside the portal's process: they are trusted code, reviewed like the portal.)

Example (``apps/stable/hello/__init__.py``)::

    from flask import render_template

    from auth.authflask import AuthFlask, current_user

    app = AuthFlask(__name__)

    @app.route("/")
    def index():
        return render_template("hello.html", greeting=f"Hello, {current_user.display_name}")

    # templates/hello.html
    # {% extends "portal/base.html" %}
    # {% block content %}<h1>{{ greeting }}</h1>{% endblock %}

Test it without the portal through :func:`auth.testing.product_client`.

Websockets
----------
``@app.websocket("/ws")`` (or ``PortalSock(app).route("/ws")`` in a plain Flask app) is
flask-sock's route, served at ``/<tier>/<name>/ws``. The portal closes the socket when the user's
session ends or their tier no longer opens the product (see :mod:`auth.sockets` for the close
codes), sends pings every ``ping_interval`` seconds and closes with 1009 on a message larger than
``max_message_size``; both are settable per product (``PortalSock(app, ...)``) or per route::

    @app.websocket("/ws", max_message_size=1_000_000)
    def echo(ws):
        while True:
            ws.send(ws.receive())
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, has_request_context, request
from flask_sock import Sock
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from simple_websocket import ConnectionClosed
from werkzeug.local import LocalProxy
from werkzeug.utils import cached_property

from auth.cookies import product_cookie_name
from auth.identity import (
    LOGOUT_TOKEN_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    SOCKET_GUARD_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
    frame_context,
)
from auth.sockets import PortalWebSocket
from auth.token_errors import register_token_errors

log = logging.getLogger(__name__)

#: Pings keep idle sockets open through proxies (which drop them after ~60 s) and find dead
#: clients; 64 KiB bounds what one message can make a worker hold. Products may change both.
WEBSOCKET_DEFAULTS: dict[str, Any] = {"ping_interval": 25.0, "max_message_size": 64 * 1024}
_SOCKET_OPTIONS = (*WEBSOCKET_DEFAULTS, "send_timeout", "subprotocols")
INTERNAL_ERROR = 1011

#: Where the Gate puts the token the sign-out form must POST to ``/logout`` as ``token``.

PORTAL_TEMPLATES = Path(__file__).resolve().parent.parent / "portal" / "templates"

# An unbound app (a product's own unit tests) still needs a key to sign its session; a fresh one
# per process means nothing guessable ever ships, and the portal replaces it in bind_portal.
_UNBOUND_SECRET = secrets.token_hex(32)


def _request_user() -> PortalUser:
    try:
        return request.environ[USER_ENVIRON_KEY]
    except KeyError:
        raise RuntimeError(
            "no portal user in this request: the product runs behind the portal's Gate, "
            "and its tests use auth.testing.product_client"
        ) from None


#: The signed-in user of the current request.
current_user: PortalUser = LocalProxy(_request_user)  # type: ignore[assignment]


def derive_product_secret(portal_secret: str, product: ProductInfo) -> str:
    """A product's own signing key: products can't forge each other's or the portal's cookies."""
    message = f"portal-product-session:{product.key}".encode()
    return hmac.new(portal_secret.encode(), message, hashlib.sha256).hexdigest()


class AuthFlask(Flask):
    """A Flask app that renders inside the portal's page frame and knows its user and product."""

    #: The portal's own services (database, user administration, sync, discovery), given only to
    #: products in the admin tier, which the Gate opens to admins alone; None everywhere else.
    portal_services: Any = None

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
        portal = FileSystemLoader(str(PORTAL_TEMPLATES))
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


class _SocketFinished(Response):
    """What a websocket route answers once its socket is done: the server must send nothing.

    The handshake and every frame went straight through the connection, so each server needs
    its own way to end the request without writing an HTTP response onto the socket.
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if self.mode == "gunicorn":
            raise StopIteration  # gunicorn's workers close the connection on it, quietly
        if self.mode == "werkzeug":
            # The connection is already shut down, so these bytes go nowhere; the development
            # server needs its "Connection: close" to stop reading the socket for more requests.
            return super().__call__(environ, start_response)
        return []


class PortalSock(Sock):
    """flask-sock's `Sock`, whose routes the portal watches: product developers write none of it.

    Each route's socket is registered with the Gate's guard (and so closed when the user's access
    ends), pings and has a maximum message size. Options, later ones winning: the defaults above,
    the app's ``SOCK_SERVER_OPTIONS`` (flask-sock's own setting), ``PortalSock(app, **options)``,
    ``route(path, **options)``. Works in any Flask app, not only an AuthFlask.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        super().__init__(app)
        self.options = options

    def route(
        self, path: str, bp: Blueprint | None = None, **kwargs: Any
    ) -> Callable[[Callable], Callable]:
        route_options = {name: kwargs.pop(name) for name in _SOCKET_OPTIONS if name in kwargs}

        def decorator(handler: Callable) -> Callable:
            @wraps(handler)
            def websocket_route(*args: Any, **values: Any) -> Response:
                options = {
                    **WEBSOCKET_DEFAULTS,
                    **current_app.config.get("SOCK_SERVER_OPTIONS", {}),
                    **self.options,
                    **route_options,
                }
                ws = PortalWebSocket(request.environ, **options)
                _serve(ws, handler, args, values)
                return _SocketFinished(ws.mode)

            kwargs["websocket"] = True
            if bp is not None:
                bp.route(path, **kwargs)(websocket_route)
            elif self.app is not None:
                self.app.route(path, **kwargs)(websocket_route)
            else:
                self.bp = self.bp or Blueprint("__flask_sock", __name__)
                self.bp.route(path, **kwargs)(websocket_route)
            return handler

        return decorator


def _serve(ws: PortalWebSocket, handler: Callable, args: tuple, values: dict) -> None:
    """Run one route under the Gate's guard; a failing route closes with 1011, not a 500 page
    written onto the socket."""
    guard = request.environ.get(SOCKET_GUARD_ENVIRON_KEY)
    try:
        if guard is None:  # outside the portal: a product's own tests
            handler(ws, *args, **values)
        else:
            with guard.watch(ws):
                handler(ws, *args, **values)
    except ConnectionClosed:
        pass
    except Exception:
        log.exception("websocket route %s failed", request.path)
        if ws.connected:
            ws.close(INTERNAL_ERROR, "The server failed; reload the page to reconnect.")
    finally:
        ws.finish()
