"""Start and promote products, so a new product begins as one that already works and is tested.

A product is a folder, ``apps/<tier>/<name>/``; the folder is its access tier. Creating one
copies ``scaffold_template/`` (an AuthFlask page in the portal's frame, ``product.toml`` and a
passing test); promoting one moves the folder. The template files end in ``.tmpl`` so that
neither pytest nor ruff mistakes them for the repository's own modules.
"""

from __future__ import annotations

import keyword
import shutil
from pathlib import Path
from string import Template

from auth.tiers import Tier

TEMPLATE_DIR = Path(__file__).resolve().parent / "scaffold_template"
TEMPLATE_SUFFIX = ".tmpl"


def validate_name(name: str) -> None:
    """A product's name is part of its URL and its Python package, so both rules apply."""
    if not (
        name.isascii()
        and name.isidentifier()
        and name == name.lower()
        and not name.startswith("_")
        and not keyword.iskeyword(name)
    ):
        raise ValueError(
            f"invalid product name {name!r}: use a lowercase Python identifier that does not "
            "start with an underscore and is not a Python keyword, such as 'sales_report'"
        )


def create_product(apps_dir: Path, tier: Tier, name: str) -> Path:
    """Scaffold ``apps_dir/<tier>/<name>/`` and return it; never overwrites an existing product."""
    validate_name(name)
    target = apps_dir / tier.value / name
    if target.exists():
        raise FileExistsError(f"product {tier.value}/{name} already exists at {target}")
    values = {"tier": tier.value, "name": name, "title": name.replace("_", " ").title()}
    files = sorted(p for p in TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}") if p.is_file())
    target.mkdir(parents=True)
    for source in files:
        relative = source.relative_to(TEMPLATE_DIR).as_posix().removesuffix(TEMPLATE_SUFFIX)
        destination = target / Template(relative).substitute(values)
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = Template(source.read_text(encoding="utf-8")).substitute(values)
        destination.write_text(text, encoding="utf-8")
    return target


def promote_product(apps_dir: Path, tier: Tier, name: str, new_tier: Tier) -> Path:
    """Move a product to ``new_tier`` and return its new folder; the move is the whole promotion.

    The scaffolded test is named after the tier so two tiers' versions of one product can be
    tested side by side; it is renamed to match the new tier.
    """
    source = apps_dir / tier.value / name
    target = apps_dir / new_tier.value / name
    if not source.is_dir():
        raise FileNotFoundError(f"no product {tier.value}/{name} to promote: {source} is missing")
    if target.exists():
        raise FileExistsError(
            f"cannot move {tier.value}/{name} to {new_tier.value}: {target} already exists"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(target))
    old_test = target / f"test_{tier.value}_{name}.py"
    new_test = target / f"test_{new_tier.value}_{name}.py"
    if old_test.is_file() and not new_test.exists():
        old_test.rename(new_test)
    return target
