"""The ASVS page maps each requirement to the tests that show it, and the security model names
the tests behind each attack. A renamed or deleted test would leave either pointing at nothing,
so every `tests/<module>.py::<function>` they cite must name a test function in that module, and
every requirement the ASVS page counts as met must cite at least one."""

import ast
import re
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
EXPLANATION = ROOT / "docs" / "explanation"
CITING = ("asvs.md", "security-model.md")
CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
STATUSES = ("Met", "Partly met", "Not met", "Issuer's", "Not applicable")
CHAPTERS = ("V2 Authentication", "V3 Session management", "V4 Access control", "V13 API")


def citations(page: str) -> list[tuple[str, str]]:
    return CITATION.findall((EXPLANATION / page).read_text())


@cache
def defined_tests(module: str) -> frozenset[str]:
    """The test functions a module defines at its top level (as pytest collects them)."""
    tree = ast.parse((ROOT / module).read_text(), module)
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    )


def requirement_rows() -> list[list[str]]:
    """Each body row of the ASVS page's requirement tables, as its cells."""
    rows = []
    for line in (EXPLANATION / "asvs.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.match(r"^\d+\.\d+\.\d+", cells[0]):
            rows.append(cells)
    return rows


@pytest.mark.parametrize(
    ("page", "module", "function"),
    sorted({(page, *cited) for page in CITING for cited in citations(page)}),
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_cited_test_exists_in_the_module_named(page, module, function):
    assert (ROOT / module).is_file(), f"{page} cites {module}, which does not exist"
    assert function in defined_tests(module), f"{page} cites {module}::{function}"


def test_each_page_cites_tests():
    assert {page: len(citations(page)) > 10 for page in CITING} == dict.fromkeys(CITING, True)


def test_the_page_says_which_asvs_version_it_numbers_by():
    assert "ASVS 4.0.3" in (EXPLANATION / "asvs.md").read_text()


def test_there_is_a_table_for_each_chapter():
    text = (EXPLANATION / "asvs.md").read_text()
    assert [f"## {chapter}" in text for chapter in CHAPTERS] == [True] * len(CHAPTERS)
    chapters = {row[0].split(".")[0] for row in requirement_rows()}
    assert chapters == {"2", "3", "4", "13"}


def test_each_requirement_says_where_it_stands():
    unstated = [
        row[0]
        for row in requirement_rows()
        if not any(row[2].startswith(f"**{status}") for status in STATUSES)
    ]
    assert unstated == []


def test_each_requirement_met_or_partly_met_cites_a_test():
    uncited = [
        row[0]
        for row in requirement_rows()
        if row[2].startswith(("**Met", "**Partly met")) and not CITATION.search(row[3])
    ]
    assert uncited == []


def test_no_requirement_is_listed_twice():
    ids = [row[0] for row in requirement_rows()]
    assert len(ids) == len(set(ids))
