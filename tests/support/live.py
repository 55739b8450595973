"""The whole portal on a real socket, in a thread: real HTTP between the portal and its provider."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from auth.product_paths import parse_blocks
from portal.application import create_app
from portal.config import PROJECT_ROOT, Settings
from portal.products.supervisor import process_specs

WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789abcdef"


def _unavailable(environ, start_response):
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    application: object
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def services(self):
        return self.application.extensions["portal"]

    @property
    def host_mode(self) -> bool:
        return self.settings.origins.host_mode

    def product_url(self, key: str, rest: str = "/") -> str:
        """A product page's absolute URL: on the product's own host in host mode."""
        origin = self.settings.origins.product_origin(key)
        return f"{origin}/{key}{rest}"

    @property
    def idp_store(self):
        return self.devidp.store

    @property
    def devidp(self):
        """The development provider's controls: store, faults, counters, token minting."""
        return self.application.extensions["portal.dev_idp"].extensions["devidp"]

    def stop(self) -> None:
        self.application.extensions["portal.mounts"].close()
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.services.database.dispose()


#: What the live sites remove with PORTAL_BLOCK: the sample monolith's reports, as the
#: docker-compose deployment does.
SAMPLE_BLOCK = "stable/seistech/svc_report/*"


def start_live_server(
    *,
    database_url: str,
    instance_path: Path,
    apps_dir: Path = PROJECT_ROOT / "apps",
    host_mode: bool = False,
    public_url: str = "",
    **overrides,
) -> LiveServer:
    """The site on a free port: `http://127.0.0.1:<port>`, or in host mode the portal on
    `http://localhost:<port>` and each product on `http://<name>--<tier>.localhost:<port>`.
    `public_url`: the address browsers use instead, when a proxy in front of it has another."""
    if apps_dir == PROJECT_ROOT / "apps":
        overrides.setdefault("apps_patterns", in_process_samples())
    server = make_server("127.0.0.1", 0, _unavailable, threaded=True)
    host = f"localhost:{server.server_port}" if host_mode else f"127.0.0.1:{server.server_port}"
    base_url = public_url or f"http://{host}"
    if host_mode:
        overrides.setdefault("host_domain", host)
    settings = Settings(
        secret_key=secrets.token_urlsafe(48),
        database_url=database_url,
        base_url=base_url,
        instance_path=instance_path,
        apps_dir=apps_dir,
        dev_idp_database_url=f"sqlite:///{instance_path / 'devidp.sqlite3'}",
        **{
            "webhook_secret": WEBHOOK_SECRET,
            "login_rate_limit": "",
            "blocked_paths": parse_blocks(SAMPLE_BLOCK),
            **overrides,
        },
    )
    application = create_app(settings)
    server.app = application
    thread = threading.Thread(
        target=server.serve_forever, name=f"portal-{server.server_port}", daemon=True
    )
    thread.start()
    return LiveServer(base_url, settings, application, server, thread)


def in_process_samples() -> tuple[str, ...]:
    """PORTAL_APPS patterns leaving out the samples that run as processes: a site in a thread
    of the test process runs no supervisor (tests/test_process_samples.py runs them)."""
    return tuple(f"!{key}" for key in process_specs(PROJECT_ROOT / "apps", ()))


@contextmanager
def private_site(tmp_path_factory, **overrides) -> Iterator[LiveServer]:
    """A site of a test module's own, on a SQLite file: for tests that change its settings or
    its apps folder, or must not share caches with other modules."""
    instance = tmp_path_factory.mktemp("instance")
    live = start_live_server(
        database_url=f"sqlite:///{instance / 'portal.sqlite3'}", instance_path=instance, **overrides
    )
    try:
        yield live
    finally:
        live.stop()
