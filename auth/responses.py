"""Answers written straight to WSGI, for code that runs outside any Flask app (the Gate, the
host router, a broken product's placeholder): JSON for API clients, pages for browsers, never
cached. `ErrorPage` is what every error page of the site says, whoever renders it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

from auth.identity import AUTH_METHOD_ENVIRON_KEY, PortalUser


@dataclass(frozen=True)
class ErrorPage:
    """An error as a person reads it: the status, a heading, a sentence, and where to go next."""

    status: int
    heading: str
    message: str
    details: str | None = None
    action_url: str | None = None
    action_label: str | None = None


class ErrorRenderer(Protocol):
    """Renders an ErrorPage in the portal's frame (`portal.pages.ErrorPages`)."""

    #: The dashboard's address from wherever a page is served (absolute on products' hosts).
    dashboard_url: str

    def __call__(
        self, page: ErrorPage, *, user: PortalUser | None = None, logout_token: str | None = None
    ) -> str: ...


def is_websocket(environ: dict) -> bool:
    return environ.get("HTTP_UPGRADE", "").lower() == "websocket"


def wants_json(environ: dict) -> bool:
    """API clients and websocket upgrades get JSON answers; browsers get pages and redirects.
    (A product never sees the bearer token a request came with: the auth method says it.)"""
    if environ.get("HTTP_AUTHORIZATION") or is_websocket(environ):
        return True
    if environ.get(AUTH_METHOD_ENVIRON_KEY) == "bearer":
        return True
    accept = environ.get("HTTP_ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


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


def error_answer(
    environ: dict,
    start_response: Callable,
    page: ErrorPage,
    render: ErrorRenderer,
    *,
    error: str,
    extra: list | None = None,
    fields: dict | None = None,
) -> Iterable[bytes]:
    """An error for whoever asked: JSON (`error`, `message` and `fields`) for API clients, the
    page in the portal's frame for browsers."""
    if wants_json(environ):
        payload = {"error": error, "message": page.message, **(fields or {})}
        return json_response(start_response, page.status, payload, extra)
    return html_response(start_response, page.status, render(page), extra)
