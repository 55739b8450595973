"""The users table and one user's page."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from apps.admin.manage.actions import find_user
from apps.admin.manage.context import services
from apps.admin.manage.details import grant_state, load_detail
from apps.admin.manage.errors import ConsoleError
from apps.admin.manage.listing import PAGE_SIZES, UserFilter, find_users
from db.intents import pending_count, pending_list
from db.models import utcnow
from kit import TIERS_DESCENDING, Tier

blueprint = Blueprint("users", __name__)


@blueprint.get("/")
def index() -> Response:
    try:
        chosen = UserFilter.from_args(request.args)
    except ConsoleError as error:
        return _users_page(UserFilter(), error.message, error.status)
    return _users_page(chosen)


def _users_page(chosen: UserFilter, error: str | None = None, status: int = 200) -> Response:
    with services().database.transaction() as db:
        page = find_users(db, chosen)
        pending = pending_list(db)
        pending_total = pending_count(db) if pending else 0
    body = render_template(
        "manage/users.html",
        page=page,
        pending=pending,
        pending_total=pending_total,
        filters=chosen,
        tiers=TIERS_DESCENDING,
        page_sizes=PAGE_SIZES,
        error=error,
    )
    return Response(body, status=status)


@blueprint.get("/users/<subject>")
def user_page(subject: str) -> Response:
    return render_user(subject)


def render_user(subject: str, *, status: int = 200, error: str | None = None) -> Response:
    """The user's page; actions that fail show it again with the reason, under their status."""
    user = find_user(subject)
    current = services()
    with current.database.transaction() as db:
        detail = load_detail(db, user, current.session_is_live)
    tier = Tier.parse(user.tier)
    grantable = [
        p
        for p in current.products().products
        if not tier.opens(p.info.tier) and p.info.tier is not Tier.ADMIN
    ]
    body = render_template(
        "manage/user.html",
        detail=detail,
        user=user,
        tiers=TIERS_DESCENDING,
        grantable=grantable,
        grant_state=grant_state,
        now=utcnow(),
        error=error,
    )
    return Response(body, status=status)
