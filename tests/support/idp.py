"""The development identity provider alone, on a real socket, with its Management API enabled."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from devidp import DevIdpSettings, create_dev_idp, get_store
from directory.management import ManagementClient

MANAGEMENT_CLIENT = ("sync-tests", "sync-tests-secret-0123456789abcdefghijklmnop")


@dataclass
class IdpServer:
    issuer: str
    app: object
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def store(self):
        return get_store(self.app)

    @property
    def controls(self):
        """Rate limit and faults (test-only knobs of the provider)."""
        return self.app.extensions["devidp"]

    def client(self, **options) -> ManagementClient:
        return ManagementClient(
            issuer=self.issuer,
            client_id=MANAGEMENT_CLIENT[0],
            client_secret=MANAGEMENT_CLIENT[1],
            **options,
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.store.engine.dispose()


def start_idp(database: Path, *, template: Path | None = None, rate_limit: int = 0) -> IdpServer:
    """A provider on `database` (a copy of `template` when given: seeding is done once)."""
    if template is not None:
        shutil.copyfile(template, database)
    server = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    app = create_dev_idp(
        DevIdpSettings(
            issuer=issuer,
            database_url=f"sqlite:///{database}",
            secret_key="idp-tests-secret-0123456789abcdefghijklmnop",
            client_id="portal-tests",
            client_secret="portal-tests-secret",
            redirect_uris=(),
            post_logout_redirect_uris=(),
            management_client_id=MANAGEMENT_CLIENT[0],
            management_client_secret=MANAGEMENT_CLIENT[1],
            management_rate_limit=rate_limit,
        )
    )
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return IdpServer(issuer, app, server, thread)
