"""The documentation site: it builds with --strict (a broken link, a page missing from the
navigation or a reference that no longer resolves fails), and its reference pages say what the
code says: every product.toml key, every CLI command, every HTTP operation, every identity
header."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auth import identity_token
from auth.identity_headers import IDENTITY_HEADERS
from auth.product_toml import EntryPointTable, LivenessTable, ProductToml
from docs_hooks import http_api, identity_headers, product_toml
from portal.cli import main as portal_command

# Building the site (and the portal whose API it describes) takes most of a minute on a busy
# machine: more than the suite's default deadline for one test.
pytestmark = [pytest.mark.unit, pytest.mark.timeout(600)]
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCS = PROJECT_ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as `make docs-build` builds it, into a folder of its own."""
    folder = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=PROJECT_ROOT,
        # Material's banner about its successor says nothing about this site.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder


def page(site, name):
    return (site / name / "index.html").read_text(encoding="utf-8")


def nav_pages(entries):
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        else:
            for value in entry.values():
                yield from nav_pages(value) if isinstance(value, list) else [value]


def test_the_site_builds_strictly(site):
    assert (site / "index.html").is_file()


def test_every_page_is_in_the_navigation():
    config = yaml.safe_load((PROJECT_ROOT / "mkdocs.yml").read_text())
    listed = set(nav_pages(config["nav"]))
    written = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert (written - listed, listed - written) == (set(), set())


GENERATED_PAGES = ("product-toml", "kit", "cli", "http-api", "identity-headers")


@pytest.mark.parametrize("name", GENERATED_PAGES)
def test_a_generated_reference_page_is_no_placeholder(name):
    assert "To be written." not in (DOCS / "reference" / f"{name}.md").read_text()


def test_the_product_toml_reference_names_every_key_of_the_schema():
    text = product_toml.markdown()
    for model in (ProductToml, LivenessTable, EntryPointTable):
        for key, info in model.model_fields.items():
            assert f"| `{key}` |" in text and info.description.split("`")[0] in text


def test_the_cli_reference_has_every_command(site):
    text = page(site, "reference/cli")

    def commands(command, prefix):
        yield prefix
        for name, sub in getattr(command, "commands", {}).items():
            yield from commands(sub, f"{prefix} {name}")

    missing = [name for name in commands(portal_command, "portal") if f">{name}<" not in text]
    assert missing == []


def test_the_http_api_reference_has_every_operation(site):
    text = page(site, "reference/http-api")
    documents = http_api.served_documents()
    for key, _, _ in http_api.APIS:
        for path, item in documents[key]["paths"].items():
            for method in item:
                assert f"<code>{method.upper()} {path}</code>" in text, (key, method, path)


def test_the_identity_headers_reference_has_every_pattern_and_every_header_set():
    removed = identity_headers.removed_markdown()
    assert all(f"`{p}`" in removed for family in IDENTITY_HEADERS for p in family.patterns)
    text = (DOCS / "reference" / "identity-headers.md").read_text()
    set_by_the_portal = [
        identity_token.USER_HEADER,
        identity_token.EMAIL_HEADER,
        identity_token.NAME_HEADER,
        identity_token.TIER_HEADER,
        identity_token.IDENTITY_HEADER,
    ]
    assert [h for h in set_by_the_portal if f"| `{h}` |" not in text] == []


def test_the_kit_reference_documents_its_public_names(site):
    import kit

    text = page(site, "reference/kit")
    documented = {"AuthFlask", "current_user", "PortalUser", "ProductInfo", "PortalSock", "channel"}
    assert documented <= set(kit.__all__)
    anchors = set(re.findall(r'id="kit(?:\.\w+)*\.(\w+)"', text))
    assert documented - anchors == set()


def test_a_page_asking_for_an_unknown_generated_part_fails_the_build():
    from docs_hooks import reference

    with pytest.raises(ValueError, match="unknown generated part 'product-tmol'"):
        reference.on_page_markdown("<!-- generated: product-tmol -->")
