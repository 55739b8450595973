from apps.devel.inspector import app
from auth.testing import make_user, product_client
from auth.tiers import Tier


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
