"""The schema of product.toml: a key it doesn't know, or a value of the wrong type, breaks the
product with a message naming the key; the rest of its checks are in test_product_kinds.py
and test_product_paths.py."""

import pytest

from auth.product_toml import EntryPointTable, LivenessTable, ProductToml, parse_product_toml
from portal.products.discovery import Status, discover

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"titel": "Dash"},
            "unknown keys titel; product.toml takes title, description, version, "
            "audience, scope, command, upstream, health, timeout, liveness, entry_points and "
            "stricter_paths",
        ),
        ({"version": 2}, "version must be a string"),
        ({"upstream": "http://a", "timeout": "5"}, "timeout must be a number of seconds"),
        (
            {"upstream": "http://a", "timeout": 0},
            "timeout must be between 0.1 and 3600 seconds, got 0",
        ),
        ({"entry_points": [{"title": "S"}]}, "entry_points #1: path is required"),
        ({"stricter_paths": {"/svc/": 3}}, "stricter_paths '/svc/' must be a string"),
        (
            {"title": 1, "version": 2},
            "title must be a string; version must be a string",
        ),
    ],
)
def test_a_wrong_key_or_type_is_one_readable_line(data, message):
    with pytest.raises(ValueError) as raised:
        parse_product_toml(data)
    assert str(raised.value) == message


def test_an_empty_file_is_every_default():
    assert parse_product_toml({}) == ProductToml()


def test_a_product_with_an_unknown_key_is_broken_with_that_key_named(tmp_path):
    folder = tmp_path / "stable" / "dash"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("def app(environ, start_response):\n    return []\n")
    (folder / "product.toml").write_text('title = "Dash"\nentry_point = "/"\n')
    dash = discover(tmp_path).products[0]
    assert (dash.status, dash.error) == (
        Status.BROKEN,
        "product.toml: unknown keys entry_point; product.toml takes title, description, "
        "version, audience, scope, command, upstream, health, timeout, liveness, entry_points "
        "and stricter_paths",
    )


def test_every_key_has_a_description():
    tables = (ProductToml, LivenessTable, EntryPointTable)
    assert all(info.description for table in tables for info in table.model_fields.values())
