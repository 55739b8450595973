"""`GET /api/openapi.json`: the portal's JSON API described (OpenAPI 3.1), for signed-in admins.

Admins only, though nothing in it is secret: it names every route scripts may call, and the
portal shows its inner surface only to those who administer it. Others get the same JSON
refusals as the rest of the API (401 to sign in first, 403 below the admin tier).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from auth.tiers import Tier
from kit.openapi import ErrorAnswer, OpenApiDocument
from portal.api_description import PORTAL_API, SignInFirst
from portal.views import rendering

api_docs = Blueprint("api_docs", __name__)


@api_docs.get("/api/openapi.json")
@PORTAL_API.describe(
    responses={200: OpenApiDocument, 401: SignInFirst, 403: ErrorAnswer}, tags=["about"]
)
def openapi_document() -> object:
    """This document."""
    who = rendering.identity()
    if who is None:
        return jsonify(error="unauthenticated", message="Sign in first.", login_url="/login"), 401
    if who.user.tier is not Tier.ADMIN:
        return jsonify(
            error="forbidden", message="The API description is open to admins only."
        ), 403
    response = jsonify(PORTAL_API.document())
    response.headers["Cache-Control"] = "no-store"
    return response
