"""Sign-in is rate-limited per client address: 429 with Retry-After past the limit."""

import pytest
import requests

from tests.support.live import private_site

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with private_site(tmp_path_factory, login_rate_limit="3/minute") as live:
        yield live


def test_sign_in_attempts_past_the_limit_get_429_with_retry_after(site):
    statuses = [
        requests.get(site.base_url + "/login", allow_redirects=False, timeout=10).status_code
        for _ in range(4)
    ]
    assert statuses == [302, 302, 302, 429]
    refused = requests.get(site.base_url + "/callback?code=x&state=y", timeout=10)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Traceback" not in refused.text
