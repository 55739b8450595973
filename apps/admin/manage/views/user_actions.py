"""The forms on a user's page and the bulk form on the users table.

Each POST either changes something and redirects to the user's page with what happened (so a
reload does not repeat it), or shows the page again with the exact reason nothing changed, or
that the change is pending (the reason alone, on a page of its own, when the database is down).
Changes that take access away, and any that makes someone an admin (who can then change
everyone's access), answer first with a confirmation page naming the users, whose button repeats
the POST with `confirm=yes`; without it the server changes nothing, so a form that skips the
page cannot skip the question. The bulk form starts with no action chosen.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from apps.admin.manage import actions
from apps.admin.manage.errors import ConsoleError
from apps.admin.manage.forms import InputError, confirmed, parse_expiry, parse_tier
from apps.admin.manage.views.users import render_user
from kit import Tier

blueprint = Blueprint("user_actions", __name__)
MAX_BULK = 200
ADMIN_WARNING = (
    "An admin opens every product and this console: they can change anyone's tier, block "
    "users and end their sessions."
)


def _act(subject: str, change: Callable[[], str | Response]) -> Response:
    try:
        outcome = change()
    except ConsoleError as error:
        if error.status == 404:
            raise
        try:
            return render_user(subject, status=error.status, error=error.message)
        except SQLAlchemyError:
            raise error from None
    if isinstance(outcome, Response):
        return outcome
    flash(outcome, "success")
    return redirect(url_for("users.user_page", subject=subject), 303)


def _confirm(heading: str, message: str, button: str, **fields: object) -> Response:
    """Ask before taking access away; the answer re-sends this same form, confirmed."""
    body = render_template(
        "manage/confirm.html",
        heading=heading,
        message=message,
        button=button,
        action=request.path,
        fields=fields,
        back=request.referrer or url_for("users.index"),
    )
    return Response(body)


@blueprint.post("/users/<subject>/tier")
def change_tier(subject: str) -> Response:
    def change() -> str | Response:
        tier = parse_tier(request.form.get("tier"))
        user = actions.find_user(subject)
        if confirmed(request.form.get("confirm")):
            return actions.change_tier(subject, tier)
        if actions.makes_admin(user, tier):
            return _confirm(
                f"Make {actions.label(user)} an admin?",
                ADMIN_WARNING,
                "Make an admin",
                tier=tier.value,
            )
        if actions.lowers(user, tier):
            return _confirm(
                f"Lower the tier of {actions.label(user)}?",
                f"They go from {user.tier} to {tier.value} and lose the products in between "
                "at their next request.",
                f"Lower to {tier.value}",
                tier=tier.value,
            )
        return actions.change_tier(subject, tier)

    return _act(subject, change)


@blueprint.post("/users/<subject>/block")
def block(subject: str) -> Response:
    def change() -> str | Response:
        user = actions.find_user(subject)
        if not confirmed(request.form.get("confirm")):
            return _confirm(
                f"Block {actions.label(user)}?",
                "They are blocked in Auth0 and here, every session they have open ends, and "
                "they cannot sign in until unblocked.",
                "Block",
            )
        return actions.set_blocked(subject, True)

    return _act(subject, change)


@blueprint.post("/users/<subject>/unblock")
def unblock(subject: str) -> Response:
    return _act(subject, lambda: actions.set_blocked(subject, False))


@blueprint.post("/users/<subject>/sessions/end")
def end_sessions(subject: str) -> Response:
    def change() -> str | Response:
        user = actions.find_user(subject)
        if not confirmed(request.form.get("confirm")):
            return _confirm(
                f"End every session of {actions.label(user)}?",
                "They are signed out everywhere and have to sign in again.",
                "End sessions",
            )
        return actions.end_sessions(subject)

    return _act(subject, change)


@blueprint.post("/users/<subject>/grants")
def grant(subject: str) -> Response:
    def change() -> str:
        expires_at = parse_expiry(request.form.get("expires_at", ""))
        _made, message = actions.grant(subject, request.form.get("product", ""), expires_at)
        return message

    return _act(subject, change)


@blueprint.post("/users/<subject>/grants/<int(max=2147483647):grant_id>/revoke")
def revoke(subject: str, grant_id: int) -> Response:
    def change() -> str | Response:
        if not confirmed(request.form.get("confirm")):
            return _confirm(
                f"Revoke grant {grant_id}?",
                "The user can no longer open that product unless their tier opens it.",
                "Revoke",
            )
        return actions.revoke_grant(grant_id, subject)

    return _act(subject, change)


@blueprint.post("/users/bulk")
def bulk() -> Response:
    subjects = list(dict.fromkeys(request.form.getlist("subject")))
    action = request.form.get("action", "")
    if not subjects:
        raise InputError("Select at least one user first.")
    if len(subjects) > MAX_BULK:
        raise InputError(f"Select at most {MAX_BULK} users at a time.")
    change, question, summary = _bulk_change(action, subjects)
    if question and not confirmed(request.form.get("confirm")):
        body = render_template(
            "manage/confirm.html",
            heading=f"{summary} for {len(subjects)} users?",
            message=question,
            button=summary,
            action=request.path,
            fields={"action": action, "tier": request.form.get("tier", "")},
            subjects=[(subject, _named(subject)) for subject in subjects],
            back=request.referrer or url_for("users.index"),
        )
        return Response(body)
    results = actions.for_each(subjects, change)
    return Response(render_template("manage/bulk_result.html", results=results, summary=summary))


def _bulk_change(action: str, subjects: list[str]) -> tuple[Callable[[str], str], str, str]:
    """The change to apply to each user, what to ask before it ("" for nothing), and its name."""
    if action == "tier":
        if not request.form.get("tier"):
            raise InputError("Choose the tier to set for the selected users.")
        tier = parse_tier(request.form.get("tier"))
        question = ADMIN_WARNING if tier is Tier.ADMIN else ""
        for subject in subjects:
            if question:
                break
            try:
                if actions.lowers(actions.find_user(subject), tier):
                    question = "This takes access away from some of them."
            except ConsoleError:
                continue
        return (lambda s: actions.change_tier(s, tier)), question, f"Set the tier to {tier.value}"
    if action == "block":
        return (
            (lambda s: actions.set_blocked(s, True)),
            "This takes access away from them.",
            "Block",
        )
    if action == "unblock":
        return (lambda s: actions.set_blocked(s, False)), "", "Unblock"
    if not action:
        raise InputError("Choose an action for the selected users first: a tier, block or unblock.")
    raise InputError(f"action must be tier, block or unblock, not {action!r}.")


def _named(subject: str) -> str:
    """How the confirmation page names a user: name and email, or the subject of an unknown one."""
    try:
        return actions.label(actions.find_user(subject))
    except ConsoleError:
        return subject
