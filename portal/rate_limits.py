"""Sign-in attempts per client address, limited so nobody can hammer sign-in or the callback.

Flask-Limiter keeps the counts in Redis when `REDIS_URL` is set (shared by every node), in
process memory otherwise. Over the limit: 429 with `Retry-After`, as a readable page or JSON.

Redis only makes the limit shared, never switches it off: while Redis is unreachable (or does
not answer within `PORTAL_REDIS_TIMEOUT`) each process counts in its own memory with the same
limit, so a node lets through at most the limit per worker. Flask-Limiter logs the switch once
("falling back to in-memory storage"), checks Redis again with a growing pause (1 s doubling to
32 s), and logs when it is back.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from portal.settings import Settings


def create_limiter(app: Flask, settings: Settings) -> Limiter:
    """The limiter, kept on the app: Flask-Limiter's decorators hold it only weakly."""
    shared = {
        "storage_uri": settings.redis_url,
        "storage_options": {
            "socket_timeout": settings.redis_timeout,
            "socket_connect_timeout": settings.redis_timeout,
        },
        "in_memory_fallback_enabled": True,
    }
    limiter = Limiter(
        get_remote_address,
        app=app,
        **(shared if settings.redis_url else {"storage_uri": "memory://"}),
        headers_enabled=True,
        retry_after="delta-seconds",
        swallow_errors=True,
        key_prefix="portal-login",
        enabled=bool(settings.login_rate_limit),
    )
    app.extensions["portal.limiter"] = limiter
    return limiter
