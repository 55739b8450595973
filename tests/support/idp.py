"""The development identity provider alone, on a real socket, with its Management API enabled.

`IdpServer.after` runs a test's action once the provider has answered a chosen request and
before the answer leaves: the change is made at the provider, and the caller has not yet heard,
which is where a fault between the provider and the portal's database belongs.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from devidp import DevIdpSettings, create_dev_idp, get_store
from directory.management import ManagementClient

MANAGEMENT_CLIENT = ("sync-tests", "sync-tests-secret-0123456789abcdefghijklmnop")


class AfterAnswers:
    """WSGI middleware running each registered action once, after the first matching answer."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.actions: list[tuple[str, str, Callable[[], None]]] = []

    def add(self, method: str, pattern: str, action: Callable[[], None]) -> None:
        with self.lock:
            self.actions.append((method.upper(), pattern, action))

    def _take(self, method: str, path: str) -> Callable[[], None] | None:
        with self.lock:
            for entry in self.actions:
                if entry[0] == method and fnmatchcase(path, entry[1]):
                    self.actions.remove(entry)
                    return entry[2]
        return None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        answer = self.app(environ, start_response)
        try:
            body = list(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        action = self._take(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if action is not None:
            action()
        return body


@dataclass
class IdpServer:
    issuer: str
    app: object
    server: BaseWSGIServer
    thread: threading.Thread
    answers: AfterAnswers = field(repr=False, default=None)

    def after(self, method: str, pattern: str, action: Callable[[], None]) -> None:
        """Run `action` once, when the provider has answered the first `method` request whose
        path matches `pattern` (shell wildcards) and before that answer is sent."""
        self.answers.add(method, pattern, action)

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
    server.app = answers = AfterAnswers(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return IdpServer(issuer, app, server, thread, answers)
