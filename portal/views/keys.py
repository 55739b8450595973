"""`/.well-known/jwks.json`: the key that checks the identity tokens products get.

Public and cacheable: a process or upstream product that other routes reach too fetches it
(once, then from its cache) to verify the `X-Portal-Identity` header (see
`auth.identity_token`).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from portal.views import services

#: How long a product may keep the key set. The key changes only when an operator replaces
#: PORTAL_IDENTITY_KEY, and tokens signed with the old one expire within a minute anyway.
JWKS_MAX_AGE_SECONDS = 300

keys = Blueprint("keys", __name__)


@keys.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(services().identity_tokens.jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
