"""A person's sessions: `/sessions` lists where they are signed in and signs out of them all."""

from __future__ import annotations

import logging

from flask import Blueprint, request

from auth.sessions import EndReason, session_key
from portal.views import go, rendering, services

log = logging.getLogger(__name__)

account = Blueprint("account", __name__)


@account.get("/sessions")
def sessions() -> object:
    who = rendering.identity()
    if who is None:
        return go("/login?next=/sessions")
    return rendering.page(
        "portal/sessions.html",
        sessions=services().store.open_sessions(who.user.id),
        current=session_key(who.session_id),
    )


@account.post("/sessions/end-all")
def end_all() -> object:
    who = rendering.identity()
    if who is None:
        return go("/")
    current = services()
    if not current.store.check_logout_token(who.session_id, request.form.get("token", "")):
        return rendering.error(400, "Not confirmed", "Use the button on your sessions page.")
    ended = current.store.revoke_user(who.user.id, EndReason.SIGNED_OUT_EVERYWHERE)
    current.resolver.forget(who.session_id)
    current.sockets.close_session(who.session_id, "signed out everywhere")
    log.info("user %s signed out of %d sessions", who.user.id, ended)
    return go("/")
