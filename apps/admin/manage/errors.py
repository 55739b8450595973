"""How the console says no: a readable page for browsers, `{"error", "message"}` for the API.

Scripts act on the answer's status, so every refusal the console knows about maps to one
(400 malformed or forged, 404 unknown, 409 a rule or Auth0 said no, 422 invalid input, 503 the
portal lacks something it needs) and never surfaces as a 500.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ConsoleError(Exception):
    """A request the console refuses; `message` is fit to show the admin as it is."""

    def __init__(self, status: int, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or _ERROR_NAMES.get(status, "error")


_ERROR_NAMES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    503: "unavailable",
}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str, error: str | None = None) -> Response:
    """The same refusal in the shape the caller reads: JSON for the API, a page otherwise."""
    name = error or _ERROR_NAMES.get(status, "error")
    if is_api_request():
        response = jsonify(error=name, message=message)
    else:
        response = Response(
            render_template("manage/error.html", status=status, message=message, error=name)
        )
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def forged(error: CSRFError) -> Response:
        return error_response(
            400,
            f"{error.description} Reload the page and try again; nothing was changed.",
            "csrf",
        )

    @app.errorhandler(ConsoleError)
    def refused(error: ConsoleError) -> Response:
        return error_response(error.status, error.message, error.error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return error_response(error.code or 500, error.description or error.name)

    @app.errorhandler(SQLAlchemyError)
    def database_down(_error: SQLAlchemyError) -> Response:
        log.exception("the admin console could not reach the database")
        return error_response(503, "The database is unavailable right now; try again shortly.")
