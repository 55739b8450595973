"""How the portal app answers what goes wrong, and what every answer of it carries.

A database that is down is a 503 with `Retry-After` (never a traceback), whether it failed in a
view or while saving the session afterwards; a blocked user is told so once; anything else is a
500 page that says it was logged. Pages for signed-in people are never cached.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, session
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from auth.sessions import EndReason
from portal.views import rendering, services
from portal.views.rendering import BLOCKED, AccountBlocked

log = logging.getLogger(__name__)


def session_store_reachable() -> None:
    """A session that couldn't be read because the database is down answers 503 (below)."""
    failure = getattr(session, "failure", None)
    if failure is not None:
        raise failure


def personal_pages_stay_private(response: Response) -> Response:
    if g.get("identity") is not None:
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Cookie")
    return response


def http_error(error: HTTPException) -> Response:
    original = getattr(error, "original_exception", None)
    if isinstance(error, InternalServerError) and isinstance(original, SQLAlchemyError):
        # raised after the view, while saving the session: still the database's outage
        return database_unavailable(original)
    return rendering.error(error.code or 500, error.name, error.description or "")


def database_unavailable(error: SQLAlchemyError) -> Response:
    log.warning("the database failed a portal request: %s", str(error).splitlines()[0][:300])
    return rendering.database_down()


def account_blocked(blocked: AccountBlocked) -> Response:
    """Told once: the session ends for good and the cookie goes, so the next request is an
    ordinary anonymous one (the sign-in page)."""
    if blocked.identity.session_id:
        services().resolver.end_session(blocked.identity.session_id, EndReason.BLOCK_SHOWN)
    session.end()
    return rendering.error(403, "Account blocked", BLOCKED)


def unexpected_error(_error: Exception) -> Response:
    log.exception("unhandled error in the portal")
    return rendering.error(
        500,
        "Something went wrong",
        "The portal hit an unexpected error. It has been logged; please try again.",
    )


def register_error_handlers(app: Flask) -> None:
    app.before_request(session_store_reachable)
    app.after_request(personal_pages_stay_private)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(SQLAlchemyError, database_unavailable)
    app.register_error_handler(AccountBlocked, account_blocked)
    app.register_error_handler(Exception, unexpected_error)
