"""Websocket routes for products: `PortalSock` (flask-sock's `Sock`) and the socket they get.

``@app.websocket("/ws")`` (AuthFlask) or ``PortalSock(app).route("/ws")`` (any Flask app) is
flask-sock's route, served at ``/<tier>/<name>/ws`` behind the Gate. The portal closes the
socket when the user's session ends or their tier no longer opens the product (see
`auth.sockets` for the close codes), sends pings every ``ping_interval`` seconds and closes
with 1009 on a message larger than ``max_message_size``; both are settable per product
(``PortalSock(app, ...)``) or per route:

    @app.websocket("/ws", max_message_size=1_000_000)
    def echo(ws):
        while True:
            ws.send(ws.receive())
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed, Server

from auth.identity import SOCKET_GUARD_ENVIRON_KEY
from auth.sockets import GuardedSocket, close_reason

log = logging.getLogger(__name__)

WEBSOCKET_DEFAULTS: dict[str, Any] = {"ping_interval": 25.0, "max_message_size": 64 * 1024}
"""Pings keep idle sockets open through proxies (which drop them after ~60 s) and find dead clients;
64 KiB bounds what one message can make a worker hold. Products may change both."""
_SOCKET_OPTIONS = (*WEBSOCKET_DEFAULTS, "send_timeout", "subprotocols")
INTERNAL_ERROR = 1011


class PortalWebSocket(Server):
    """simple-websocket's Server, safe to use from several threads at once.

    Products get one from `PortalSock` routes; its API is simple-websocket's (`send`, `receive`,
    `close`). Unlike the original, `close` wakes a `receive` that is waiting, so a route returns
    as soon as the portal closes its socket.
    """

    def __init__(self, environ: dict, *, send_timeout: float = 5.0, **options: object) -> None:
        self._send_timeout = send_timeout
        super().__init__(environ, **options)

    def handshake(self) -> None:
        """Outside the portal (a product's own tests) the connection is guarded here; behind the
        Gate it already is, and frames share its one lock."""
        if not isinstance(self.sock, GuardedSocket):
            self.sock = GuardedSocket(self.sock, self._send_timeout)
        self._send_lock = self.sock.lock
        super().handshake()

    def send(self, data: str | bytes) -> None:
        """One message, text or bytes; several threads may send at once (a route's own loop
        and a broadcast), so frames never interleave."""
        with self._send_lock:
            super().send(data)

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Close with a code and a reason; a `receive` waiting in another thread returns at once,
        so the route ends instead of holding its worker."""
        try:
            with self._send_lock:
                super().close(reason, close_reason(message) if message else None)
        finally:
            self.event.set()

    def finish(self, wait: float = 2.0) -> None:
        """End the connection: close it if still open, give the client `wait` seconds to answer
        the closing handshake, then shut it down, so no reader thread outlives its request."""
        with contextlib.suppress(ConnectionClosed, OSError):
            self.close()
        self.thread.join(wait)
        self.sock.close()


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
        """flask-sock's `route`: the decorated `handler(ws, **values)` serves `path` (on `bp`,
        if given) with a `PortalWebSocket`, and the socket closes when the handler returns.

        Args:
            path: The route inside the product, as Flask writes it (`/ws/<room>`).
            bp: A blueprint to add the route to instead of the app.
            **kwargs: `ping_interval`, `max_message_size`, `send_timeout` and `subprotocols` for
                this route's sockets; the rest are Flask's `route` options.
        """
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
