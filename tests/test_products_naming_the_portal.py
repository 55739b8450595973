"""A product's server is never the portal itself, and nothing the portal's proxy relays counts
as loopback for /metrics: product.toml may not name the portal's own address, and a server that
relays to the portal anyway (which discovery cannot see through) gets 403 for /metrics."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import requests

from auth.portal_address import portal_address_named
from portal.config import Settings
from portal.products.discovery import Loading, Status, discover
from portal.products.supervisor import process_specs
from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.support.upstreams import upstream_product

pytestmark = pytest.mark.site

OWN = ("127.0.0.1:8000", "portal.example.org:443", "unix:/run/portal.sock")


@pytest.mark.parametrize(
    ("upstream", "named"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000/base", "127.0.0.1:8000"),
        ("http://localhost:8000", "127.0.0.1:8000"),
        ("http://LOCALHOST.:8000", "127.0.0.1:8000"),
        ("http://portal.localhost:8000", "127.0.0.1:8000"),
        ("http://127.0.0.2:8000", "127.0.0.1:8000"),
        ("http://[::1]:8000", "127.0.0.1:8000"),
        ("http://[::ffff:127.0.0.1]:8000", "127.0.0.1:8000"),
        ("http://0.0.0.0:8000", "127.0.0.1:8000"),
        (f"http://{socket.gethostname()}:8000", "127.0.0.1:8000"),
        ("https://portal.example.org", "portal.example.org:443"),
        ("https://PORTAL.example.org:443/x", "portal.example.org:443"),
        ("unix:/run/portal.sock", "unix:/run/portal.sock"),
        ("http://127.0.0.1:8001", ""),
        ("http://portal.example.org", ""),
        ("https://dash.example.org", ""),
        ("http://dash:8000", ""),
        ("unix:/run/dash.sock", ""),
    ],
)
def test_an_upstream_naming_the_portals_address_is_found(upstream, named):
    assert portal_address_named(upstream, OWN) == named


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("socat TCP-LISTEN:{port},fork TCP:127.0.0.1:8000", "127.0.0.1:8000"),
        ("relay --listen {port} --to localhost:8000", "127.0.0.1:8000"),
        ("relay --listen {port} --to /run/portal.sock", "unix:/run/portal.sock"),
        ("python -m http.server {port}", ""),
        ("gunicorn -b 127.0.0.1:{port} app:app", ""),
        ("relay --listen {port} --to dash:8000", ""),
    ],
)
def test_a_command_naming_the_portals_address_is_found(command, named):
    assert portal_address_named(command, OWN, command=True) == named


def test_a_wildcard_bind_covers_this_machine_only():
    assert portal_address_named("http://localhost:8000", ("0.0.0.0:8000",)) == "0.0.0.0:8000"
    assert portal_address_named("http://api:8000", ("0.0.0.0:8000",)) == ""


def test_the_portals_addresses_are_its_base_url_and_its_bind():
    settings = Settings(base_url="https://portal.example.org", bind="0.0.0.0:8000")
    assert settings.portal_addresses == ("portal.example.org:443", "0.0.0.0:8000")


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        (
            'upstream = "http://localhost:8000"\n',
            "product.toml: upstream 'http://localhost:8000' names the portal's own address "
            "(127.0.0.1:8000): a product's server must be a server of its own, not the portal",
        ),
        (
            'command = "socat TCP-LISTEN:{port},fork TCP:127.0.0.1:8000"\n',
            "product.toml: command 'socat TCP-LISTEN:{port},fork TCP:127.0.0.1:8000' names the "
            "portal's own address (127.0.0.1:8000): a product's server must be a server of its "
            "own, not the portal",
        ),
    ],
)
def test_discovery_marks_a_product_naming_the_portal_broken_with_the_reason(tmp_path, toml, error):
    folder = tmp_path / "ea" / "loop"
    folder.mkdir(parents=True)
    (folder / "product.toml").write_text(toml)
    [loop] = discover(tmp_path, loading=Loading(portal_addresses=OWN)).products
    assert (loop.status, loop.error) == (Status.BROKEN, error)


def test_the_supervisor_never_runs_a_command_naming_the_portal(tmp_path):
    for name, command in (
        ("loop", "socat TCP-LISTEN:{port},fork TCP:127.0.0.1:8000"),
        ("fine", "python -m http.server {port}"),
    ):
        (tmp_path / "ea" / name).mkdir(parents=True)
        (tmp_path / "ea" / name / "product.toml").write_text(f"command = {command!r}\n")
    specs = process_specs(tmp_path, (), OWN)
    assert (specs["ea/loop"], specs["ea/fine"].command) == (None, "python -m http.server {port}")


class Relay:
    """A TCP relay to the portal: a product server that passes every request on to it."""

    def __init__(self, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the portal has stopped: the client gets a closed connection
                client.close()
                continue
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "ea").mkdir()
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        relay = Relay(live.server.server_port)
        upstream_product(apps, "ea/relayed", f"http://127.0.0.1:{relay.port}")
        upstream_product(apps, "ea/loop", live.base_url)
        yield live
        relay.close()


def test_the_portal_answers_metrics_on_loopback(site):
    assert requests.get(site.base_url + "/metrics", timeout=10).status_code == 200


def test_metrics_through_a_product_that_relays_to_the_portal_are_refused(site):
    http = signed_in(site, "ea")
    answer = http.get(site.base_url + "/ea/relayed/metrics", timeout=10)
    assert (answer.status_code, answer.json()) == (
        403,
        {"error": "forbidden", "message": "Metrics are not open to this client."},
    )


@pytest.mark.parametrize("header", ["X-Forwarded-Prefix", "X-Portal-Identity", "X-Portal-User"])
def test_a_loopback_request_carrying_the_proxys_headers_is_refused(site, header):
    answer = requests.get(site.base_url + "/metrics", headers={header: "/ea/x"}, timeout=10)
    assert answer.status_code == 403


def test_an_upstream_at_the_portals_own_address_is_broken_and_not_served(site):
    http = signed_in(site, "admin")
    deadline = time.monotonic() + 30
    while (answer := http.get(site.base_url + "/ea/loop/metrics", timeout=10)).status_code != 503:
        assert time.monotonic() < deadline, answer.status_code
        time.sleep(0.2)
    [loop] = [p for p in site.services.discovery.products if p.info.key == "ea/loop"]
    assert (loop.status, loop.error) == (
        Status.BROKEN,
        f"product.toml: upstream {site.base_url!r} names the portal's own address "
        f"({site.base_url.removeprefix('http://')}): a product's server must be a server of "
        "its own, not the portal",
    )
