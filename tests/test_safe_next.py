import pytest

from portal.views.signin import safe_next

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "value",
    ["/", "/stable/hello/", "/ea/forecast/api/today?city=Oslo", "/devel/inspector/a%2Fb"],
)
def test_paths_on_this_site_are_kept(value):
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        "stable/hello",
        "/%0d%0aSet-Cookie:x=1".replace("%0d%0a", "\r\n"),
        "/\tevil",
    ],
)
def test_anything_else_returns_to_the_dashboard(value):
    assert safe_next(value) == "/"
