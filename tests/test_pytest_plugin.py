"""The kit's pytest plugin: a product's own tests get its fixtures by name, with no import and no
conftest, because the portal's distribution registers it under pytest's `pytest11` entry point.

Each test writes a product into a fresh apps/ folder and runs pytest on it in a new process, as a
product developer would."""

import importlib.metadata
import textwrap

import pytest

from tests.test_scaffold import apps_dir, run_pytest  # noqa: F401 - apps_dir is a fixture

pytestmark = pytest.mark.site

FACTORY_PRODUCT = """
from flask import Flask, jsonify, request


def create_app():
    app = Flask(__name__)

    @app.get("/api/who")
    def who():
        user = request.environ["portal.user"]
        return jsonify(email=user.email, tier=user.tier.value, path=request.path)

    return app
"""


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))


def test_the_plugin_is_registered_under_pytests_entry_point():
    [entry] = [
        e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "portal-kit"
    ]
    assert entry.value == "kit.pytest_fixtures"


def test_a_factory_products_tests_in_its_tests_folder_get_the_fixtures(apps_dir):  # noqa: F811
    product = apps_dir / "devel" / "reports"
    write(
        product,
        {
            "__init__.py": FACTORY_PRODUCT,
            "product.toml": 'title = "Reports"\n',
            "tests/__init__.py": "",
            "tests/test_who.py": """
                import pytest
                from kit import Tier

                def test_the_product_is_read_from_its_folder(product_info):
                    assert (product_info.key, product_info.title) == ("devel/reports", "Reports")

                def test_requests_carry_a_user_of_the_products_tier(product_client, portal_user):
                    assert product_client.get("/api/who").get_json() == {
                        "email": portal_user.email, "tier": "devel", "path": "/api/who",
                    }

                @pytest.mark.parametrize("portal_tier", [Tier.ADMIN])
                def test_a_test_chooses_the_tier_by_parametrizing_it(product_client):
                    assert product_client.get("/api/who").get_json()["tier"] == "admin"
            """,
        },
    )

    result = run_pytest(product, apps_dir.parent)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_a_products_conftest_can_build_the_app_its_own_way(apps_dir):  # noqa: F811
    product = apps_dir / "ea" / "configured"
    write(
        product,
        {
            "__init__.py": FACTORY_PRODUCT.replace("def create_app():", "def build(flag):"),
            "conftest.py": """
                import pytest
                from . import build

                @pytest.fixture
                def product_app():
                    return build(flag=True)
            """,
            "test_configured.py": """
                def test_the_client_wraps_the_conftests_app(product_client):
                    assert product_client.get("/api/who").get_json()["tier"] == "ea"
            """,
        },
    )

    result = run_pytest(product, apps_dir.parent)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_test_outside_any_product_folder_is_told_what_to_define(tmp_path):
    write(
        tmp_path / "loose",
        {"test_loose.py": "def test_needs_a_product(product_client):\n    pass\n"},
    )

    result = run_pytest(tmp_path / "loose", tmp_path)

    assert result.returncode != 0
    assert "is not inside a product folder (<apps>/<tier>/<product>/)" in result.stdout
    assert "define the product_app and product_info fixtures in its conftest.py" in result.stdout
