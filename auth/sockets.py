"""Open websockets per worker, so the portal can close the ones whose access has ended.

The Gate checks a websocket's upgrade request like any other. But a socket outlives its upgrade:
when its session ends (sign-out, back-channel logout, an admin), its user is blocked or its tier
drops below the product's, the server must close it. The Gate hands each accepted upgrade a
:class:`SocketGuard` (`environ["portal.socket_guard"]`); the product's websocket route registers
its socket with it (`auth.authflask.PortalSock` does this for every route), and one watcher thread
per process re-reads the identity behind every registered socket and closes the ones that no
longer open their product, with a close code the page can act on:

    4001  the session ended (signed out, ended by an admin, expired): sign in again
    4003  the user is blocked or removed, or their tier no longer opens this product
    1001  the server is shutting down or restarting: reconnect
    1009  a message was larger than the route's `max_message_size`
    1011  the product's websocket handler failed
    1008  the client stopped answering pings, or stopped reading what it is sent

4001 and 4003 are application codes (4000 + the HTTP status the same request would now get), so
a page can tell "sign in again" from "this is no longer yours" without parsing the reason text.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from simple_websocket import ConnectionClosed, Server

from auth.identity import ProductInfo
from auth.metrics import WEBSOCKETS_OPEN
from auth.resolver import Identity, IdentityResolver
from db.users import to_portal_user, user_with_grants

log = logging.getLogger(__name__)

SESSION_ENDED = 4001
ACCESS_REVOKED = 4003
MAX_REASON_BYTES = 123  # what a close frame can carry


def close_reason(text: str) -> str:
    """A close frame carries at most 123 bytes of reason; cut on a character boundary."""
    return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


class _SerialSocket:
    """The connection as simple-websocket sees it: one writer at a time, whole frames, no hang.

    simple-websocket writes from the route's thread, its own reader thread (pings, pongs, the
    closing handshake) and, in the portal, from broadcasts and the watcher: frames must not
    interleave. A client that stops reading must not pin a thread forever, so a write that cannot
    finish within `send_timeout` drops the connection. Closing only shuts the connection down: the
    server (gunicorn, werkzeug) owns the descriptor and closes it when the request ends.
    """

    def __init__(self, sock: socket.socket, lock: threading.RLock, send_timeout: float) -> None:
        self._sock = sock
        self._lock = lock
        self._send_timeout = send_timeout

    def send(self, data: bytes) -> int:
        with self._lock:
            view = memoryview(data)
            deadline = time.monotonic() + self._send_timeout
            while view:
                try:
                    view = view[self._sock.send(view, socket.MSG_DONTWAIT) :]
                except BlockingIOError:
                    if not self._writable_before(deadline):
                        self.close()
                        raise TimeoutError(errno.ETIMEDOUT, "the client stopped reading") from None
        return len(data)

    def _writable_before(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        poller = select.poll()  # not select(): a worker with many sockets has descriptors > 1024
        poller.register(self._sock, select.POLLOUT)
        return bool(poller.poll(remaining * 1000))

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


class PortalWebSocket(Server):
    """simple-websocket's Server, safe to use from several threads at once.

    Products get one from `PortalSock` routes; its API is simple-websocket's (`send`, `receive`,
    `close`). Unlike the original, `close` wakes a `receive` that is waiting, so a route returns
    as soon as the portal closes its socket.
    """

    def __init__(self, environ: dict, *, send_timeout: float = 5.0, **options: object) -> None:
        self._send_lock = threading.RLock()
        self._send_timeout = send_timeout
        super().__init__(environ, **options)

    def handshake(self) -> None:
        self.sock = _SerialSocket(self.sock, self._send_lock, self._send_timeout)
        super().handshake()

    def send(self, data: str | bytes) -> None:
        with self._send_lock:
            super().send(data)

    def close(self, reason: int | None = None, message: str | None = None) -> None:
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


def close_socket(ws: Server, code: int, reason: str) -> None:
    """Close a socket from outside its route; a socket that is already closed is left alone."""
    with contextlib.suppress(ConnectionClosed, OSError):
        ws.close(reason=code, message=close_reason(reason))


@dataclass(eq=False)
class _Watched:
    ws: Server
    product: ProductInfo
    identity: Identity

    @property
    def holder(self) -> str:
        """What the socket's access hangs on: its session, or the user of its access token."""
        return self.identity.session_id or f"bearer:{self.identity.user.subject}"


class SocketGuard:
    """One accepted upgrade's identity, bound to the registry; products call `watch(ws)`."""

    def __init__(self, registry: SocketRegistry, identity: Identity, product: ProductInfo) -> None:
        self._registry = registry
        self._identity = identity
        self._product = product

    @contextlib.contextmanager
    def watch(self, ws: Server) -> Iterator[Server]:
        """Keep `ws` under watch while the block runs: it is closed when its access ends."""
        entry = _Watched(ws, self._product, self._identity)
        self._registry.add(entry)
        open_sockets = WEBSOCKETS_OPEN.labels(self._product.key)
        open_sockets.inc()
        try:
            yield ws
        finally:
            open_sockets.dec()
            self._registry.discard(entry)


@dataclass(eq=False)
class SocketRegistry:
    """This process's watched sockets by session, and the one thread that re-checks them."""

    resolver: IdentityResolver
    check_interval: float = 2.0
    _sockets: dict[str, set[_Watched]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _watcher: threading.Thread | None = field(default=None, init=False)

    def guard(self, identity: Identity, product: ProductInfo) -> SocketGuard:
        return SocketGuard(self, identity, product)

    def add(self, entry: _Watched) -> None:
        with self._lock:
            self._sockets.setdefault(entry.holder, set()).add(entry)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="portal-socket-watcher", daemon=True
                )
                self._watcher.start()

    def discard(self, entry: _Watched) -> None:
        with self._lock:
            entries = self._sockets.get(entry.holder)
            if entries is not None:
                entries.discard(entry)
                if not entries:
                    del self._sockets[entry.holder]

    def count(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._sockets.values())

    def close_session(self, session_id: str, reason: str) -> None:
        """Close this worker's sockets of one session at once (sign-out on this worker)."""
        with self._lock:
            entries = list(self._sockets.get(session_id, ())) if session_id else []
        for entry in entries:
            close_socket(entry.ws, SESSION_ENDED, f"Your session ended: {reason}.")

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket of this worker, e.g. with 1001 when it is told to stop."""
        with self._lock:
            entries = [entry for entries in self._sockets.values() for entry in entries]
        for entry in entries:
            close_socket(entry.ws, code, reason)

    def check(self) -> None:
        """One pass: re-read each watched session (or token user) once, however many sockets it
        has, and close the sockets it no longer opens."""
        with self._lock:
            watched = [list(entries) for entries in self._sockets.values()]
        for entries in watched:
            then = entries[0].identity
            now = self._current(then)
            if now is None and then.session_id:
                self.resolver.forget(then.session_id)
            for entry in entries:
                verdict = _verdict(now, entry.product)
                if verdict is not None:
                    close_socket(entry.ws, *verdict)

    def _watch(self) -> None:
        while True:
            time.sleep(self.check_interval)
            try:
                self.check()
            except Exception:
                log.exception("could not re-check open websockets; trying again")

    def _current(self, then: Identity) -> Identity | None:
        """The identity as the database has it now, not as the resolver's cache remembers it.

        Sessions are read with `load_with_user`, so a live socket counts as use and keeps its
        session from idling out (the absolute lifetime still ends it). A socket opened with an
        access token has no session: its user is re-read, and its tier stays capped by the
        token's (the tier it was let in with).
        """
        store = self.resolver.store
        if then.session_id:
            found = store.load_with_user(then.session_id)
            if found is None:
                return None
            user, grants = found.user, found.grants
        else:
            by_subject = user_with_grants(store.database, then.user.subject)
            if by_subject is None:
                return None
            user, grants = by_subject
        portal_user = to_portal_user(user)
        if not then.session_id and then.user.tier.rank < portal_user.tier.rank:
            portal_user = replace(portal_user, tier=then.user.tier)
        return replace(then, user=portal_user, blocked=user.refused, grants=grants)


def _verdict(now: Identity | None, product: ProductInfo) -> tuple[int, str] | None:
    if now is None:
        return SESSION_ENDED, "Your session ended. Sign in again to reconnect."
    if now.blocked:
        return ACCESS_REVOKED, "Your account is blocked."
    if not now.opens(product):
        return ACCESS_REVOKED, f"Your tier no longer opens {product.key}."
    return None
