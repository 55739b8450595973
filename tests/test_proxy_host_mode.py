"""An `upstream =` product in host mode: on its own host, with the same headers and mount."""

import pytest

from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.support.upstreams import NodeUpstream, upstream_product

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def node():
    server = NodeUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, node):
    apps = tmp_path_factory.mktemp("site") / "apps"
    upstream_product(apps, "ea/node", node.url, health="/health")
    with private_site(tmp_path_factory, apps_dir=apps, host_mode=True) as live:
        yield live


def test_an_upstream_product_is_served_on_its_own_host_with_who_is_calling(site):
    http = signed_in(site, "ea")
    answer = http.get(site.product_url("ea/node", "/echo?x=1"), timeout=10)
    host = site.product_url("ea/node").removeprefix("http://").split("/")[0]
    assert (answer.status_code, answer.url) == (200, site.product_url("ea/node", "/echo?x=1"))
    sent = answer.json()
    assert (sent["url"], sent["headers"]["host"], sent["headers"]["x-forwarded-prefix"]) == (
        "/echo?x=1",
        host,
        "/ea/node",
    )
    assert sent["headers"]["x-portal-user"] == "auth0|demo-ea"


def test_a_redirect_on_the_products_host_stays_on_it_and_in_the_mount(site):
    http = signed_in(site, "ea")
    http.get(site.product_url("ea/node"), timeout=10)  # the handoff to the product's host
    answer = http.get(site.product_url("ea/node", "/redirect"), allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "/ea/node/landing?from=redirect"
