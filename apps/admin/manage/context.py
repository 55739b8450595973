"""What the portal lets the console do, and the acting admin, as the console's views need them."""

from __future__ import annotations

from flask import current_app

from apps.admin.manage.errors import ConsoleError, is_api_request
from db.audit import Source
from kit import current_user
from kit.admin import AdminServices


def services() -> AdminServices:
    """The portal hands admin-tier products their services when mounting; elsewhere none."""
    found = getattr(current_app, "admin_services", None)
    if found is None:
        raise ConsoleError(
            503, "The admin console needs the portal's services: it runs mounted in the portal."
        )
    return found


def actor() -> str:
    """Who the audit log names for a change made here: the admin's own user id."""
    return current_user.subject


def source() -> Source:
    """The path the audit log names for a change made here: the JSON API or the pages."""
    return Source.API if is_api_request() else Source.CONSOLE
