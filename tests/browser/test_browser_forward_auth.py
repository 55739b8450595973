"""A product page's script in real Chromium cannot read its visitor's identity token from
`/auth/check`: the browser's own fetch metadata marks the request, in path and host mode."""

import pytest

from tests.support.live import private_site

pytestmark = pytest.mark.browser

EA = "ea/forecast"
READ_THE_CHECK = """async (uri) => {
    const answer = await fetch("/auth/check", {headers: {"X-Forwarded-Uri": uri}});
    const body = await answer.text();
    return [answer.status, answer.headers.has("X-Portal-Identity"), body && JSON.parse(body).error];
}"""


@pytest.fixture(scope="module", params=["path", "host"])
def site(request, tmp_path_factory):
    with private_site(tmp_path_factory, host_mode=request.param == "host") as live:
        yield live


def test_a_product_pages_script_cannot_read_the_identity_token(site, page):
    page.goto(site.base_url + f"/login?next=/{EA}/")
    page.get_by_label("Email").fill("ea@example.com")
    page.get_by_label("Password").fill("ea")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.product_url(EA) + "**")
    assert page.evaluate(READ_THE_CHECK, f"/{EA}/") == [403, False, "forward_auth_browser"]
