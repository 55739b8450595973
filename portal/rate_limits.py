"""Sign-in attempts per client address, limited so nobody can hammer sign-in or the callback.

Flask-Limiter keeps the counts in Redis when `REDIS_URL` is set (shared by every node), in
process memory otherwise. Over the limit: 429 with `Retry-After`, as a readable page or JSON.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from portal.config import Settings


def create_limiter(app: Flask, settings: Settings) -> Limiter:
    """The limiter, kept on the app: Flask-Limiter's decorators hold it only weakly."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        headers_enabled=True,
        retry_after="delta-seconds",
        swallow_errors=True,
        key_prefix="portal-login",
        enabled=bool(settings.login_rate_limit),
    )
    app.extensions["portal.limiter"] = limiter
    return limiter
