"""Websockets to a product's own server: the upgrade passed on, then bytes pumped both ways.

The Gate has checked the upgrade (session, tier, `Origin`) and registered it with the socket
guard (`auth.sockets`) before this runs. The upgrade goes to the server with the portal's
identity headers; its answer is parsed by `http.client`. A refusal (403, 404) is handed back as
an ordinary answer; a 101 is written to the client's connection, taken from the server
(gunicorn's `gunicorn.socket`, the development server's `werkzeug.socket`), and from then on
whatever either side sends is passed to the other unread, until one of them closes.

The portal must still be able to close the socket like an in-process one (sign-out, a block, a
tier drop), with the close code a page acts on. Frames from the server can't be cut in two for
that, so the relay keeps count of where they end (two to fourteen header bytes each, the rest
skipped unread) and puts its close frame between two of them.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, BinaryIO

from urllib3.exceptions import HTTPError
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection

from auth.identity import SOCKET_GUARD_ENVIRON_KEY
from auth.responses import json_response
from auth.sockets import GuardedSocket, guard_connection
from portal.products.proxy_headers import response_headers
from portal.products.upstream_health import failure

if TYPE_CHECKING:
    from portal.products.proxy import ProxyApp

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
#: How long a close waits for the server to finish the frame it is sending, and then for the
#: client to answer the close frame, before both connections are dropped.
CLOSE_WAIT_SECONDS = 2.0
#: Headers of the server's 101 that stay behind: cookies set on a handshake would bypass the
#: Gate's cookie scoping, and the portal's server states its own date and name.
_HANDSHAKE_DROPPED = frozenset({"set-cookie", "date", "server"})
#: What the server is told when the portal closes the socket: the client went away (as a client
#: sends it, masked).
_GOING_AWAY = Connection(ConnectionType.CLIENT).send(
    CloseConnection(1001, "The portal closed this connection.")
)


def relay(
    proxy: ProxyApp, upstream: str, environ: dict, start_response: Callable
) -> Iterable[bytes]:
    """Serve one websocket upgrade by relaying it to the product's server."""
    client = guard_connection(environ)
    if client is None:
        return json_response(
            start_response,
            501,
            {"error": "not_implemented", "message": "this server can't hand over connections"},
        )
    pool = proxy.pool(upstream)
    connection = pool._new_conn()  # a connection of the pool's kind (TCP, TLS or unix socket)
    try:
        connection.putrequest(
            "GET", proxy.target(upstream, environ), skip_host=True, skip_accept_encoding=True
        )
        for name, value in proxy.headers_for(environ, websocket=True):
            connection.putheader(name, value)
        connection.endheaders()
        connection.sock.settimeout(proxy.product.timeout)
        answer = http.client.HTTPResponse(connection.sock, method="GET")
        answer.begin()
    except HTTPError as error:
        connection.close()
        return proxy.unreachable(environ, start_response, error)
    except TimeoutError:
        connection.close()
        return proxy.failed(environ, start_response, 504, f"no answer within {proxy.timeout}")
    except (http.client.HTTPException, OSError) as error:
        connection.close()
        return proxy.failed(environ, start_response, 502, failure(error))
    if answer.status != 101:
        body = answer.read()
        connection.close()
        headers = response_headers(
            answer.getheaders(),
            mount=environ.get("SCRIPT_NAME", ""),
            upstream=upstream,
            host=environ.get("HTTP_HOST", ""),
        )
        start_response(f"{answer.status} {answer.reason}", headers)
        return [body]
    connection.sock.settimeout(None)
    pipe = Relay(client, connection.sock, answer.fp)
    guard = environ.get(SOCKET_GUARD_ENVIRON_KEY)
    try:
        client.send(_handshake(answer))
        with guard.watch(pipe) if guard is not None else contextlib.nullcontext():
            pipe.run()
    except OSError as error:
        log.info("websocket to %s ended: %s", proxy.product.key, error)
    finally:
        answer.close()
        connection.close()
    return _finished(environ, client, start_response)


def _handshake(answer: http.client.HTTPResponse) -> bytes:
    lines = [f"HTTP/1.1 101 {answer.reason or 'Switching Protocols'}"]
    lines += [
        f"{name}: {value}"
        for name, value in answer.getheaders()
        if name.lower() not in _HANDSHAKE_DROPPED
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _finished(environ: dict, client: GuardedSocket, start_response: Callable) -> Iterable[bytes]:
    """End the request without an answer: everything went through the connection itself."""
    client.close()
    if "gunicorn.socket" in environ:
        raise StopIteration  # gunicorn's workers close the connection on it, quietly
    start_response("200 OK", [("Connection", "close"), ("Content-Length", "0")])
    return []


class FrameEnds:
    """Where the frames in one direction of a websocket end (RFC 6455 section 5.2), counted
    from their headers alone: payloads are skipped, never read or unmasked."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._left = 0

    @property
    def at_end(self) -> bool:
        return not self._left and not self._header

    def advance(self, data: bytes, *, stop_at_end: bool = False) -> int:
        """Count `data` in; with `stop_at_end`, only up to the end of the frame it is in. The
        number of bytes counted."""
        index, size = 0, len(data)
        while index < size:
            if self._left:
                step = min(self._left, size - index)
                index += step
                self._left -= step
            else:
                self._header.append(data[index])
                index += 1
                if len(self._header) < _header_size(self._header):
                    continue
                self._left = _payload_size(self._header)
                self._header.clear()
            if stop_at_end and self.at_end:
                break
        return index


def _header_size(header: bytearray) -> int:
    if len(header) < 2:
        return 2
    short = header[1] & 0x7F
    extended = 2 if short == 126 else 8 if short == 127 else 0
    return 2 + extended + (4 if header[1] & 0x80 else 0)


def _payload_size(header: bytearray) -> int:
    short = header[1] & 0x7F
    if short == 126:
        return int.from_bytes(header[2:4], "big")
    if short == 127:
        return int.from_bytes(header[2:10], "big")
    return short


class Relay:
    """Both directions of one relayed websocket, and the portal's way to close it."""

    def __init__(self, client: GuardedSocket, server: socket.socket, reader: BinaryIO) -> None:
        self.client = client
        self.server = server
        self._read = reader.read1
        self._frames = FrameEnds()
        self._upward = FrameEnds()
        self._upward_lock = threading.Lock()
        self._closing: tuple[int, str] | None = None

    def run(self) -> None:
        """Pump until either side is done; the client's side runs in a thread of its own (a
        greenlet on gevent workers)."""
        upward = threading.Thread(target=self._client_to_server, name="websocket-relay")
        upward.daemon = True
        upward.start()
        try:
            self._server_to_client()
        finally:
            self._shut(self.server)
            if self._closing is None:
                self.client.close()
            upward.join(CLOSE_WAIT_SECONDS * 2)

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Close as the socket guard does for in-process sockets: a close frame with `reason`
        once the server's current frame is through, then both connections end."""
        with self.client.lock:
            if self._closing is not None:
                return
            self._closing = (reason or 1000, message or "")
            if self._frames.at_end:
                self._close_client(*self._closing)
        timer = threading.Timer(CLOSE_WAIT_SECONDS, self._abort)
        timer.daemon = True
        timer.start()

    def _server_to_client(self) -> None:
        while True:
            try:
                data = self._read(CHUNK_BYTES)
            except OSError:
                return
            if not data:
                return
            with self.client.lock:
                try:
                    if self._closing is None:
                        self.client.send(data)
                        self._frames.advance(data)
                        continue
                    through = self._frames.advance(data, stop_at_end=True)
                    self.client.send(data[:through])
                except (OSError, TimeoutError):
                    return
                if self._frames.at_end:
                    self._close_client(*self._closing)
                    return

    def _client_to_server(self) -> None:
        try:
            while data := self.client.recv(CHUNK_BYTES):
                with self._upward_lock:
                    if self._closing is not None:
                        continue
                    self.server.sendall(data)
                    self._upward.advance(data)
        except OSError:
            pass
        finally:
            self._shut(self.server)

    def _close_client(self, code: int, reason: str) -> None:
        """The client gets the close code; the server, first, a close frame of its own (between
        two of the client's frames), so it sees a clean end rather than a dropped connection."""
        with self._upward_lock:
            if self._upward.at_end:
                with contextlib.suppress(OSError):
                    self.server.sendall(_GOING_AWAY)
        self.client.terminate(code, reason, wait=CLOSE_WAIT_SECONDS)
        self._shut(self.server)

    def _abort(self) -> None:
        self._shut(self.server)
        self.client.close()

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
