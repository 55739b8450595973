"""Answers written straight to WSGI, for code that runs outside any Flask app (the Gate, a broken
product's placeholder): JSON for API clients, HTML pages for browsers, never cached."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus


def _respond(
    start_response: Callable,
    status: int,
    body: bytes,
    content_type: str,
    extra: list | None,
    exc_info: object = None,
) -> Iterable[bytes]:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *(extra or []),
    ]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers, exc_info)
    return [body]


def json_response(
    start_response: Callable, status: int, payload: dict, extra: list | None = None
) -> Iterable[bytes]:
    return _respond(start_response, status, json.dumps(payload).encode(), "application/json", extra)


def html_response(
    start_response: Callable,
    status: int,
    page: str,
    extra: list | None = None,
    exc_info: object = None,
) -> Iterable[bytes]:
    """`exc_info` when answering for a failed app, so a server that already sent headers can
    abort the response instead of appending to it."""
    return _respond(
        start_response, status, page.encode(), "text/html; charset=utf-8", extra, exc_info
    )
