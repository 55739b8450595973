"""What the Management API answers before and around its endpoints: errors in Auth0's shape,
the scope each endpoint's token must hold, the rate limit, and test-only fault injection.

Auth0 answers every Management API error as
``{"statusCode": 400, "error": "Bad Request", "message": "...", "errorCode": "..."}``; the portal's
client reads those, so the provider writes exactly that shape, for every status.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, request
from werkzeug.http import HTTP_STATUS_CODES

#: Paths (relative to the mount) whose errors are answered in Auth0's JSON shape.
MANAGEMENT_PREFIXES = ("/api/v2/", "/exports/")


class Auth0Error(Exception):
    """Raised by an endpoint to answer with Auth0's error body."""

    def __init__(self, status: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code


def error_body(status: int, message: str, error_code: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "statusCode": status,
        "error": HTTP_STATUS_CODES.get(status, "Error"),
        "message": message,
    }
    if error_code:
        body["errorCode"] = error_code
    return body


def error_response(
    status: int, message: str, error_code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(error_body(status, message, error_code))
    return Response(body, status, headers, mimetype="application/json")


def route(
    blueprint: Blueprint, rule: str, scope: str, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Callable], Callable]:
    """Add a Management API endpoint with the scope its caller's token must hold."""

    def register(view: Callable) -> Callable:
        view.required_scope = scope  # type: ignore[attr-defined]
        blueprint.add_url_rule(rule, view.__name__, view, methods=list(methods))
        return view

    return register


def required_scope() -> str | None:
    """The scope the endpoint of this request wants (None when no endpoint matched)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "required_scope", None)


class RateLimiter:
    """Requests per second per token holder, in fixed one-second windows, like a tenant's limit.

    Counted in this process only: under several workers each has its own count, which is close
    enough for a stand-in. Change ``limit`` at any time (0 = unlimited).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, holder: str) -> tuple[bool, dict[str, str]]:
        """Count one request; (allowed, the X-RateLimit-* headers to send either way)."""
        limit = self.limit
        if limit <= 0:
            return True, {}
        window = int(time.time())
        with self._lock:
            start, used = self._windows.get(holder, (window, 0))
            if start != window:
                used = 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[holder] = (window, used)
        return allowed, {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - used),
            "X-RateLimit-Reset": str(window + 1),
        }


@dataclass
class Fault:
    pattern: str
    method: str | None
    remaining: int
    status: int | None
    body: str
    delay: float
    headers: dict[str, str] = field(default_factory=dict)


class Faults:
    """Test-only: make the next requests to a path misbehave, to test the portal's client.

    Paths are relative to the provider's mount and may use shell wildcards
    (``"/api/v2/users*"``). A fault answers before anything else, the token check included::

        faults.fail("/api/v2/users/*", 503, times=2)   # two 503s in Auth0's shape, then normal
        faults.malformed("/api/v2/users")              # 200 with a truncated JSON body
        faults.stall("/api/v2/roles", 2.0)             # wait 2 s, then answer normally

    Never configure faults outside tests; a fresh provider has none.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        pattern: str,
        *,
        times: int = 1,
        status: int | None = None,
        body: str = "",
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> None:
        """The general form: after ``delay`` seconds answer ``status`` with ``body``, or, with no
        status, carry on normally; ``times`` requests matching ``method`` and ``pattern``."""
        fault = Fault(
            pattern, method and method.upper(), times, status, body, delay, dict(headers or {})
        )
        with self._lock:
            self._faults.append(fault)

    def fail(
        self,
        pattern: str,
        status: int = 503,
        *,
        times: int = 1,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = json.dumps(error_body(status, "Injected failure"))
        self.add(pattern, times=times, status=status, body=body, headers=headers, method=method)

    def malformed(
        self,
        pattern: str,
        *,
        times: int = 1,
        body: str = '{"users": [{"user_id": ',
        method: str | None = None,
    ) -> None:
        self.add(pattern, times=times, status=200, body=body, method=method)

    def stall(
        self, pattern: str, seconds: float, *, times: int = 1, method: str | None = None
    ) -> None:
        self.add(pattern, times=times, delay=seconds, method=method)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method) and fnmatch.fnmatchcase(path, fault.pattern):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def answer(self, method: str, path: str) -> Response | None:
        """Apply a matching fault: sleep, then the response to send (None = carry on)."""
        fault = self.take(method, path)
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is None:
            return None
        return Response(fault.body, fault.status, fault.headers, mimetype="application/json")
