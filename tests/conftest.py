from contextlib import ExitStack

import pytest

from db.engine import Database
from db.migrate import upgrade
from tests.support.databases import BACKENDS, database_url_for
from tests.support.hosts import resolve_localhost_subdomains
from tests.support.live import start_live_server
from tests.support.sessions import signed_in as made_session
from tests.test_admin_console_helpers import admin_session

resolve_localhost_subdomains()


@pytest.fixture(scope="session")
def live_sites(tmp_path_factory):
    """The live sites this process started, kept until it ends: each starts once per process.

    `portal` and `site` are parametrized session fixtures, and pytest keeps one parameter's value
    at a time; a worker runs module after module (`--dist loadscope`), so without this each module
    would start its sites again (a fresh database, the migrations, every sample product)."""
    with ExitStack() as stack:
        started = {}

        def live_site(kind: str, backend: str):
            if (kind, backend) not in started:
                url = stack.enter_context(database_url_for(backend, tmp_path_factory))
                live = start_live_server(
                    database_url=url,
                    instance_path=tmp_path_factory.mktemp("instance"),
                    host_mode=kind == "host",
                )
                stack.callback(live.stop)
                started[kind, backend] = live
            return started[kind, backend]

        yield live_site


@pytest.fixture(scope="session", params=BACKENDS)
def portal(request, live_sites):
    """The whole site, with the sample products and the development provider, on each database."""
    return live_sites("portal", request.param)


@pytest.fixture(
    scope="session",
    params=[(mode, backend) for mode in ("path", "host") for backend in BACKENDS],
    ids=lambda param: "-".join(param),
)
def site(request, live_sites):
    """The whole site in each mode on each database: one origin, or a host per product."""
    return live_sites(*request.param)


@pytest.fixture
def signed_in():
    """Signed-in clients made directly, without the sign-in round trip (see
    `tests.support.sessions`): `signed_in(live, tier_or_email)`; closed after the test."""
    made = []

    def make(live, tier_or_email: str):
        made.append(made_session(live, tier_or_email))
        return made[-1]

    yield make
    for http in made:
        http.close()


@pytest.fixture(scope="module")
def admin(portal):
    """The demo admin on the shared portal, with the admin console's cookie and CSRF token."""
    return admin_session(portal)


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path_factory):
    """A fresh, migrated database of each kind, for tests of the data layer."""
    with database_url_for(request.param, tmp_path_factory) as url:
        upgrade(url)
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture(scope="module")
def https_site(tmp_path_factory):
    """A portal whose public origin is https and whose identity provider cannot be reached,
    driven in-process (werkzeug's test client)."""
    from werkzeug.test import Client

    from portal.application import create_app
    from portal.config import Settings

    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        Settings(
            secret_key="https-site-secret-0123456789-abcdefghijklmnop",
            database_url=f"sqlite:///{instance / 'portal.sqlite3'}",
            base_url="https://portal.test",
            instance_path=instance,
            oidc_issuer="https://127.0.0.1:9/",
            oidc_client_id="portal",
            oidc_client_secret="client-secret",
            metrics_token="metrics-token-0123456789",
        )
    )
    yield Client(application)
    application.extensions["portal"].database.dispose()
