"""How the provider answers when something is wrong, in the language of whoever asked: HTML
pages for browsers, OAuth JSON for its API endpoints, Auth0's JSON for the Management API.

A developer who mistypes a parameter should read what went wrong, never a traceback.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InsecureTransportError
from flask import Blueprint, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .management_http import MANAGEMENT_PREFIXES, Auth0Error, error_response
from .state import current_idp

#: Paths answered in JSON, errors included (relative to the mount).
API_PATHS = frozenset(
    {"/oauth/token", "/userinfo", "/.well-known/jwks.json", "/.well-known/openid-configuration"}
)
INSECURE_HINT = (
    "Serve the provider over https, or on localhost / 127.0.0.1; set AUTHLIB_INSECURE_TRANSPORT=1"
    " to allow plain http on other hosts during development."
)
NOT_SENT_BACK = "The request was not sent back to the application."

blueprint = Blueprint("errors", __name__)


def error_page(status: int, title: str, message: str, note: str = "") -> tuple[str, int]:
    return render_template("devidp/error.html", title=title, message=message, note=note), status


def oauth_json_error(error: OAuth2Error) -> Response:
    status, body, headers = error()
    response = jsonify(dict(body) if isinstance(body, list) else body)
    response.status_code = status
    for name, value in headers:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def authorize_error(error: OAuth2Error) -> Any:
    """Back to the application when its callback is known good, else a page in the browser."""
    if error.redirect_uri:
        return current_idp().server.handle_error_response(None, error)
    message = error.get_error_description() or error.error
    if isinstance(error, InsecureTransportError):
        message = f"{message} {INSECURE_HINT}"
    return error_page(400, f"Sign-in request refused ({error.error})", message, NOT_SENT_BACK)


@blueprint.app_errorhandler(OAuth2Error)
def oauth_error(error: OAuth2Error) -> Any:
    if request.path in API_PATHS:
        return oauth_json_error(error)
    return authorize_error(error)


@blueprint.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if request.path.startswith(MANAGEMENT_PREFIXES):
        return error_response(status, error.name)
    if request.path in API_PATHS:
        name = (error.name or "error").lower().replace(" ", "_")
        return jsonify(error=name, error_description=error.description), status
    return error_page(status, f"{status} {error.name}", error.description or "")


@blueprint.app_errorhandler(Auth0Error)
def auth0_error(error: Auth0Error) -> Response:
    return error_response(error.status, error.message, error.error_code)
