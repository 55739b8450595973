"""The portal's services and the acting admin, as the console's views need them."""

from __future__ import annotations

from flask import current_app

from apps.admin.manage.errors import ConsoleError
from auth.authflask import current_user
from portal.services import Services


def services() -> Services:
    """The portal hands admin-tier products its services when mounting; elsewhere there are none."""
    found = getattr(current_app, "portal_services", None)
    if found is None:
        raise ConsoleError(
            503, "The admin console needs the portal's services: it runs mounted in the portal."
        )
    return found


def actor() -> str:
    """Who the audit log names for a change made here: the admin's own user id."""
    return current_user.subject
