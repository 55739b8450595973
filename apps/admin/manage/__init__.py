"""The admin console: users, tiers, blocks, sessions, grants, products, sync and the audit log.

It lives in the admin tier, so the Gate lets only admins in (static files and the API included);
the console itself never checks the tier. Every change goes through
`directory.user_admin.UserAdmin`, the same code as the `portal users` commands, so Auth0, the
table and the audit log stay in step whichever door a change comes through.

Every state-changing request is a POST (or DELETE) carrying a CSRF token: the console acts with
the admin's portal cookie, which any page on the web could make the browser send. Requests that
proved who they are with a bearer token are exempt, since no other site can make a browser
attach one.
"""

from __future__ import annotations

from flask import request
from flask_wtf.csrf import CSRFProtect

from apps.admin.manage.errors import register_error_handlers
from apps.admin.manage.formatting import register_filters
from apps.admin.manage.views import api, audit, products, sync, user_actions, users
from kit import AUTH_METHOD_ENVIRON_KEY, AuthFlask


def create_app() -> AuthFlask:
    """One console per portal process; the portal gives it `admin_services` when mounting."""
    app = AuthFlask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    csrf = CSRFProtect(app)

    @app.before_request
    def forged_requests_stop_here() -> None:
        if request.environ.get(AUTH_METHOD_ENVIRON_KEY) != "bearer":
            csrf.protect()

    for module in (users, user_actions, products, sync, audit, api):
        app.register_blueprint(module.blueprint)
    register_error_handlers(app)
    register_filters(app)
    return app


app = create_app()
