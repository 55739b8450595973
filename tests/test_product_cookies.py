"""Each product's cookies stay inside its mount, so two products never overwrite each other's."""

import textwrap

import pytest

from auth.cookies import scoped_cookie
from tests.support.live import private_site
from tests.support.sessions import signed_in

pytestmark = pytest.mark.site

MOUNT = "/stable/counter"


@pytest.mark.parametrize(
    ("set_cookie", "sent"),
    [
        ("session=abc; Path=/; HttpOnly", "session=abc; Path=/stable/counter; HttpOnly"),
        (
            "session=abc; HttpOnly; SameSite=Lax",
            "session=abc; Path=/stable/counter; HttpOnly; SameSite=Lax",
        ),
        ("session=abc; path=/", "session=abc; Path=/stable/counter"),
        ("theme=dark; Path=/stable/counter/settings", "theme=dark; Path=/stable/counter/settings"),
        ("theme=dark; Path=/stable/counter", "theme=dark; Path=/stable/counter"),
        ("theme=dark; Domain=example.org; Path=/", "theme=dark; Path=/stable/counter"),
        ("theme=dark; Path=/stable/counterfeit", None),
        ("theme=dark; Path=/admin/manage", None),
        ("theme=dark; Path=/logout", None),
        ("portal_session=forged; Path=/stable/counter", None),
        ("__Host-portal_session=forged; Path=/", None),
        ("portal_product_admin_manage=x; Path=/stable/counter", None),
        (
            "portal_product_stable_counter=mine; Path=/",
            "portal_product_stable_counter=mine; Path=/stable/counter",
        ),
        (
            "id=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure",
            "id=1; Path=/stable/counter; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure",
        ),
    ],
)
def test_a_products_set_cookie_is_kept_inside_its_mount(set_cookie, sent):
    assert scoped_cookie(set_cookie, MOUNT, own_name="portal_product_stable_counter") == sent


COUNTER = """
from flask import Flask, session

app = Flask(__name__)
app.secret_key = "{name}-secret-for-this-test-only"


@app.get("/")
def count():
    session["visits"] = session.get("visits", 0) + 1
    return str(session["visits"])
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for key in ("stable/first", "stable/second"):
        (apps / key).mkdir(parents=True)
        source = COUNTER.format(name=key.split("/")[1])
        (apps / key / "__init__.py").write_text(textwrap.dedent(source))
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        yield live


def test_two_plain_flask_products_keep_their_own_session_cookies(site):
    http = signed_in(site, "stable")
    visits = [
        http.get(site.base_url + path, timeout=10).text
        for path in ("/stable/first/", "/stable/first/", "/stable/second/", "/stable/first/")
    ]
    assert visits == ["1", "2", "1", "3"]


def test_a_plain_flask_session_cookie_is_scoped_to_the_products_mount(site):
    http = signed_in(site, "stable")
    answer = http.get(site.base_url + "/stable/first/", timeout=10)
    assert "Path=/stable/first;" in answer.headers["Set-Cookie"]
    assert {cookie.path for cookie in http.cookies if cookie.name == "session"} == {"/stable/first"}
