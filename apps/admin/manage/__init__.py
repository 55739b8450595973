"""The admin console (placeholder until its release).

It lives in the admin tier, so the Gate lets only admins in; the console itself never checks.
"""

from flask import render_template

from auth.authflask import AuthFlask

PLANNED = (
    "Change a user's tier, written to Auth0 and to the user table",
    "Block and unblock users",
    "End a user's sessions and close their open sockets",
    "Read the audit log of who did what",
    "Reconcile the user table with Auth0",
)

app = AuthFlask(__name__)


@app.get("/")
def index() -> str:
    return render_template("manage/index.html", planned=PLANNED)
