import logging
import textwrap

import pytest

from auth.tiers import Tier
from portal.products.discovery import Status, discover, selected

pytestmark = pytest.mark.site

WSGI_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def product(apps, key, source=WSGI_APP, metadata=None):
    folder = apps / key
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(textwrap.dedent(source))
    if metadata is not None:
        (folder / "product.toml").write_text(textwrap.dedent(metadata))
    return folder


def by_key(found):
    return {p.info.key: p for p in found.products}


def test_a_product_folder_is_mounted_at_tier_and_name(tmp_path):
    product(tmp_path, "ea/alpha")
    alpha = by_key(discover(tmp_path))["ea/alpha"]
    assert (alpha.status, alpha.mount_path, alpha.info.tier) == (
        Status.LOADED,
        "/ea/alpha",
        Tier.EA,
    )


def test_without_metadata_the_folder_name_is_the_title(tmp_path):
    product(tmp_path, "stable/alpha")
    info = by_key(discover(tmp_path))["stable/alpha"].info
    assert (info.title, info.description, info.version) == ("alpha", "", "")


def test_metadata_gives_title_description_and_version(tmp_path):
    product(
        tmp_path,
        "stable/alpha",
        metadata='title = "Alpha"\ndescription = "First"\nversion = "1.2"\n',
    )
    info = by_key(discover(tmp_path))["stable/alpha"].info
    assert (info.title, info.description, info.version) == ("Alpha", "First", "1.2")


def test_the_same_name_may_live_in_two_tiers(tmp_path):
    product(tmp_path, "stable/disagg")
    product(tmp_path, "ea/disagg")
    assert sorted(by_key(discover(tmp_path))) == ["ea/disagg", "stable/disagg"]


def test_a_factory_is_called_when_there_is_no_app(tmp_path):
    product(
        tmp_path,
        "stable/made",
        "def create_app():\n    return lambda environ, start_response: [b'']\n",
    )
    assert callable(by_key(discover(tmp_path))["stable/made"].app)


def test_relative_imports_inside_a_product_work(tmp_path):
    folder = product(tmp_path, "stable/pkg", "from .views import app\n")
    (folder / "views.py").write_text(WSGI_APP)
    assert by_key(discover(tmp_path))["stable/pkg"].status is Status.LOADED


def test_an_import_error_marks_the_product_broken_and_logs_the_traceback(tmp_path, caplog):
    product(tmp_path, "devel/bad", "raise RuntimeError('database unreachable')\n")
    product(tmp_path, "stable/good")
    with caplog.at_level(logging.ERROR):
        found = by_key(discover(tmp_path))
    bad = found["devel/bad"]
    assert (bad.status, bad.error) == (Status.BROKEN, "RuntimeError: database unreachable")
    assert "Traceback" in bad.traceback
    assert found["stable/good"].status is Status.LOADED
    assert "product devel/bad failed to load" in caplog.text


def test_a_package_without_app_or_factory_is_broken(tmp_path):
    product(tmp_path, "stable/empty", "VALUE = 1\n")
    empty = by_key(discover(tmp_path))["stable/empty"]
    assert empty.error == (
        "TypeError: the package exposes neither a WSGI `app` nor a `create_app()` factory"
    )


def test_a_folder_without_init_is_broken(tmp_path):
    (tmp_path / "stable" / "loose").mkdir(parents=True)
    loose = by_key(discover(tmp_path))["stable/loose"]
    assert loose.error == "not a Python package: __init__.py is missing"


def test_invalid_metadata_marks_the_product_broken(tmp_path):
    product(tmp_path, "stable/meta", metadata="title = [\n")
    meta = by_key(discover(tmp_path))["stable/meta"]
    assert meta.status is Status.BROKEN
    assert meta.error.startswith("product.toml: ")


def test_a_folder_that_is_not_a_tier_is_reported_and_not_mounted(tmp_path, caplog):
    product(tmp_path, "beta/thing")
    product(tmp_path, "Stable/thing")
    with caplog.at_level(logging.WARNING):
        found = discover(tmp_path)
    assert found.products == []
    assert found.ignored == ["Stable", "beta"]
    assert "apps/beta is not a tier (admin, devel, ea, stable)" in caplog.text


def test_excluded_products_are_listed_but_not_imported(tmp_path):
    product(tmp_path, "devel/experimental", "raise SystemExit('must not be imported')\n")
    product(tmp_path, "stable/alpha")
    found = discover(tmp_path, ["stable/*"])
    assert by_key(found)["devel/experimental"].status is Status.EXCLUDED
    assert [p.info.key for p in found.mounted()] == ["stable/alpha"]


def test_a_rescan_finding_nothing_changed_keeps_every_product_excluded_ones_too(tmp_path):
    """The watcher rebuilds the mounts (and logs "apps changed") when any product is a new
    object: an excluded product made anew on each rescan did that every second."""
    product(tmp_path, "devel/experimental")
    product(tmp_path, "stable/alpha")
    first = discover(tmp_path, ["!devel/experimental"])
    again = discover(tmp_path, ["!devel/experimental"], keep=by_key(first))
    assert [id(p) for p in again.products] == [id(p) for p in first.products]


def test_a_product_no_longer_excluded_is_imported_on_the_next_rescan(tmp_path):
    product(tmp_path, "devel/experimental")
    first = discover(tmp_path, ["!devel/experimental"])
    again = discover(tmp_path, [], keep=by_key(first))
    assert by_key(again)["devel/experimental"].status is Status.LOADED


@pytest.mark.parametrize(
    ("key", "patterns", "served"),
    [
        ("devel/x", (), True),
        ("stable/x", ("stable/*",), True),
        ("ea/x", ("stable/*",), False),
        ("devel/experimental", ("!devel/experimental",), False),
        ("devel/other", ("!devel/experimental",), True),
        ("stable/x", ("stable/*", "!stable/x"), False),
        ("Stable/x", ("stable/*",), False),
    ],
)
def test_portal_apps_patterns_include_and_exclude(key, patterns, served):
    assert selected(key, patterns) is served
