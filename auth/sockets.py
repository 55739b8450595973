"""Open websockets per worker, so the portal can close the ones whose access has ended.

The Gate checks a websocket's upgrade request like any other. But a socket outlives its upgrade:
when its session ends (sign-out, back-channel logout, an admin), its user is blocked or its tier
drops below the product's, the server must close it. So the Gate registers every upgrade it lets
through with this process's :class:`SocketRegistry`, whatever the product serves it with (a
`PortalSock` route, plain flask-sock, any WSGI websocket library): it hands the product a
:class:`GuardedSocket` in place of the server's raw connection, and one watcher thread per
process re-reads the identity behind every registered socket and closes the ones that no longer
open their product, with a close code the page can act on:

    4001  the session ended (signed out, ended by an admin, expired): sign in again
    4003  the user is blocked or removed, or their tier no longer opens this product
    1001  the server is shutting down or restarting: reconnect
    1009  a message was larger than the route's `max_message_size`
    1011  the product's websocket handler failed
    1008  the client stopped answering pings, or stopped reading what it is sent

4001 and 4003 are application codes (4000 + the HTTP status the same request would now get), so
a page can tell "sign in again" from "this is no longer yours" without parsing the reason text.
A `PortalSock` route is closed through its own socket object (a clean closing handshake that
wakes its `receive`); any other is sent the close frame on the guarded connection, which then
refuses further writes, so the product's library sees the connection end.
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
from dataclasses import dataclass, field

from simple_websocket import ConnectionClosed, Server
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection

from auth.identity import ProductInfo
from auth.metrics import WEBSOCKETS_OPEN
from auth.resolver import IdentityResolver
from auth.tiers import Tier
from auth.users import Identity, identity_from_row
from db.users import user_with_grants

log = logging.getLogger(__name__)

SESSION_ENDED = 4001
ACCESS_REVOKED = 4003
MAX_REASON_BYTES = 123  # what a close frame can carry


def close_reason(text: str) -> str:
    """A close frame carries at most 123 bytes of reason; cut on a character boundary."""
    return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


class GuardedSocket:
    """The connection as a websocket library sees it: one writer at a time, whole frames, no hang.

    simple-websocket writes from the route's thread, its own reader thread (pings, pongs, the
    closing handshake) and, in the portal, from broadcasts and the watcher: frames must not
    interleave. A client that stops reading must not pin a thread forever, so a write that cannot
    finish within `send_timeout` drops the connection. Closing only shuts the connection down: the
    server (gunicorn, werkzeug) owns the descriptor and closes it when the request ends.
    """

    def __init__(self, sock: socket.socket, send_timeout: float = 5.0) -> None:
        self._sock = sock
        self.lock = threading.RLock()
        self._send_timeout = send_timeout
        self._terminated = False

    def send(self, data: bytes) -> int:
        with self.lock:
            if self._terminated:
                raise BrokenPipeError(errno.EPIPE, "the portal closed this websocket")
            self._send_all(data)
        return len(data)

    def _send_all(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + self._send_timeout
        while view:
            try:
                view = view[self._sock.send(view, socket.MSG_DONTWAIT) :]
            except BlockingIOError:
                if not self._writable_before(deadline):
                    self.close()
                    raise TimeoutError(errno.ETIMEDOUT, "the client stopped reading") from None

    def _writable_before(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        poller = select.poll()  # not select(): a worker with many sockets has descriptors > 1024
        poller.register(self._sock, select.POLLOUT)
        return bool(poller.poll(remaining * 1000))

    def terminate(self, code: int, reason: str, wait: float = 2.0) -> None:
        """Close from outside the product's websocket library: a close frame, then no more
        writes; the client's answer (or `wait` seconds) ends the library's reading too."""
        frame = Connection(ConnectionType.SERVER).send(CloseConnection(code, close_reason(reason)))
        with self.lock:
            if self._terminated:
                return
            self._terminated = True
            with contextlib.suppress(OSError, TimeoutError):
                self._send_all(frame)
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)
        timer = threading.Timer(wait, self.close)
        timer.daemon = True
        timer.start()

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


#: Where each server puts the raw connection that websocket libraries take over.
_SERVER_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")


def guard_connection(environ: dict) -> GuardedSocket | None:
    """Put a GuardedSocket in the environ in place of the server's connection, so the portal can
    close the socket whichever library the product upgrades it with."""
    for key in _SERVER_SOCKET_KEYS:
        raw = environ.get(key)
        if raw is not None:
            guarded = raw if isinstance(raw, GuardedSocket) else GuardedSocket(raw)
            environ[key] = guarded
            return guarded
    return None


def close_socket(ws: Server, code: int, reason: str) -> None:
    """Close a socket from outside its route; a socket that is already closed is left alone."""
    with contextlib.suppress(ConnectionClosed, OSError):
        ws.close(reason=code, message=close_reason(reason))


class SocketGuard:
    """One upgrade the Gate let through: who holds it, for which product, and how to close it."""

    def __init__(
        self,
        identity: Identity,
        product: ProductInfo,
        connection: GuardedSocket | None,
        needed: Tier | None = None,
    ) -> None:
        self.identity = identity
        self.product = product
        #: The tier the socket's path needs (a stricter sub-path's, or the folder's).
        self.needed = needed or product.tier
        self._connection = connection
        self._ws: Server | None = None

    @property
    def holder(self) -> str:
        """What the socket's access hangs on: its session, or the user of its access token."""
        return self.identity.session_id or f"bearer:{self.identity.user.subject}"

    @contextlib.contextmanager
    def watch(self, ws: Server) -> Iterator[Server]:
        """Close `ws` itself (a clean closing handshake) while the block runs; `PortalSock`
        routes do this for every socket."""
        self._ws = ws
        try:
            yield ws
        finally:
            self._ws = None

    def close(self, code: int, reason: str) -> None:
        if self._ws is not None:
            close_socket(self._ws, code, reason)
        elif self._connection is not None:
            self._connection.terminate(code, reason)


@dataclass(eq=False)
class SocketRegistry:
    """This process's guarded sockets by session, and the one thread that re-checks them."""

    resolver: IdentityResolver
    check_interval: float = 2.0
    _sockets: dict[str, set[SocketGuard]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _watcher: threading.Thread | None = field(default=None, init=False)

    @contextlib.contextmanager
    def holding(
        self, identity: Identity, product: ProductInfo, environ: dict, needed: Tier | None = None
    ) -> Iterator[SocketGuard]:
        """Register the upgrade in `environ` while the product serves it (for a websocket, the
        product's call lasts as long as the socket); `needed` is the tier its path needs."""
        guard = SocketGuard(identity, product, guard_connection(environ), needed)
        self._add(guard)
        open_sockets = WEBSOCKETS_OPEN.labels(product.key)
        open_sockets.inc()
        try:
            yield guard
        finally:
            open_sockets.dec()
            self._discard(guard)

    def _add(self, guard: SocketGuard) -> None:
        with self._lock:
            self._sockets.setdefault(guard.holder, set()).add(guard)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="portal-socket-watcher", daemon=True
                )
                self._watcher.start()

    def _discard(self, guard: SocketGuard) -> None:
        with self._lock:
            guards = self._sockets.get(guard.holder)
            if guards is not None:
                guards.discard(guard)
                if not guards:
                    del self._sockets[guard.holder]

    def close_session(self, session_id: str, reason: str) -> None:
        """Close this worker's sockets of one session at once (sign-out on this worker)."""
        with self._lock:
            guards = list(self._sockets.get(session_id, ())) if session_id else []
        for guard in guards:
            guard.close(SESSION_ENDED, f"Your session ended: {reason}.")

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket of this worker, e.g. with 1001 when it is told to stop."""
        with self._lock:
            guards = [guard for guards in self._sockets.values() for guard in guards]
        for guard in guards:
            guard.close(code, reason)

    def check(self) -> None:
        """One pass: re-read each watched session (or token user) once, however many sockets it
        has, and close the sockets it no longer opens."""
        with self._lock:
            watched = [list(guards) for guards in self._sockets.values()]
        for guards in watched:
            then = guards[0].identity
            now = self._current(then)
            if now is None and then.session_id:
                self.resolver.forget(then.session_id)
            for guard in guards:
                verdict = _verdict(now, guard.product, guard.needed)
                if verdict is not None:
                    guard.close(*verdict)

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
        cap = None if then.session_id else then.user.tier
        return identity_from_row(
            user,
            grants,
            session_id=then.session_id,
            logout_token=then.logout_token,
            tier_cap=cap,
            scopes=then.scopes,
        )


def _verdict(now: Identity | None, product: ProductInfo, needed: Tier) -> tuple[int, str] | None:
    if now is None:
        return SESSION_ENDED, "Your session ended. Sign in again to reconnect."
    if now.blocked:
        return ACCESS_REVOKED, "Your account is blocked."
    if not now.opens(product, needed):
        what = (
            product.key
            if needed is product.tier
            else f"{product.key} where it needs {needed.value}"
        )
        return ACCESS_REVOKED, f"Your tier no longer opens {what}."
    return None
