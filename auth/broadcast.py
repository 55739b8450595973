"""Broadcast to every open websocket of a product, on every worker and every machine.

A socket lives in one worker process, so a message for "everyone on this product" must reach the
other workers too. With `REDIS_URL` set, a message goes through Redis pub/sub: each process
subscribes once (one connection and one listener thread, started by the first subscriber) and
delivers to its own sockets. Without it, delivery stays in this process, which is all a single
development server needs. Products use the same two calls either way::

    room = channel(app.product.key)
    with room.subscribe(ws):          # ws receives every message published to the room
        room.publish("hello")         # to every subscriber, this one included

Messages are text (JSON, usually). Redis does not store them: a socket that is not subscribed when
a message is published never sees it. `PORTAL_BROADCAST_PREFIX` keeps two portals that share a
Redis server (staging and production, two test runs) apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from simple_websocket import ConnectionClosed, Server

log = logging.getLogger(__name__)

REDIS_URL_ENV = "REDIS_URL"
PREFIX_ENV = "PORTAL_BROADCAST_PREFIX"
READY_TIMEOUT = 5.0


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

    def __init__(self, url: str, prefix: str) -> None:
        import redis  # only deployments that set REDIS_URL need the package

        super().__init__()
        self._redis = redis
        self._client = redis.Redis.from_url(url, health_check_interval=30)
        self._prefix = f"{prefix}:broadcast:"
        self._ready = threading.Event()
        self._listener: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def add(self, name: str, ws: Server) -> None:
        """Subscribe, after making sure this process listens, so nothing published from now on
        is missed."""
        with self._start_lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="portal-broadcast", daemon=True
                )
                self._listener.start()
        if not self._ready.wait(READY_TIMEOUT):
            log.warning("broadcast: Redis is not answering; messages may be missed")
        super().add(name, ws)

    def publish(self, name: str, message: str) -> None:
        try:
            self._client.publish(self._prefix + name, message)
        except self._redis.RedisError as error:
            raise BroadcastError(f"could not publish to Redis: {error}") from error

    def _listen(self) -> None:
        """Forever: subscribe to every channel of this portal and deliver; reconnect on errors."""
        delay = 0.5
        while True:
            pubsub = self._client.pubsub()
            try:
                pubsub.psubscribe(self._prefix + "*")
                confirmed = pubsub.get_message(timeout=READY_TIMEOUT)
                if confirmed is None or confirmed["type"] != "psubscribe":
                    raise self._redis.ConnectionError("Redis did not confirm the subscription")
                self._ready.set()
                delay = 0.5
                for item in pubsub.listen():
                    if item["type"] == "pmessage":
                        name = item["channel"].decode()[len(self._prefix) :]
                        self.deliver(name, item["data"].decode("utf-8", "replace"))
            except self._redis.RedisError:
                self._ready.clear()
                log.exception("broadcast: lost Redis; reconnecting in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                with contextlib.suppress(self._redis.RedisError, OSError):
                    pubsub.close()


class Channel:
    """A named group of sockets (usually all of a product's); see the module docstring."""

    def __init__(self, name: str, hub: LocalHub) -> None:
        self.name = name
        self._hub = hub

    @contextlib.contextmanager
    def subscribe(self, ws: Server) -> Iterator[Server]:
        self._hub.add(self.name, ws)
        try:
            yield ws
        finally:
            self._hub.remove(self.name, ws)

    def publish(self, message: str) -> None:
        """To every subscriber on every worker; raises BroadcastError when Redis is down."""
        self._hub.publish(self.name, message)


_hub: LocalHub | None = None
_hub_lock = threading.Lock()


def hub() -> LocalHub:
    """This process's hub, chosen on first use from `REDIS_URL`."""
    global _hub
    with _hub_lock:
        if _hub is None:
            url = os.environ.get(REDIS_URL_ENV, "").strip()
            prefix = os.environ.get(PREFIX_ENV, "").strip() or "portal"
            _hub = RedisHub(url, prefix) if url else LocalHub()
        return _hub


def channel(name: str) -> Channel:
    return Channel(name, hub())
