"""Pages and errors of the portal app, in the portal's frame: HTML for people, JSON for APIs.

The signed-in person is resolved once per request (`identity()`, kept in `flask.g`); every page
gets the frame's variables from `kit.frame`, and every error the one error renderer
(`portal.pages`), so a refusal from here reads like one from the Gate.
"""

from __future__ import annotations

from flask import Response, g, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from auth.cookies import TamperedCookies
from auth.responses import ErrorPage, wants_json
from auth.users import Identity
from kit.frame import frame_context
from portal.views import services

ISSUER_DOWN = "The identity provider cannot be reached right now. Please try again in a minute."
DATABASE_DOWN = "The portal cannot reach its database right now. Please try again in a minute."
BLOCKED = "Your account is blocked. Contact an administrator if you think this is a mistake."
RETRY_AFTER_SECONDS = "30"


class AccountBlocked(Exception):
    """The request's session belongs to a blocked user, who is told so once (views/errors.py)."""

    def __init__(self, identity: Identity) -> None:
        super().__init__("account blocked")
        self.identity = identity


def identity() -> Identity | None:
    """The signed-in, unblocked user of this request, resolved once per request; a blocked
    user's first look raises AccountBlocked, so the page says so instead of "sign in"; a
    request with tampered session cookies has none (see `auth.cookies`)."""
    if "identity" not in g:
        try:
            found = services().resolver.resolve(request.environ)
        except TamperedCookies:
            found = None
        g.identity = None if found is None or found.blocked else found
        if found is not None and found.blocked:
            raise AccountBlocked(found)
    return g.identity


def page(template: str, http_status: int = 200, **context: object) -> Response:
    who = identity()
    body = render_template(
        template,
        **frame_context(
            user=who.user if who else None,
            product=None,
            logout_token=who.logout_token if who else None,
            site_name=services().settings.site_name,
        ),
        **context,
    )
    return Response(body, status=http_status, mimetype="text/html")


def error(
    status: int,
    heading: str,
    message: str,
    *,
    details: str | None = None,
    action_url: str | None = None,
    action_label: str | None = None,
) -> Response:
    if wants_json(request.environ):
        response = jsonify(error=heading, message=message)
        response.status_code = status
    else:
        try:
            who = identity()
        except SQLAlchemyError:
            who = g.identity = None
        body = services().pages(
            ErrorPage(status, heading, message, details, action_url, action_label),
            user=who.user if who else None,
            logout_token=who.logout_token if who else None,
        )
        response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def database_down() -> Response:
    response = error(503, "Temporarily unavailable", DATABASE_DOWN)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def issuer_down() -> Response:
    return error(
        503, "Sign-in is unavailable", ISSUER_DOWN, action_url="/login", action_label="Try again"
    )
