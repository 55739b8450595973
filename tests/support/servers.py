"""One portal on either server a table of attacks is run against: werkzeug's, in a thread of
the test process, or gunicorn's, in a process of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.live import private_site
from tests.support.processes import Gunicorn


@contextmanager
def served_portal(
    server: str, tmp_path_factory: pytest.TempPathFactory, apps: Path, *, host_mode: bool = False
) -> Iterator[str]:
    """The base URL of a portal on `server` ("werkzeug" or "gunicorn") serving `apps`."""
    if server == "werkzeug":
        with private_site(tmp_path_factory, apps_dir=apps, host_mode=host_mode) as live:
            yield live.base_url
        return
    instance = tmp_path_factory.mktemp("instance")
    gunicorn = Gunicorn(
        {
            "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_APPS_DIR": str(apps),
        },
        workers=1,
        log_path=instance / "gunicorn.log",
        host_mode=host_mode,
    )
    try:
        yield gunicorn.base_url
    finally:
        gunicorn.stop()
