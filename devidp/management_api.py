"""The Auth0 Management API subset the portal uses, at Auth0's paths under ``<issuer>/api/v2``.

It pushes back like Auth0 does, so the portal's client and sync meet the real limits locally:
``per_page`` at most 100, no paging past the first 1000 search results (``invalid_paging``),
checkpoint paging for the members of a role, an export job for everything, a per-second rate
limit with ``X-RateLimit-*`` headers, and every error as Auth0's JSON body.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import Blueprint, Flask, Response, g, jsonify, request, send_file
from sqlalchemy.exc import IntegrityError

from .directory import DevIdpRole, DevIdpUser
from .exports import ExportJobs
from .management_http import Auth0Error, Faults, RateLimiter, error_response
from .management_keys import register_signing_key_routes
from .management_query import (
    bool_arg,
    int_arg,
    page_window,
    parse_search,
    parse_sort,
    query_error,
    role_json,
    role_member_json,
    selected_fields,
    user_json,
)
from .server import create_resource_protector
from .settings import DevIdpSettings
from .store import DevIdpStore

#: Paths (relative to the mount) whose errors are answered in Auth0's JSON shape.
MANAGEMENT_PREFIXES = ("/api/v2/", "/exports/")
_PATCHABLE: dict[str, type] = {
    "blocked": bool,
    "name": str,
    "email": str,
    "picture": str,
    "app_metadata": dict,
}
_JSON_TYPES = {
    bool: "boolean",
    str: "string",
    dict: "object",
    list: "array",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Auth0Error(
            400,
            "Payload validation error: 'Expected type object but found type "
            f"{_JSON_TYPES.get(type(body), 'string')}'.",
            "invalid_body",
        )
    return body


def _patch(body: dict[str, Any], user: DevIdpUser) -> dict[str, Any]:
    """The store changes a PATCH body asks for; ``app_metadata`` merges, null removes a key."""
    if not body:
        raise Auth0Error(
            400,
            "Payload validation error: 'Too few properties defined (0), minimum 1'.",
            "invalid_body",
        )
    for key, value in body.items():
        expected = _PATCHABLE.get(key)
        if expected is None:
            raise Auth0Error(
                400,
                f"Payload validation error: 'Additional properties not allowed: {key}'.",
                "invalid_body",
            )
        if not isinstance(value, expected):
            raise Auth0Error(
                400,
                f"Payload validation error: 'Expected type "
                f"{_JSON_TYPES[expected]} but found type "
                f"{_JSON_TYPES.get(type(value), 'unknown')}' on property {key}.",
                "invalid_body",
            )
    changes = dict(body)
    if "app_metadata" in changes:
        merged = {**user.app_metadata, **changes["app_metadata"]}
        changes["app_metadata"] = {k: v for k, v in merged.items() if v is not None}
    return changes


def _role_ids_of(body: dict[str, Any]) -> list[str]:
    roles = body.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise Auth0Error(
            400,
            "Payload validation error: 'roles' must be a non-empty array of role ids.",
            "invalid_body",
        )
    return roles


def _checkpoint(subject: str) -> str:
    return base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")


def _after(checkpoint: str | None) -> str | None:
    if not checkpoint:
        return None
    try:
        padded = checkpoint + "=" * (-len(checkpoint) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise query_error("Query validation error: 'from' is not a value of 'next'") from None


def _paged(items: list[Any], key: str) -> Response:
    """An in-memory list paged like Auth0 pages short lists (roles)."""
    offset, limit = page_window()
    page = items[offset : offset + limit]
    if not bool_arg("include_totals"):
        return jsonify(page)
    return jsonify({"start": offset, "limit": limit, "total": len(items), key: page})


def register_management_api(
    app: Flask, settings: DevIdpSettings, store: DevIdpStore, faults: Faults, limiter: RateLimiter
) -> None:
    """Faults apply to every path; the rest only when the management application is set."""
    protector = create_resource_protector(settings, store, settings.management_audience)
    api = Blueprint("management", __name__, url_prefix="/api/v2")
    scopes: dict[str, str] = {}

    def route(rule: str, scope: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
        def register(view: Callable) -> Callable:
            api.add_url_rule(rule, view.__name__, view, methods=list(methods))
            scopes[f"management.{view.__name__}"] = scope
            return view

        return register

    @app.before_request
    def guard() -> Response | None:
        injected = faults.answer(request.method, request.path)
        if injected is not None or not request.path.startswith("/api/v2"):
            return injected
        if not settings.management_enabled:
            return error_response(404, "Not Found")
        try:
            token = protector.acquire_token(scopes.get(request.endpoint or ""))
        except InsufficientScopeError as error:
            return error_response(
                403, f"Insufficient scope: {error.description}", "insufficient_scope"
            )
        except (MissingAuthorizationError, UnsupportedTokenTypeError):
            return error_response(401, "Missing authentication", "missing_authentication")
        except OAuth2Error as error:
            return error_response(
                401, f"Invalid token: {error.get_error_description()}", "invalid_token"
            )
        allowed, g.rate_limit_headers = limiter.hit(str(token.get("sub")))
        if not allowed:
            return error_response(
                429, "Global limit has been reached", "too_many_requests", g.rate_limit_headers
            )
        return None

    @app.after_request
    def rate_limit_headers(response: Response) -> Response:
        response.headers.update(g.pop("rate_limit_headers", None) or {})
        return response

    @app.errorhandler(Auth0Error)
    def auth0_error(error: Auth0Error) -> Response:
        return error_response(error.status, error.message, error.error_code)

    if not settings.management_enabled:
        return
    jobs = ExportJobs(store, settings.base_url)

    def existing_user(user_id: str) -> DevIdpUser:
        user = store.get_user(user_id)
        if user is None:
            raise Auth0Error(404, "The user does not exist.", "inexistent_user")
        return user

    def existing_role(role_id: str) -> DevIdpRole:
        role = store.get_role(role_id)
        if role is None:
            raise Auth0Error(404, "The role does not exist.", "inexistent_role")
        return role

    @route("/users", "read:users")
    def list_users() -> Response:
        offset, limit = page_window()
        criteria = parse_search(request.args.get("q", ""))
        sort, descending = parse_sort(request.args.get("sort"))
        found = store.list_users(
            criteria, sort=sort, descending=descending, offset=offset, limit=limit
        )
        users = [selected_fields(user_json(user)) for user in found]
        if not bool_arg("include_totals"):
            return jsonify(users)
        return jsonify(
            {
                "start": offset,
                "limit": limit,
                "length": len(users),
                "total": store.count_users(criteria),
                "users": users,
            }
        )

    @route("/users/<user_id>", "read:users")
    def get_user(user_id: str) -> Response:
        return jsonify(selected_fields(user_json(existing_user(user_id))))

    @route("/users/<user_id>", "update:users", ("PATCH",))
    def patch_user(user_id: str) -> Response:
        changes = _patch(_json_body(), existing_user(user_id))
        try:
            return jsonify(user_json(store.update_user(user_id, **changes)))
        except IntegrityError:
            raise Auth0Error(
                409, "The specified new email already exists", "email_conflict"
            ) from None

    @route("/users/<user_id>", "delete:users", ("DELETE",))
    def delete_user(user_id: str) -> tuple[str, int]:
        existing_user(user_id)
        store.delete_user(user_id)
        return "", 204

    @route("/users/<user_id>/roles", "read:roles")
    def list_user_roles(user_id: str) -> Response:
        existing_user(user_id)
        return _paged([role_json(role) for role in store.user_roles(user_id)], "roles")

    @route("/users/<user_id>/roles", "update:users", ("POST", "DELETE"))
    def change_user_roles(user_id: str) -> tuple[str, int]:
        existing_user(user_id)
        role_ids = [existing_role(role_id).id for role_id in _role_ids_of(_json_body())]
        if request.method == "POST":
            store.add_roles(user_id, role_ids)
        else:
            store.remove_roles(user_id, role_ids)
        return "", 204

    @route("/roles", "read:roles")
    def list_roles() -> Response:
        wanted = request.args.get("name_filter", "").lower()
        roles = [role_json(r) for r in store.roles() if wanted in r.name.lower()]
        return _paged(roles, "roles")

    @route("/roles/<role_id>", "read:roles")
    def get_role(role_id: str) -> Response:
        return jsonify(role_json(existing_role(role_id)))

    @route("/roles/<role_id>/users", "read:role_members")
    def list_role_users(role_id: str) -> Response:
        role = existing_role(role_id)
        if "from" in request.args or "take" in request.args:
            take = int_arg("take", 50, maximum=100, minimum=1)
            members = store.role_members(
                role.id, after=_after(request.args.get("from")), limit=take + 1
            )
            body: dict[str, Any] = {"users": [role_member_json(u) for u in members[:take]]}
            if len(members) > take:
                body["next"] = _checkpoint(members[take - 1].subject)
            return jsonify(body)
        offset, limit = page_window()
        users = [
            role_member_json(u) for u in store.role_members(role.id, offset=offset, limit=limit)
        ]
        if not bool_arg("include_totals"):
            return jsonify(users)
        return jsonify(
            {
                "start": offset,
                "limit": limit,
                "total": store.count_role_members(role.id),
                "users": users,
            }
        )

    @route("/jobs/users-exports", "read:users", ("POST",))
    def create_users_export() -> tuple[Response, int]:
        return jsonify(jobs.create(_json_body())), 201

    @route("/jobs/<job_id>", "read:users")
    def get_job(job_id: str) -> Response:
        return jsonify(jobs.poll(job_id))

    @app.get("/exports/<token>.json.gz")
    def download_export(token: str) -> Response:
        """Like a presigned URL: the token in the path is the only credential."""
        path = jobs.file_for(token)
        if path is None:
            raise Auth0Error(404, "No export file at this address (expired or never made).")
        return send_file(path, mimetype="application/gzip", download_name="users.json.gz")

    register_signing_key_routes(route, store)
    app.register_blueprint(api)
