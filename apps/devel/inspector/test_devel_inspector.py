
from apps.devel.inspector import app
from kit import Tier
from kit.testing import make_user, product_client


def test_shows_the_user_from_the_environ():
    client = product_client(app, user=make_user(Tier.DEVEL, name="Dev", email="dev@example.test"))

    page = client.get("/").text

    assert "<code>Dev &lt;dev@example.test&gt;</code>" in page


def test_shows_mount_and_path():
    page = product_client(app).get("/some/path").text

    assert '<th scope="row">SCRIPT_NAME</th><td><code>/devel/inspector</code>' in page
    assert '<th scope="row">PATH_INFO</th><td><code>/some/path</code>' in page


def test_answers_html():
    response = product_client(app).get("/")

    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"


def test_escapes_user_supplied_text():
    client = product_client(app, user=make_user(Tier.ADMIN, name="<script>x</script>"))

    page = client.get("/").text

    assert "<script>x" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_shows_remote_user_and_the_x_headers_it_received():
    client = product_client(app)

    page = client.get(
        "/",
        headers={"X-Probe": "<b>seen</b>", "Remote-User": "someone", "Accept": "text/html"},
        environ_overrides={"REMOTE_USER": "test|devel"},
    ).text

    assert '<th scope="row">REMOTE_USER</th><td><code>test|devel</code>' in page
    assert '<th scope="row">HTTP_X_PROBE</th><td><code>&lt;b&gt;seen&lt;/b&gt;</code>' in page
    assert '<th scope="row">HTTP_REMOTE_USER</th><td><code>someone</code>' in page
    assert "HTTP_ACCEPT" not in page


def test_shows_cookie_names_but_never_their_values():
    client = product_client(app)
    client.set_cookie("theme", "dark")
    client.set_cookie("portal_session", "s3cr3t")

    page = client.get("/").text

    assert '<th scope="row">Cookie names</th><td><code>theme, portal_session</code>' in page
    assert "dark" not in page
    assert "s3cr3t" not in page


def test_says_none_when_there_are_no_cookies():
    page = product_client(app).get("/").text

    assert '<th scope="row">Cookie names</th><td><code>(none)</code>' in page
