"""The code blocks of the docs, read the way the snippet convention reads them.

- a ```python block without a title is a complete script, run as it is;
- a block whose title names a product file (`apps/<tier>/<name>/...`) is written there, in a
  folder of products a real portal then serves;
- a ```yaml block must parse; every other block is shown, not run.

Blocks inside admonitions, tabs or list items are indented: their fence's indent is taken off
every line, as Markdown does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCS = PROJECT_ROOT / "docs"
#: An opening fence: its indent, three or more backticks, the language, and the rest (attributes).
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<lang>[\w+-]*)[ \t]*(?P<rest>.*)$")
_TITLE = re.compile(r"""title\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_PRODUCT_FILE = re.compile(r"^apps/(?P<tier>admin|devel|ea|stable)/(?P<name>[a-z][a-z0-9_]*)/.+")
RUN_LANGUAGES = {"python", "py"}
YAML_LANGUAGES = {"yaml", "yml"}


@dataclass(frozen=True)
class Snippet:
    page: str  # relative to docs/, e.g. "reference/product-toml.md"
    index: int  # the block's place among the page's fenced blocks, from 0
    line: int  # where its fence opens, from 1
    language: str
    title: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}#{self.index}(line {self.line})"

    @property
    def product(self) -> str | None:
        """`tier/name` when the title names a product's file."""
        found = _PRODUCT_FILE.match(self.title)
        return f"{found['tier']}/{found['name']}" if found else None

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES and not self.title

    @property
    def is_yaml(self) -> bool:
        return self.language in YAML_LANGUAGES


def pages(docs: Path = DOCS) -> list[Path]:
    return sorted(docs.rglob("*.md"))


def snippets_of(text: str, page: str) -> list[Snippet]:
    found: list[Snippet] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = _FENCE.match(lines[number])
        if opening is None:
            number += 1
            continue
        indent, ticks = opening["indent"], opening["ticks"]
        body: list[str] = []
        closing = re.compile(rf"^[ \t]*`{{{len(ticks)},}}[ \t]*$")
        end = number + 1
        while end < len(lines) and not closing.match(lines[end]):
            line = lines[end]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            end += 1
        title = _TITLE.search(opening["rest"])
        found.append(
            Snippet(
                page=page,
                index=len(found),
                line=number + 1,
                language=opening["lang"].lower(),
                title=(title[1] or title[2]) if title else "",
                code="\n".join(body) + "\n",
            )
        )
        number = end + 1
    return found


def all_snippets(docs: Path = DOCS) -> list[Snippet]:
    return [
        snippet
        for path in pages(docs)
        for snippet in snippets_of(
            path.read_text(encoding="utf-8"), path.relative_to(docs).as_posix()
        )
    ]


def products_by_page(snippets: list[Snippet]) -> dict[str, dict[str, list[Snippet]]]:
    """Page -> product (`tier/name`) -> the blocks that write its files, in page order (a page
    that grows a file shows it again; the last version is the one served)."""
    found: dict[str, dict[str, list[Snippet]]] = {}
    for snippet in snippets:
        if snippet.product:
            found.setdefault(snippet.page, {}).setdefault(snippet.product, []).append(snippet)
    return found


def write_products(snippets: list[Snippet], apps: Path) -> None:
    for snippet in snippets:
        path = apps / snippet.title.removeprefix("apps/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(snippet.code, encoding="utf-8")
