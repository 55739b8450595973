"""The proxy and servers that close kept-alive connections: a request the server never began
to answer is sent once more, on a new connection, when sending it twice does no harm (an
idempotent method, RFC 9110 9.2.2, with no body); any other is answered 502, never sent twice.

The proxy runs in-process (werkzeug's test client drives `ProxyApp`); the server is real, on a
socket, and drops a tenth of the requests that arrive on a connection it already answered on.
"""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from auth.hosts import Origins
from auth.identity import ProductInfo
from auth.tiers import Tier
from portal.pages import ErrorPages
from portal.products.proxy import ProxyApp
from tests.support.closing_upstream import ClosingUpstream

pytestmark = pytest.mark.site

ORIGINS = Origins.from_settings("http://portal.test", "")


@pytest.fixture
def upstream():
    server = ClosingUpstream(drop=0.1)
    yield server
    server.stop()


@pytest.fixture
def proxy(upstream):
    product = ProductInfo(tier=Tier.STABLE, name="flaky", title="Flaky", upstream=upstream.url)
    app = ProxyApp(product, upstream.url, tokens=None, pages=ErrorPages("Portal", ORIGINS))
    return Client(app)


@pytest.mark.timeout(600)  # 10,000 requests: about 15 s alone, minutes on a busy machine
def test_no_get_fails_when_the_server_closes_kept_alive_connections(proxy, upstream):
    statuses = [
        proxy.get("/page", headers={"Accept": "text/plain"}).status_code for _ in range(10_000)
    ]
    assert upstream.dropped["GET"] > 500  # the server did close connections under the proxy
    assert {code: statuses.count(code) for code in set(statuses)} == {200: 10_000}


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE"])
def test_other_idempotent_requests_without_a_body_are_sent_again(proxy, upstream, method):
    statuses = [proxy.open("/thing", method=method).status_code for _ in range(500)]
    assert upstream.dropped[method] > 10
    assert set(statuses) == {200}


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_non_idempotent_request_is_never_sent_twice(proxy, upstream, method):
    statuses = [proxy.open("/form", method=method, data=b"a=1").status_code for _ in range(500)]
    assert upstream.arrived[method] == 500
    assert upstream.dropped[method] > 10
    assert statuses.count(502) == upstream.dropped[method]
    assert statuses.count(200) == 500 - upstream.dropped[method]


def test_an_idempotent_request_with_a_body_is_never_sent_twice(proxy, upstream):
    statuses = [proxy.put("/file", data=b"contents").status_code for _ in range(500)]
    assert upstream.arrived["PUT"] == 500
    assert statuses.count(502) == upstream.dropped["PUT"] > 10
