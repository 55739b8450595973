"""The suite's own rule: every test has one tier, and a product's own tests need not say so."""

import os
import subprocess
import sys
import textwrap

import pytest

from portal.config import PROJECT_ROOT

pytestmark = pytest.mark.unit

PASSING = "def test_it():\n    assert True\n"


def collect(root, *args):
    (root / "conftest.py").write_text('pytest_plugins = ["tests.support.tiers"]\n')
    (root / "pytest.ini").write_text(
        textwrap.dedent(
            """\
            [pytest]
            addopts = -p no:cacheprovider -p no:dash
            markers =
                unit: no server
                site: a site in-process
            """
        )
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_products_own_test_without_a_marker_is_a_unit_test(tmp_path):
    product = tmp_path / "apps" / "stable" / "notes"
    product.mkdir(parents=True)
    (product / "test_notes.py").write_text(PASSING)
    result = collect(tmp_path, "-m", "unit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "apps/stable/notes/test_notes.py::test_it" in result.stdout


def test_a_suite_test_without_a_marker_fails_the_collection_naming_it(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_untiered.py").write_text(PASSING)
    result = collect(tmp_path)
    assert result.returncode != 0
    assert "tests/test_untiered.py::test_it: no tier" in result.stdout + result.stderr


def test_a_test_with_two_tiers_fails_the_collection_naming_both(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_twice.py").write_text(
        "import pytest\n\n\n@pytest.mark.unit\n@pytest.mark.site\n" + PASSING
    )
    result = collect(tmp_path)
    assert result.returncode != 0
    assert "tests/test_twice.py::test_it: site, unit" in result.stdout + result.stderr
