"""The console's JSON API for scripts: the same reads and changes as the pages.

With the portal's session cookie a change needs the CSRF token in an `X-CSRFToken` header (from
`GET api/csrf`); with a bearer token it needs none. Every refusal is JSON with a `message`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for
from flask_wtf.csrf import generate_csrf

from apps.admin.manage import actions
from apps.admin.manage.api_description import (
    CONSOLE_API,
    AuditPage,
    AuditQuery,
    BulkRequest,
    BulkResults,
    CsrfToken,
    Done,
    GrantMade,
    GrantRequest,
    ProductList,
    SyncStarted,
    SyncStatus,
    TierChange,
    UserChanged,
    UserDetail,
    UserList,
    UserQuery,
    answers,
)
from apps.admin.manage.audit_log import AuditFilter, find_events
from apps.admin.manage.background import latest_runs, run_json, schedule
from apps.admin.manage.context import services
from apps.admin.manage.details import (
    detail_json,
    event_json,
    grant_json,
    load_detail,
    product_reach,
    user_json,
)
from apps.admin.manage.errors import ConsoleError
from apps.admin.manage.formatting import iso
from apps.admin.manage.forms import InputError, parse_expiry, parse_tier
from apps.admin.manage.listing import UserFilter, find_users
from apps.admin.manage.views.sync import runner
from apps.admin.manage.views.user_actions import MAX_BULK
from db.models import utcnow
from kit.openapi import OpenApiDocument

blueprint = Blueprint("api", __name__, url_prefix="/api")

#: Row ids are the tables' INTEGER keys; a larger number names no row (and overflows drivers).
MAX_ROW_ID = 2**31 - 1


def _row_id(text: str, what: str) -> int:
    """An id from the path; anything that cannot name a row is a 404, like an unknown one."""
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ROW_ID):
        raise ConsoleError(404, f"There is no {what} {text!r}.")
    return int(text)


def _body() -> dict:
    """The request's JSON object; an empty body reads as `{}` (block, unblock need nothing)."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ConsoleError(400, "The body must be a JSON object.")
    return body


def _changed(subject: str, message: str) -> Response:
    return jsonify(message=message, user=user_json(actions.find_user(subject)))


@blueprint.get("/csrf")
@CONSOLE_API.describe(responses=answers(CsrfToken), tags=["session"])
def csrf_token() -> Response:
    """A CSRF token for changes made with the session cookie."""
    return jsonify(csrf_token=generate_csrf())


@blueprint.get("/users")
@CONSOLE_API.describe(query=UserQuery, responses=answers(UserList, 422), tags=["users"])
def list_users() -> Response:
    """Users matching the filters, a page at a time."""
    chosen = UserFilter.from_args(request.args)
    with services().database.transaction() as db:
        page = find_users(db, chosen)
    return jsonify(
        users=[user_json(user) for user in page.users],
        matches=page.matches,
        capped=page.capped,
        next=page.next_cursor,
        prev=page.prev_cursor,
    )


@blueprint.get("/users/<subject>")
@CONSOLE_API.describe(responses=answers(UserDetail, 404), tags=["users"])
def get_user(subject: str) -> Response:
    """One user with their open sessions, grants and latest audit events."""
    user = actions.find_user(subject)
    current = services()
    with current.database.transaction() as db:
        detail = load_detail(db, user, current.session_is_live)
    return jsonify(detail_json(detail))


@blueprint.post("/users/<subject>/tier")
@CONSOLE_API.describe(
    body=TierChange, responses=answers(UserChanged, 404, 409, 422), tags=["users"]
)
def set_tier(subject: str) -> Response:
    """Give the user a tier, in Auth0 first (the mapped role), then in the table."""
    tier = parse_tier(_body().get("tier"))
    return _changed(subject, actions.change_tier(subject, tier))


@blueprint.post("/users/<subject>/block")
@CONSOLE_API.describe(responses=answers(UserChanged, 404, 409), tags=["users"])
def block(subject: str) -> Response:
    """Block the user and end their sessions."""
    return _changed(subject, actions.set_blocked(subject, True))


@blueprint.post("/users/<subject>/unblock")
@CONSOLE_API.describe(responses=answers(UserChanged, 404, 409), tags=["users"])
def unblock(subject: str) -> Response:
    """Let the user sign in again."""
    return _changed(subject, actions.set_blocked(subject, False))


@blueprint.post("/users/<subject>/sessions/end")
@CONSOLE_API.describe(responses=answers(UserChanged, 404, 409), tags=["users"])
def end_sessions(subject: str) -> Response:
    """End every open session of the user."""
    return _changed(subject, actions.end_sessions(subject))


@blueprint.post("/users/<subject>/grants")
@CONSOLE_API.describe(
    body=GrantRequest,
    responses=answers(GrantMade, 404, 409, 422, status=201),
    tags=["grants"],
)
def grant(subject: str) -> tuple[Response, int]:
    """Let the user open one product above their tier, until an optional expiry."""
    body = _body()
    product = body.get("product")
    if not isinstance(product, str):
        raise InputError("product must be a product's key, like devel/inspector.")
    made, message = actions.grant(subject, product, parse_expiry(body.get("expires_at")))
    return jsonify(message=message, grant=grant_json(made)), 201


@blueprint.delete("/grants/<grant_id>")
@CONSOLE_API.describe(responses=answers(Done, 404, 409), tags=["grants"])
def revoke(grant_id: str) -> Response:
    """Revoke a grant."""
    return jsonify(message=actions.revoke_grant(_row_id(grant_id, "grant")))


@blueprint.post("/users/bulk")
@CONSOLE_API.describe(body=BulkRequest, responses=answers(BulkResults, 422), tags=["users"])
def bulk() -> Response:
    """Change the tier of, block or unblock several users; each result says how it went."""
    body = _body()
    subjects = body.get("subjects")
    if not isinstance(subjects, list) or not all(isinstance(s, str) for s in subjects):
        raise InputError("subjects must be a list of user ids.")
    if not 0 < len(subjects) <= MAX_BULK:
        raise InputError(f"subjects must name between 1 and {MAX_BULK} users.")
    action = body.get("action")
    if action == "tier":
        tier = parse_tier(body.get("tier"))
        results = actions.for_each(subjects, lambda s: actions.change_tier(s, tier))
    elif action in ("block", "unblock"):
        blocked = action == "block"
        results = actions.for_each(subjects, lambda s: actions.set_blocked(s, blocked))
    else:
        raise InputError(f"action must be tier, block or unblock, not {action!r}.")
    return jsonify(
        results=[{"subject": r.subject, "ok": r.ok, "message": r.message} for r in results]
    )


@blueprint.get("/products")
@CONSOLE_API.describe(responses=answers(ProductList), tags=["products"])
def products() -> Response:
    """Every product found, whether it is served, and how many users can open it."""
    current = services()
    with current.database.transaction() as db:
        reach = product_reach(db, current.products().products)
    return jsonify(
        products=[
            {
                "key": p.info.key,
                "tier": p.info.tier.value,
                "name": p.info.name,
                "title": p.info.title,
                "mount_path": p.mount_path,
                "status": p.status.value,
                "error": p.error,
                "users_by_tier": reach[p.info.key].by_tier if p.info.key in reach else None,
                "users_by_grant": reach[p.info.key].by_grant if p.info.key in reach else None,
            }
            for p in current.products().products
        ]
    )


@blueprint.get("/sync")
@CONSOLE_API.describe(responses=answers(SyncStatus), tags=["sync"])
def sync_status() -> Response:
    """The latest sync runs and the incremental schedule."""
    current = services()
    with current.database.transaction() as db:
        runs = latest_runs(db)
    now = utcnow()
    plan = schedule(current.incremental_sync_minutes, runs)
    return jsonify(
        runs=[run_json(run, now) for run in runs],
        schedule={**plan, "last_at": iso(plan["last_at"]), "next_at": iso(plan["next_at"])},
    )


@blueprint.post("/sync")
@CONSOLE_API.describe(responses=answers(SyncStarted, 409, status=202), tags=["sync"])
def start_sync() -> tuple[Response, int]:
    """Start a full sync from Auth0 in the background."""
    runner().start(services())
    return jsonify(message="A full sync has started.", status_url=url_for("api.sync_status")), 202


@blueprint.get("/audit")
@CONSOLE_API.describe(query=AuditQuery, responses=answers(AuditPage, 422), tags=["audit"])
def audit() -> Response:
    """Audit events, newest first, a page at a time."""
    chosen = AuditFilter.from_args(request.args)
    with services().database.transaction() as db:
        events, older = find_events(db, chosen)
    return jsonify(events=[event_json(e) for e in events], older=older)


@blueprint.get("/openapi.json")
@CONSOLE_API.describe(responses=answers(OpenApiDocument), tags=["about"])
def openapi_document() -> Response:
    """This document."""
    response = jsonify(CONSOLE_API.document(request.script_root or "/"))
    response.headers["Cache-Control"] = "no-store"
    return response
