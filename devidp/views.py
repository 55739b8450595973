"""The provider's pages and endpoints, at the paths Auth0 uses, relative to wherever it is mounted.

Browser pages answer in HTML and API endpoints in OAuth JSON, for every error too: a developer
who mistypes a parameter should read what went wrong, never a traceback.
"""

from __future__ import annotations

import math
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InsecureTransportError
from flask import Flask, Response, jsonify, render_template, request, session
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from wtforms import EmailField, PasswordField, SubmitField

from .backchannel import BackchannelLogout
from .counters import RequestCounter
from .login_limits import LoginLimiter
from .management_api import MANAGEMENT_PREFIXES
from .management_http import error_response
from .server import SCOPES_SUPPORTED, Principal, build_end_session, identity_claims
from .settings import DEMO_USERS, DevIdpSettings
from .store import DevIdpStore

#: Paths answered in JSON, errors included (relative to the mount).
API_PATHS = frozenset(
    {"/oauth/token", "/userinfo", "/.well-known/jwks.json", "/.well-known/openid-configuration"}
)
INSECURE_HINT = (
    "Serve the provider over https, or on localhost / 127.0.0.1; set AUTHLIB_INSECURE_TRANSPORT=1"
    " to allow plain http on other hosts during development."
)


class LoginForm(FlaskForm):
    email = EmailField("Email")
    password = PasswordField("Password")
    sign_in = SubmitField("Sign in")
    cancel = SubmitField("Cancel")


LOGIN_FIELDS = frozenset({"csrf_token", "email", "password", "sign_in", "cancel"})


def discovery_document(settings: DevIdpSettings) -> dict[str, Any]:
    base = settings.base_url
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "end_session_endpoint": f"{base}/oidc/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "email",
            "email_verified",
            "name",
            settings.roles_claim,
        ],
        "request_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


NOT_SENT_BACK = "The request was not sent back to the application."


def too_many_attempts(seconds: int) -> str:
    """The 429 message: the same whether the account exists or not, and whichever limit hit."""
    wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return f"Too many failed sign-in attempts. Please wait {wait} before trying again."


def _error_page(status: int, title: str, message: str, note: str = "") -> tuple[str, int]:
    return render_template("devidp/error.html", title=title, message=message, note=note), status


def _oauth_json_error(error: OAuth2Error) -> Response:
    status, body, headers = error()
    response = jsonify(dict(body) if isinstance(body, list) else body)
    response.status_code = status
    for name, value in headers:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register_views(
    app: Flask,
    settings: DevIdpSettings,
    store: DevIdpStore,
    server: AuthorizationServer,
    protector: ResourceProtector,
    backchannel: BackchannelLogout,
    token_requests: RequestCounter,
    login_limiter: LoginLimiter,
) -> None:
    """Attach every route and error handler; closures keep one app's store away from another's."""
    client_id, redirect_uris = settings.client_id, settings.redirect_uris

    def current_principal() -> Principal | None:
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
        sid = session.get("sid")
        if isinstance(sid, str):
            subject = store.end_login_session(sid)
            if subject is not None and notify:
                backchannel.notify(subject, sid)
        session.clear()

    server.register_endpoint(build_end_session(store, sign_out))

    def authorize_error(error: OAuth2Error) -> Any:
        if error.redirect_uri:
            return server.handle_error_response(None, error)
        message = error.get_error_description() or error.error
        if isinstance(error, InsecureTransportError):
            message = f"{message} {INSECURE_HINT}"
        return _error_page(400, f"Sign-in request refused ({error.error})", message, NOT_SENT_BACK)

    def login_page(form: LoginForm, status: int = 200, message: str = "") -> tuple[str, int]:
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

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        requested_client = request.values.get("client_id")
        redirect_uri = request.values.get("redirect_uri")
        if requested_client != client_id:
            return _error_page(
                400,
                "Unknown application",
                f"No application with client_id {requested_client!r} is registered.",
                NOT_SENT_BACK,
            )
        if redirect_uri not in redirect_uris:
            return _error_page(
                400,
                "Callback URL not allowed",
                f"redirect_uri {redirect_uri!r} is not registered for this client"
                " (exact match required).",
                NOT_SENT_BACK,
            )
        is_login_post = request.method == "POST" and "csrf_token" in request.form
        principal = None if is_login_post else current_principal()
        try:
            grant = server.get_consent_grant(end_user=principal)
        except OAuth2Error as error:
            return authorize_error(error)
        if not is_login_post:
            if principal is None or grant.prompt == "login":
                return login_page(LoginForm())
            return server.create_authorization_response(grant=grant, grant_user=principal)

        form = LoginForm()
        if not form.validate():
            return login_page(form, 400, "The form expired. Please try again.")
        if form.cancel.data:
            return server.handle_error_response(
                None,
                AccessDeniedError(
                    "The user cancelled the sign-in.",
                    redirect_uri=redirect_uri,
                    state=request.values.get("state"),
                ),
            )
        email, address = form.email.data or "", request.remote_addr or ""
        wait = login_limiter.retry_after(address, email)
        if wait:
            page, status = login_page(form, 429, too_many_attempts(wait))
            return page, status, {"Retry-After": str(wait)}
        user = store.authenticate(email, form.password.data or "")
        if user is None:
            login_limiter.record_failure(address, email)
            return login_page(form, 401, "Wrong email or password.")
        login_limiter.record_success(email)
        sign_out(notify=False)
        login = store.start_login_session(user.subject)
        session["sid"] = login.sid
        principal = Principal(user, login.sid, login.auth_time)
        return server.create_authorization_response(grant=grant, grant_user=principal)

    @app.post("/oauth/token")
    def token() -> Response:
        token_requests.add(request.form.get("grant_type") or "")
        return server.create_token_response()

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        try:
            claims = protector.acquire_token("openid")
        except OAuth2Error as error:
            return _oauth_json_error(error)
        user = store.get_user(str(claims.get("sub")))
        if user is None:
            gone = "The user no longer exists."
            return jsonify(error="invalid_token", error_description=gone), 401
        return jsonify(identity_claims(settings, user))

    @app.route("/oidc/logout", methods=["GET", "POST"])
    def logout() -> Any:
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

    @app.get("/.well-known/openid-configuration")
    def openid_configuration() -> Response:
        return jsonify(discovery_document(settings))

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        return jsonify(store.public_jwks())

    @app.get("/")
    def index() -> str:
        return render_template("devidp/index.html", issuer=settings.issuer, demo_users=DEMO_USERS)

    @app.errorhandler(OAuth2Error)
    def oauth_error(error: OAuth2Error) -> Any:
        if request.path in API_PATHS:
            return _oauth_json_error(error)
        return authorize_error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        if request.path.startswith(MANAGEMENT_PREFIXES):
            return error_response(status, error.name)
        if request.path in API_PATHS:
            name = (error.name or "error").lower().replace(" ", "_")
            return jsonify(error=name, error_description=error.description), status
        return _error_page(status, f"{status} {error.name}", error.description or "")
