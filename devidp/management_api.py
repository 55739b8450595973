"""The Auth0 Management API subset the portal uses, at Auth0's paths under ``<issuer>/api/v2``.

It pushes back like Auth0 does, so the portal's client and sync meet the real limits locally:
``per_page`` at most 100, no paging past the first 1000 search results (``invalid_paging``),
checkpoint paging for the members of a role, an export job for everything, a per-second rate
limit with ``X-RateLimit-*`` headers, and every error as Auth0's JSON body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import Blueprint, Response, g, jsonify, request, send_file
from sqlalchemy.exc import IntegrityError

from . import management_keys
from .directory import DevIdpRole, DevIdpUser
from .management_http import Auth0Error, error_response, required_scope, route
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
from .state import current_idp

#: In front of every path: injected faults, then for ``/api/v2`` the token and the rate limit.
guard = Blueprint("management_guard", __name__)
#: The endpoints; the app registers them only when the management application is configured.
api = Blueprint("management_api", __name__, url_prefix="/api/v2")
api.register_blueprint(management_keys.blueprint)
#: The files finished export jobs point at, outside ``/api/v2`` as Auth0's are.
downloads = Blueprint("management_downloads", __name__)

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


@guard.before_app_request
def check_request() -> Response | None:
    """Faults apply to every path; the rest only when the management application is set."""
    idp = current_idp()
    injected = idp.faults.answer(request.method, request.path)
    if injected is not None or not request.path.startswith("/api/v2"):
        return injected
    if not idp.settings.management_enabled:
        return error_response(404, "Not Found")
    try:
        token = idp.management_bearer.acquire_token(required_scope())
    except InsufficientScopeError as error:
        return error_response(403, f"Insufficient scope: {error.description}", "insufficient_scope")
    except (MissingAuthorizationError, UnsupportedTokenTypeError):
        return error_response(401, "Missing authentication", "missing_authentication")
    except OAuth2Error as error:
        return error_response(
            401, f"Invalid token: {error.get_error_description()}", "invalid_token"
        )
    allowed, g.rate_limit_headers = idp.rate_limiter.hit(str(token.get("sub")))
    if not allowed:
        return error_response(
            429, "Global limit has been reached", "too_many_requests", g.rate_limit_headers
        )
    return None


@guard.after_app_request
def add_rate_limit_headers(response: Response) -> Response:
    response.headers.update(g.pop("rate_limit_headers", None) or {})
    return response


def existing_user(user_id: str) -> DevIdpUser:
    user = current_idp().store.get_user(user_id)
    if user is None:
        raise Auth0Error(404, "The user does not exist.", "inexistent_user")
    return user


def existing_role(role_id: str) -> DevIdpRole:
    role = current_idp().store.get_role(role_id)
    if role is None:
        raise Auth0Error(404, "The role does not exist.", "inexistent_role")
    return role


@route(api, "/users", "read:users")
def list_users() -> Response:
    store = current_idp().store
    offset, limit = page_window()
    criteria = parse_search(request.args.get("q", ""))
    sort, descending = parse_sort(request.args.get("sort"))
    found = store.list_users(criteria, sort=sort, descending=descending, offset=offset, limit=limit)
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


@route(api, "/users/<user_id>", "read:users")
def get_user(user_id: str) -> Response:
    return jsonify(selected_fields(user_json(existing_user(user_id))))


@route(api, "/users/<user_id>", "update:users", ("PATCH",))
def patch_user(user_id: str) -> Response:
    changes = _patch(_json_body(), existing_user(user_id))
    try:
        return jsonify(user_json(current_idp().store.update_user(user_id, **changes)))
    except IntegrityError:
        raise Auth0Error(409, "The specified new email already exists", "email_conflict") from None


@route(api, "/users/<user_id>", "delete:users", ("DELETE",))
def delete_user(user_id: str) -> tuple[str, int]:
    existing_user(user_id)
    current_idp().store.delete_user(user_id)
    return "", 204


@route(api, "/users/<user_id>/roles", "read:roles")
def list_user_roles(user_id: str) -> Response:
    existing_user(user_id)
    return _paged([role_json(role) for role in current_idp().store.user_roles(user_id)], "roles")


@route(api, "/users/<user_id>/roles", "update:users", ("POST", "DELETE"))
def change_user_roles(user_id: str) -> tuple[str, int]:
    existing_user(user_id)
    role_ids = [existing_role(role_id).id for role_id in _role_ids_of(_json_body())]
    if request.method == "POST":
        current_idp().store.add_roles(user_id, role_ids)
    else:
        current_idp().store.remove_roles(user_id, role_ids)
    return "", 204


@route(api, "/roles", "read:roles")
def list_roles() -> Response:
    wanted = request.args.get("name_filter", "").lower()
    roles = [role_json(r) for r in current_idp().store.roles() if wanted in r.name.lower()]
    return _paged(roles, "roles")


@route(api, "/roles/<role_id>", "read:roles")
def get_role(role_id: str) -> Response:
    return jsonify(role_json(existing_role(role_id)))


@route(api, "/roles/<role_id>/users", "read:role_members")
def list_role_users(role_id: str) -> Response:
    """Checkpoint paging (``from``/``take``) when asked for, else Auth0's page/per_page."""
    role = existing_role(role_id)
    if "from" in request.args or "take" in request.args:
        return _role_members_after_checkpoint(role)
    store = current_idp().store
    offset, limit = page_window()
    users = [role_member_json(u) for u in store.role_members(role.id, offset=offset, limit=limit)]
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


def _role_members_after_checkpoint(role: DevIdpRole) -> Response:
    take = int_arg("take", 50, maximum=100, minimum=1)
    after = _after(request.args.get("from"))
    members = current_idp().store.role_members(role.id, after=after, limit=take + 1)
    body: dict[str, Any] = {"users": [role_member_json(u) for u in members[:take]]}
    if len(members) > take:
        body["next"] = _checkpoint(members[take - 1].subject)
    return jsonify(body)


@route(api, "/jobs/users-exports", "read:users", ("POST",))
def create_users_export() -> tuple[Response, int]:
    return jsonify(current_idp().export_jobs.create(_json_body())), 201


@route(api, "/jobs/<job_id>", "read:users")
def get_job(job_id: str) -> Response:
    return jsonify(current_idp().export_jobs.poll(job_id))


@downloads.get("/exports/<token>.json.gz")
def download_export(token: str) -> Response:
    """Like a presigned URL: the token in the path is the only credential."""
    path = current_idp().export_jobs.file_for(token)
    if path is None:
        raise Auth0Error(404, "No export file at this address (expired or never made).")
    return send_file(path, mimetype="application/gzip", download_name="users.json.gz")
