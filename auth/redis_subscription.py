"""One Redis pub/sub subscription per process that stays up by itself.

Broadcasts and cache invalidation both need a listener that is back soon after Redis is: a
stopped, restarted or hung server must not leave a process deaf for long, and whoever publishes
must be able to ask whether anyone is listening. So the listener

- reconnects with a backoff capped at `MAX_BACKOFF_SECONDS` (2 s): a Redis that comes back is
  heard again within about two seconds, however long it was away;
- pings the server every second and gives up on a connection that has not answered for `timeout`
  seconds (a hung server keeps its TCP connections open, so reads alone would wait forever);
- logs an outage once when it starts and once when it ends, not per attempt.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0
PING_EVERY_SECONDS = 1.0

Deliver = Callable[[str, str], None]


def redis_client(url: str, timeout: float) -> redis.Redis:
    """A client whose every call, connecting included, gives up after `timeout` seconds."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class Subscription:
    """Messages on channels matching `pattern`, handed to `deliver(channel, text)` on one thread."""

    def __init__(
        self, client: redis.Redis, pattern: str, deliver: Deliver, *, name: str, timeout: float
    ) -> None:
        self._client = client
        self._pattern = pattern
        self._deliver = deliver
        self._name = name
        self._timeout = timeout
        self._connected = threading.Event()
        self._ever_connected = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None
        self._confirmed_now = False

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"portal-{self._name}", daemon=True
                )
                self._thread.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def listening(self) -> bool:
        """Whether messages published now reach this process; started on first use, which may
        wait up to the timeout for the first connection (later outages answer at once)."""
        self.start()
        if self._ever_connected:
            return self._connected.is_set()
        return self._connected.wait(self._timeout)

    def _run(self) -> None:
        delay = FIRST_BACKOFF_SECONDS / 2
        while True:
            self._confirmed_now = False
            try:
                self._listen()
            except (redis.RedisError, OSError) as error:
                self._lost(error)
            except Exception as error:  # a client bug must not leave the process deaf for good
                log.exception("%s: the listener failed", self._name)
                self._lost(error)
            delay = (
                FIRST_BACKOFF_SECONDS
                if self._confirmed_now
                else min(delay * 2, MAX_BACKOFF_SECONDS)
            )
            time.sleep(delay)

    def _listen(self) -> None:
        pubsub = self._client.pubsub()
        try:
            pubsub.psubscribe(self._pattern)
            self._confirmed(pubsub)
            heard = pinged = time.monotonic()
            while True:
                item = pubsub.get_message(timeout=PING_EVERY_SECONDS)
                now = time.monotonic()
                if item is not None:
                    heard = now
                    if item["type"] == "pmessage":
                        self._hand_over(item)
                if now - pinged >= PING_EVERY_SECONDS:
                    pubsub.ping()
                    pinged = now
                if now - heard > PING_EVERY_SECONDS + self._timeout:
                    raise redis.TimeoutError(f"Redis has not answered for {now - heard:.1f} s")
        finally:
            self._connected.clear()
            with contextlib.suppress(redis.RedisError, OSError):
                pubsub.close()

    def _confirmed(self, pubsub: redis.client.PubSub) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            item = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if item is not None and item["type"] == "psubscribe":
                self._connected.set()
                self._ever_connected = self._confirmed_now = True
                if self._down_since is not None:
                    log.warning(
                        "%s: Redis is back after %.1f s; listening again",
                        self._name,
                        time.monotonic() - self._down_since,
                    )
                self._down_since = None
                return
        raise redis.TimeoutError("Redis did not confirm the subscription")

    def _hand_over(self, item: dict) -> None:
        channel = item["channel"].decode("utf-8", "replace")
        try:
            self._deliver(channel, item["data"].decode("utf-8", "replace"))
        except Exception:
            log.exception("%s: delivering a message failed", self._name)

    def _lost(self, error: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "%s: Redis unreachable (%s); retrying every %g s at most",
                self._name,
                error,
                MAX_BACKOFF_SECONDS,
            )
