"""Print the OpenAPI documents the portal and its admin console serve, as one JSON object.

Run as a script (`python -m docs_hooks.openapi_documents`) by the docs build, so the app it
builds (its logging, its database, its threads) stays out of the build's process. The portal
is assembled as `make run` assembles it, in a throwaway instance folder with no products of its
own, and each document is the one its `/api/openapi.json` answers.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def documents() -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="portal-openapi-") as folder:
        instance, apps = Path(folder) / "instance", Path(folder) / "apps"
        apps.mkdir()
        os.environ.update(
            PORTAL_ENV="development",
            PORTAL_INSTANCE_PATH=str(instance),
            PORTAL_APPS_DIR=str(apps),
            DATABASE_URL=f"sqlite:///{instance / 'portal.sqlite3'}",
        )
        from portal.api_description import PORTAL_API
        from portal.application import create_app

        portal = create_app()
        with portal.app_context():
            portal_document = PORTAL_API.document()
        portal.extensions["portal"].database.dispose()

        import apps.admin.manage as console
        from apps.admin.manage.api_description import CONSOLE_API

        with console.app.app_context():
            console_document = CONSOLE_API.document("/admin/manage")
        return {"portal": portal_document, "console": console_document}


if __name__ == "__main__":
    json.dump(documents(), sys.stdout)
