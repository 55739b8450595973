"""How a product answers when `current_user.access_token()` can't deliver.

A sign-in that is over sends a browser back through sign-in (returning to the same page) and
tells an API client 401; a provider that can't be reached right now is a 503 to try again; a
request the portal gives no token at all (the product declares no API, the request came with a
bearer token) is a 403 saying why, since trying again won't help.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request

from auth.identity import SignInAgain, TokenNotOffered, TokenUnavailable
from auth.locations import Locations
from auth.refusals import original_path
from auth.responses import wants_json


def register_token_errors(app: Flask) -> None:
    app.register_error_handler(SignInAgain, _sign_in_again)
    app.register_error_handler(TokenUnavailable, _unavailable)
    app.register_error_handler(TokenNotOffered, _not_offered)


def _sign_in_again(error: SignInAgain) -> Response:
    if wants_json(request.environ):
        response = jsonify(error="unauthenticated", message=f"Sign in again: {error}.")
        response.status_code = 401
        return response
    return Locations().response("/login?" + urlencode({"next": original_path(request.environ)}))


def _unavailable(error: TokenUnavailable) -> Response:
    response = jsonify(error="token_unavailable", message=f"No access token right now: {error}.")
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    return response


def _not_offered(error: TokenNotOffered) -> Response:
    response = jsonify(
        error="token_unavailable", message=f"No access token for this request: {error}."
    )
    response.status_code = 403
    return response
