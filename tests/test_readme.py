"""The README stays a front page: short, and a way into every page of the documentation site."""

import re

import pytest
import yaml

from portal.config import PROJECT_ROOT

pytestmark = pytest.mark.unit

README = (PROJECT_ROOT / "README.md").read_text()
MOST_LINES = 120


def nav_pages(entry) -> list[str]:
    """Every page the site's navigation lists, in order, as paths under docs/."""
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, dict):
        return [page for value in entry.values() for page in nav_pages(value)]
    return [page for item in entry for page in nav_pages(item)]


def readme_links() -> set[str]:
    return set(re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", README))


def test_the_navigation_lists_pages():
    config = yaml.safe_load((PROJECT_ROOT / "mkdocs.yml").read_text())

    assert "index.md" in nav_pages(config["nav"])


def test_the_readme_links_every_page_of_the_site():
    config = yaml.safe_load((PROJECT_ROOT / "mkdocs.yml").read_text())

    missing = [p for p in nav_pages(config["nav"]) if f"docs/{p}" not in readme_links()]

    assert missing == []


def test_every_file_the_readme_links_exists():
    local = [link for link in readme_links() if "://" not in link]

    assert [link for link in local if not (PROJECT_ROOT / link).exists()] == []


def test_the_readme_is_at_most_120_lines():
    assert len(README.splitlines()) <= MOST_LINES
