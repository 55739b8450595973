import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auth.identity import ProductInfo
from auth.tiers import Tier
from kit.testing import make_user, product_client
from portal.products.scaffold import create_product, promote_product

pytestmark = pytest.mark.site

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def apps_dir(tmp_path):
    """An empty apps/ package laid out like the repository's."""
    apps = tmp_path / "apps"
    for tier in Tier:
        (apps / tier.value).mkdir(parents=True)
        (apps / tier.value / "__init__.py").write_text("")
    (apps / "__init__.py").write_text("")
    return apps


def import_product(folder: Path):
    """Import a scaffolded package under a unique name, apart from the repository's apps."""
    module_name = f"scaffolded_{folder.parent.name}_{folder.name}"
    spec = importlib.util.spec_from_file_location(
        module_name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run_pytest(folder: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(folder),
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(cwd),
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_create_writes_the_product_files(apps_dir):
    folder = create_product(apps_dir, Tier.DEVEL, "sales_report")

    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [
        "__init__.py",
        "product.toml",
        "templates/sales_report/index.html",
        "test_devel_sales_report.py",
    ]


def test_create_returns_the_product_folder(apps_dir):
    assert create_product(apps_dir, Tier.EA, "maps") == apps_dir / "ea" / "maps"


def test_create_titles_the_product_after_its_name(apps_dir):
    folder = create_product(apps_dir, Tier.EA, "sales_report")

    assert 'title = "Sales Report"' in (folder / "product.toml").read_text()


def test_created_product_page_renders_for_a_user(apps_dir):
    folder = create_product(apps_dir, Tier.DEVEL, "sales_report")
    module = import_product(folder)

    product = ProductInfo(tier=Tier.DEVEL, name="sales_report", title="Sales Report")
    client = product_client(module.app, user=make_user(Tier.DEVEL, name="Ada"), product=product)
    response = client.get("/")

    assert response.status_code == 200
    assert "<h1>Sales Report</h1>" in response.text
    assert "Hello, Ada." in response.text


def test_created_products_own_test_passes(apps_dir):
    folder = create_product(apps_dir, Tier.STABLE, "sales_report")

    result = run_pytest(folder, apps_dir.parent)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("name", ["Sales", "_private", "sales-report", "1st", "class", "", "café"])
def test_create_refuses_a_bad_name(apps_dir, name):
    with pytest.raises(ValueError, match="invalid product name"):
        create_product(apps_dir, Tier.STABLE, name)


def test_create_refuses_an_existing_product(apps_dir):
    create_product(apps_dir, Tier.STABLE, "maps")

    with pytest.raises(FileExistsError, match="product stable/maps already exists"):
        create_product(apps_dir, Tier.STABLE, "maps")


def test_promote_moves_the_folder(apps_dir):
    create_product(apps_dir, Tier.DEVEL, "maps")

    moved = promote_product(apps_dir, Tier.DEVEL, "maps", Tier.EA)

    assert moved == apps_dir / "ea" / "maps"
    assert (moved / "__init__.py").is_file()
    assert not (apps_dir / "devel" / "maps").exists()


def test_promote_renames_the_scaffolded_test(apps_dir):
    create_product(apps_dir, Tier.DEVEL, "maps")

    moved = promote_product(apps_dir, Tier.DEVEL, "maps", Tier.EA)

    assert (moved / "test_ea_maps.py").is_file()
    assert not (moved / "test_devel_maps.py").exists()


def test_promoted_products_test_still_passes(apps_dir):
    create_product(apps_dir, Tier.DEVEL, "maps")
    moved = promote_product(apps_dir, Tier.DEVEL, "maps", Tier.STABLE)

    result = run_pytest(moved, apps_dir.parent)

    assert result.returncode == 0, result.stdout + result.stderr


def test_promote_refuses_an_existing_target(apps_dir):
    create_product(apps_dir, Tier.DEVEL, "maps")
    create_product(apps_dir, Tier.EA, "maps")

    with pytest.raises(FileExistsError, match="cannot move devel/maps to ea"):
        promote_product(apps_dir, Tier.DEVEL, "maps", Tier.EA)


def test_promote_refuses_a_missing_product(apps_dir):
    with pytest.raises(FileNotFoundError, match="no product devel/maps to promote"):
        promote_product(apps_dir, Tier.DEVEL, "maps", Tier.EA)
