import pytest

from db.engine import Database
from db.migrate import upgrade
from tests.support.databases import BACKENDS, database_url_for
from tests.support.live import start_live_server


@pytest.fixture(scope="session", params=BACKENDS)
def portal(request, tmp_path_factory):
    """The whole site, with the sample products and the development provider, on each database."""
    with database_url_for(request.param, tmp_path_factory) as url:
        live = start_live_server(
            database_url=url, instance_path=tmp_path_factory.mktemp("instance")
        )
        yield live
        live.stop()


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path_factory):
    """A fresh, migrated database of each kind, for tests of the data layer."""
    with database_url_for(request.param, tmp_path_factory) as url:
        upgrade(url)
        database = Database(url)
        yield database
        database.dispose()
