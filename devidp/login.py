"""The browser's side of the provider: the login page at ``/authorize``, sign-out at
``/oidc/logout``, and the provider session between them (its id in the provider's own cookie).

A browser still signed in here goes straight back to the portal, as at Auth0, unless the portal
asks for ``prompt=login``. Failed sign-ins are throttled per account and per address
(:mod:`.login_limits`); ending a provider session tells the portal through the back channel.
"""

from __future__ import annotations

import math
from typing import Any

from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from flask import Blueprint, render_template, request, session
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField

from .errors import NOT_SENT_BACK, authorize_error, error_page
from .server import CodeGrant, DevClient, Principal
from .settings import DEMO_USERS
from .state import current_idp

blueprint = Blueprint("login", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email")
    password = PasswordField("Password")
    sign_in = SubmitField("Sign in")
    cancel = SubmitField("Cancel")


class UserBlocked(OAuth2Error):
    """Auth0's answer for a blocked user who signs in (or is still signed in here): back to the
    application's callback with `error=unauthorized&error_description=user is blocked`."""

    error = "unauthorized"
    description = "user is blocked"


def user_blocked() -> Any:
    refused = UserBlocked(
        redirect_uri=request.values.get("redirect_uri"), state=request.values.get("state")
    )
    return current_idp().server.handle_error_response(None, refused)


LOGIN_FIELDS = frozenset({"csrf_token", "email", "password", "sign_in", "cancel"})


def too_many_attempts(seconds: int) -> str:
    """The 429 message: the same whether the account exists or not, and whichever limit hit."""
    wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return f"Too many failed sign-in attempts. Please wait {wait} before trying again."


def current_principal() -> Principal | None:
    """Who this browser is signed in as at the provider; a stale session id is forgotten."""
    store = current_idp().store
    sid = session.get("sid")
    login = store.get_login_session(sid) if isinstance(sid, str) else None
    user = store.get_user(login.subject) if login else None
    if login is None or user is None:
        session.pop("sid", None)
        return None
    return Principal(user, login.sid, login.auth_time)


def sign_out(notify: bool = True) -> None:
    """End the browser's provider session; with ``notify``, tell the portal (back-channel)
    before the browser is answered. Signing in again in the same browser replaces the
    session quietly: the portal's callback is about to replace its own session anyway."""
    idp = current_idp()
    sid = session.get("sid")
    if isinstance(sid, str):
        subject = idp.store.end_login_session(sid)
        if subject is not None and notify:
            idp.backchannel.notify(subject, sid)
    session.clear()


def login_page(form: LoginForm, status: int = 200, message: str = "") -> tuple[str, int]:
    """The form, carrying the authorization request's parameters through the POST."""
    hidden = [
        (key, value)
        for key in request.values
        if key not in LOGIN_FIELDS
        for value in request.values.getlist(key)
    ]
    page = render_template(
        "devidp/login.html", form=form, hidden=hidden, message=message, demo_users=DEMO_USERS
    )
    return page, status


def unregistered_client() -> tuple[str, int] | None:
    """A page for an unknown client or callback: nothing may be sent back to either."""
    settings = current_idp().settings
    requested_client = request.values.get("client_id")
    redirect_uri = request.values.get("redirect_uri")
    if requested_client != settings.client_id:
        return error_page(
            400,
            "Unknown application",
            f"No application with client_id {requested_client!r} is registered.",
            NOT_SENT_BACK,
        )
    if redirect_uri not in settings.redirect_uris:
        return error_page(
            400,
            "Callback URL not allowed",
            f"redirect_uri {redirect_uri!r} is not registered for this client"
            " (exact match required).",
            NOT_SENT_BACK,
        )
    return None


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    refused = unregistered_client()
    if refused is not None:
        return refused
    server = current_idp().server
    is_login_post = request.method == "POST" and "csrf_token" in request.form
    principal = None if is_login_post else current_principal()
    try:
        grant = server.get_consent_grant(end_user=principal)
    except OAuth2Error as error:
        return authorize_error(error)
    if is_login_post:
        return submit_login(grant)
    if principal is None or grant.prompt == "login":
        return login_page(LoginForm())
    if principal.user.blocked:
        return user_blocked()
    return server.create_authorization_response(grant=grant, grant_user=principal)


def submit_login(grant: CodeGrant) -> Any:
    """The login form came back: cancelled, throttled, refused, or a new provider session."""
    idp = current_idp()
    form = LoginForm()
    if not form.validate():
        return login_page(form, 400, "The form expired. Please try again.")
    if form.cancel.data:
        cancelled = AccessDeniedError(
            "The user cancelled the sign-in.",
            redirect_uri=request.values.get("redirect_uri"),
            state=request.values.get("state"),
        )
        return idp.server.handle_error_response(None, cancelled)
    email, address = form.email.data or "", request.remote_addr or ""
    wait = idp.login_limiter.retry_after(address, email)
    if wait:
        page, status = login_page(form, 429, too_many_attempts(wait))
        return page, status, {"Retry-After": str(wait)}
    user = idp.store.authenticate(email, form.password.data or "")
    if user is None:
        idp.login_limiter.record_failure(address, email)
        return login_page(form, 401, "Wrong email or password.")
    idp.login_limiter.record_success(email)
    if user.blocked:
        return user_blocked()
    sign_out(notify=False)
    login = idp.store.start_login_session(user.subject)
    session["sid"] = login.sid
    principal = Principal(user, login.sid, login.auth_time)
    return idp.server.create_authorization_response(grant=grant, grant_user=principal)


class EndSession(EndSessionEndpoint):
    """RP-initiated logout as Auth0 does it: a registered post_logout_redirect_uri is followed
    when the request names the client, by ``id_token_hint`` or by ``client_id``."""

    def get_server_jwks(self) -> dict[str, Any]:
        return current_idp().store.public_jwks()

    def get_algorithms(self) -> list[str]:
        return ["RS256"]

    def is_post_logout_redirect_uri_legitimate(
        self,
        request: OAuth2Request,
        uri: str,
        client: DevClient | None,
        logout_hint: str | None,
    ) -> bool:
        return client is not None

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        sign_out()


@blueprint.route("/oidc/logout", methods=["GET", "POST"])
def logout() -> Any:
    server = current_idp().server
    try:
        end_session = server.validate_endpoint_request("end_session")
    except (OAuth2Error, ValueError) as error:
        sign_out()
        note = getattr(error, "description", None) or str(error)
        return render_template("devidp/signed_out.html", note=f"Not redirected: {note}")
    response = server.create_endpoint_response("end_session", end_session)
    if response is not None:
        return response
    note = ""
    if request.values.get("post_logout_redirect_uri"):
        note = (
            "Not redirected: the post_logout_redirect_uri is not registered, or the request"
            " named no client (send id_token_hint or client_id)."
        )
    return render_template("devidp/signed_out.html", note=note)
