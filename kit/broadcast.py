"""Broadcast to every open websocket of a product, on every worker and every machine.

A socket lives in one worker process, so a message for "everyone on this product" must reach the
other workers too. With `REDIS_URL` set, a message goes through Redis pub/sub: each process
subscribes once (one connection and one listener thread, started by the first subscriber) and
delivers to its own sockets. Without it, delivery stays in this process, which is all a single
development server needs. Products use the same two calls either way:

    room = channel(app.product.key)
    with room.subscribe(ws):          # ws receives every message published to the room
        room.publish("hello")         # to every subscriber, this one included

Messages are text (JSON, usually). Redis does not store them: a socket that is not subscribed when
a message is published never sees it. `PORTAL_BROADCAST_PREFIX` keeps two portals that share a
Redis server (staging and production, two test runs) apart.

A message is never lost silently. `publish` raises `BroadcastError` when it cannot say
the message went out: Redis refuses or does not answer within `PORTAL_REDIS_TIMEOUT`, this
process's listener is not connected (Redis is away, or back and the listener is reconnecting,
which takes at most about two seconds), or Redis reports that nobody at all is listening (it
restarted and no process has resubscribed yet). The product decides what that means for its
users, e.g. "others can't hear you right now".
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from simple_websocket import ConnectionClosed, Server

log = logging.getLogger(__name__)

DEFAULT_REDIS_TIMEOUT = 1.0


class BroadcastError(RuntimeError):
    """Redis could not take the message; the product decides whether that matters."""


class LocalHub:
    """Subscribers of this process by channel; delivers messages published in this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Server]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, ws: Server) -> None:
        with self._lock:
            self._subscribers.setdefault(name, set()).add(ws)

    def remove(self, name: str, ws: Server) -> None:
        with self._lock:
            subscribers = self._subscribers.get(name)
            if subscribers is not None:
                subscribers.discard(ws)
                if not subscribers:
                    del self._subscribers[name]

    def publish(self, name: str, message: str) -> None:
        self.deliver(name, message)

    def deliver(self, name: str, message: str) -> None:
        """Send to each local subscriber; one that is closed or too slow is dropped, not waited
        on (its route ends on its own)."""
        with self._lock:
            subscribers = list(self._subscribers.get(name, ()))
        for ws in subscribers:
            try:
                ws.send(message)
            except (ConnectionClosed, OSError):
                self.remove(name, ws)


class RedisHub(LocalHub):
    """Publishes through Redis; one listener thread delivers what any process published."""

    def __init__(self, url: str, prefix: str, timeout: float = DEFAULT_REDIS_TIMEOUT) -> None:
        import redis  # only deployments that set REDIS_URL need the package

        from auth.redis_subscription import Subscription, redis_client

        super().__init__()
        self._redis = redis
        self._client = redis_client(url, timeout)
        self._prefix = f"{prefix}:broadcast:"
        self._listener = Subscription(
            self._client, self._prefix + "*", self._received, name="broadcast", timeout=timeout
        )

    @property
    def connected(self) -> bool:
        return self._listener.connected

    def add(self, name: str, ws: Server) -> None:
        """Subscribe, after making sure this process listens, so nothing published from now on
        is missed (unless Redis is away, which is logged by the listener)."""
        self._listener.listening()
        super().add(name, ws)

    def publish(self, name: str, message: str) -> None:
        if not self._listener.listening():
            raise BroadcastError("not connected to Redis: the message was not sent")
        try:
            receivers = self._client.publish(self._prefix + name, message)
        except self._redis.RedisError as error:
            raise BroadcastError(f"could not publish to Redis: {error}") from error
        if not receivers:
            raise BroadcastError("no process is listening on Redis yet: the message was lost")

    def _received(self, channel: str, message: str) -> None:
        self.deliver(channel[len(self._prefix) :], message)


class Channel:
    """A named group of sockets (usually all of a product's); see the module docstring."""

    def __init__(self, name: str, hub: LocalHub) -> None:
        self.name = name
        self._hub = hub

    @contextlib.contextmanager
    def subscribe(self, ws: Server) -> Iterator[Server]:
        """`ws` receives every message published to this channel while the block runs, and none
        after it, however the block ends (a closed socket leaves no subscriber behind)."""
        self._hub.add(self.name, ws)
        try:
            yield ws
        finally:
            self._hub.remove(self.name, ws)

    def publish(self, message: str) -> None:
        """To every subscriber on every worker; raises BroadcastError when it could not be sent
        (see the module's docstring)."""
        self._hub.publish(self.name, message)


_hub: LocalHub | None = None
_hub_lock = threading.Lock()


def hub() -> LocalHub:
    """This process's hub: in-process until the portal configures Redis (a product's own tests
    never need more)."""
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = LocalHub()
        return _hub


def configure(url: str, prefix: str, timeout: float) -> None:
    """The portal's settings (`REDIS_URL`, `PORTAL_BROADCAST_PREFIX`, `PORTAL_REDIS_TIMEOUT`)
    for this process's hub: through Redis when a URL is set, in-process otherwise."""
    global _hub
    with _hub_lock:
        if url and not isinstance(_hub, RedisHub):
            _hub = RedisHub(url, prefix, timeout)


def channel(name: str) -> Channel:
    """The channel `name` on this process's hub; the same name is the same channel on every
    worker. A product's own key (`app.product.key`) keeps its messages apart from others'."""
    return Channel(name, hub())
