"""Dropping cached identities on every worker and node at once, through Redis.

Each process caches who a session belongs to for `PORTAL_IDENTITY_CACHE_SECONDS`
(:mod:`auth.resolver`). When a session ends (sign-out, sign-out everywhere, an admin, the
provider's back-channel logout, a block) or a user changes (tier, block, grants, a sync), the
process that made the change says so on one Redis channel that every process listens to, and each
drops its cached copy as soon as it hears. The message names only the session's stored key (its
SHA-256, never the id in the cookie) or the user's row id.

Redis is an accelerator here, not a dependency: the process making the change drops its own copy
without it, and while Redis is away every other process still lets go when its cache lifetime
ends, which stays the bound. A failure to publish is logged once per outage, not per change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

log = logging.getLogger(__name__)

SESSION = "session"
USER = "user"


class Forgetting(Protocol):
    def forget_keys(self, keys: Iterable[str]) -> None: ...

    def forget_users(self, user_ids: Iterable[int]) -> None: ...


class Invalidations:
    """`auth.sessions.Changes` for the whole site; `listen(resolver)` applies what others say."""

    def __init__(self, redis_url: str = "", prefix: str = "portal", timeout: float = 1.0) -> None:
        self._channel = f"{prefix}:invalidate"
        self._targets: list[Forgetting] = []
        self._client = None
        self._subscription = None
        self._failing = threading.Event()
        if redis_url:
            import redis

            from auth.redis_subscription import Subscription, redis_client

            self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
            self._client = redis_client(redis_url, timeout)
            self._subscription = Subscription(
                self._client, self._channel, self._received, name="invalidation", timeout=timeout
            )

    def listen(self, target: Forgetting) -> None:
        """Apply every invalidation, this process's and every other's, to `target`."""
        self._targets.append(target)
        if self._subscription is not None:
            self._subscription.start()

    @property
    def connected(self) -> bool | None:
        """Whether this process hears other processes' changes now; None without Redis."""
        return None if self._subscription is None else self._subscription.connected

    def sessions_ended(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for target in self._targets:
            target.forget_keys(keys)
        self._publish(f"{SESSION}:{key}" for key in keys)

    def users_changed(self, user_ids: Iterable[int]) -> None:
        user_ids = list(user_ids)
        for target in self._targets:
            target.forget_users(user_ids)
        self._publish(f"{USER}:{user_id}" for user_id in user_ids)

    def _publish(self, messages: Iterable[str]) -> None:
        if self._client is None:
            return
        try:
            for message in messages:
                self._client.publish(self._channel, message)
        except self._errors as error:
            if not self._failing.is_set():
                self._failing.set()
                log.warning(
                    "could not tell other workers about a change through Redis (%s); they "
                    "notice within PORTAL_IDENTITY_CACHE_SECONDS",
                    error,
                )
            return
        if self._failing.is_set():
            self._failing.clear()
            log.warning("invalidations reach other workers through Redis again")

    def _received(self, _channel: str, message: str) -> None:
        kind, _, value = message.partition(":")
        for target in self._targets:
            if kind == SESSION and value:
                target.forget_keys([value])
            elif kind == USER and value.isdigit():
                target.forget_users([int(value)])
