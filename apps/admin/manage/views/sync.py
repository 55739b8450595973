"""The sync page: recent runs, "sync now", its progress, and the incremental schedule."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)

from apps.admin.manage.background import SyncRunner, latest_runs, run_json, schedule
from apps.admin.manage.context import services
from apps.admin.manage.errors import ConsoleError
from db.models import utcnow

blueprint = Blueprint("sync", __name__)


def runner() -> SyncRunner:
    """The process's one runner, kept on the app so every request of this worker shares it."""
    return current_app.extensions.setdefault("console_sync_runner", SyncRunner())


@blueprint.get("/sync")
def index() -> str:
    current = services()
    with current.database.transaction() as db:
        runs = latest_runs(db)
    now = utcnow()
    return render_template(
        "manage/sync.html",
        runs=runs,
        live=[run_json(run, now) for run in runs if run_json(run, now)["live"]],
        schedule=schedule(current.incremental_sync_minutes, runs),
    )


@blueprint.post("/sync")
def start() -> Response:
    try:
        runner().start(services())
    except ConsoleError as error:
        flash(error.message, "error")
    else:
        flash("A full sync has started; this page shows its progress.", "success")
    return redirect(url_for("sync.index"), 303)


@blueprint.get("/sync/status")
def status() -> Response:
    """What the sync page polls: the newest runs, live ones first, as small JSON."""
    with services().database.transaction() as db:
        runs = latest_runs(db, 5)
    now = utcnow()
    described = [run_json(run, now) for run in runs]
    return jsonify(running=any(r["live"] for r in described), runs=described)
