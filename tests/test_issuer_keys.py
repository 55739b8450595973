"""The issuer key cache: rotation picked up, refetches rate-limited, outages survived."""

import json
import threading

import pytest
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from auth.bearer import BearerError, IssuerKeys

pytestmark = pytest.mark.site


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class JwksServer:
    """A real HTTP endpoint serving a key set that tests can rotate or take down."""

    def __init__(self):
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})]
        self.up = True
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def app(self, environ, start_response):
        if not self.up:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        body = json.dumps(KeySet(self.keys).as_dict(private=False)).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    def rotate(self, kid):
        self.keys.append(RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"}))


@pytest.fixture
def issuer():
    server = JwksServer()
    yield server
    server.server.shutdown()


@pytest.fixture
def clock():
    return Clock()


def test_known_keys_are_served_from_the_cache(issuer, clock):
    keys = IssuerKeys(lambda: issuer.url, clock=clock)
    keys.key("k1")
    keys.key("k1")
    assert keys.fetches == 1


def test_a_rotated_in_key_is_picked_up_without_a_restart(issuer, clock):
    keys = IssuerKeys(lambda: issuer.url, clock=clock)
    keys.key("k1")
    issuer.rotate("k2")
    clock.now += 61
    assert keys.key("k2").key_id == "k2"


def test_unknown_kids_refetch_at_most_once_a_minute(issuer, clock):
    keys = IssuerKeys(lambda: issuer.url, clock=clock)
    keys.key("k1")
    clock.now += 61
    for attempt in range(50):
        with pytest.raises(BearerError):
            keys.key(f"random-{attempt}")
    assert keys.fetches == 2


def test_a_failed_fetch_keeps_the_keys_already_known(issuer, clock):
    keys = IssuerKeys(lambda: issuer.url, clock=clock, lifetime=10)
    keys.key("k1")
    issuer.up = False
    clock.now += 3600
    assert keys.key("k1").key_id == "k1"
    assert keys.fetches == 2


def test_the_whole_set_is_refreshed_after_its_lifetime(issuer, clock):
    keys = IssuerKeys(lambda: issuer.url, clock=clock, lifetime=300)
    keys.key("k1")
    clock.now += 301
    keys.key("k1")
    assert keys.fetches == 2


def test_waiting_for_the_keys_ends_with_the_refreshers_first_fetch(issuer):
    keys = IssuerKeys(lambda: issuer.url)
    keys.start()
    assert keys.wait_known(30) is True
    assert keys.key("k1").key_id == "k1"
    assert keys.fetches == 1


def test_waiting_for_the_keys_gives_up_while_the_issuer_is_down(issuer):
    issuer.up = False
    keys = IssuerKeys(lambda: issuer.url)
    keys.start()
    assert keys.wait_known(0.5) is False


def test_nothing_is_waited_for_when_no_refresher_fetches_the_keys(issuer):
    assert IssuerKeys(lambda: issuer.url).wait_known(30) is False
