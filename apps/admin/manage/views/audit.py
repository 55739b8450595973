"""The audit log, filtered and paged, and the same filter exported as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from apps.admin.manage.audit_log import KNOWN_ACTIONS, AuditFilter, csv_rows, emails_of, find_events
from apps.admin.manage.context import services
from apps.admin.manage.errors import ConsoleError

blueprint = Blueprint("audit", __name__)


@blueprint.get("/audit")
def index() -> Response:
    status, error = 200, None
    try:
        chosen = AuditFilter.from_args(request.args)
    except ConsoleError as refused:
        chosen, status, error = AuditFilter(), refused.status, refused.message
    with services().database.transaction() as db:
        events, older = find_events(db, chosen)
        emails = emails_of(db, events)
    body = render_template(
        "manage/audit.html",
        events=events,
        older=older,
        emails=emails,
        filters=chosen,
        actions=KNOWN_ACTIONS,
        error=error,
    )
    return Response(body, status=status)


@blueprint.get("/audit.csv")
def export() -> Response:
    chosen = AuditFilter.from_args(request.args)
    rows = csv_rows(services().database, chosen)
    return Response(
        rows,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
