"""The documentation as tests read it: the whole text, and the steps a page has its reader take.

What a reader of the tutorial and the product guides types and saves, in the page's order: a
```` ```console ```` block's `$ ` lines are commands; a block titled with a product file
(```` ```python title="apps/devel/widgets/__init__.py" ````) is a file the reader saves. The
tests that run the quick start replay these steps in a fresh copy of the project, so every
command the pages show is one that works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from portal.config import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
QUICK_START = DOCS / "tutorial" / "quick-start.md"
FIRST_PRODUCT = DOCS / "tutorial" / "first-product.md"
PRODUCT_GUIDES = sorted((DOCS / "how-to" / "products").glob("*.md"))

_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.M | re.S)
_TITLE = re.compile(r'title="(apps/[^"]+)"')


@dataclass(frozen=True)
class Step:
    """A command to run (`file` empty) or a file to save at `file` with `text`."""

    text: str
    file: str = ""

    @property
    def product(self) -> str:
        """`tier/name` of the product a saved file belongs to."""
        return "/".join(self.file.split("/")[1:3])


def steps(page: Path) -> list[Step]:
    found = []
    for language, attributes, body in _FENCE.findall(page.read_text()):
        title = _TITLE.search(attributes)
        if title:
            found.append(Step(body, title.group(1)))
        elif language == "console":
            found += [Step(line[2:].strip()) for line in body.splitlines() if line.startswith("$ ")]
    return found


def commands(page: Path) -> list[str]:
    return [step.text for step in steps(page) if not step.file]


def documentation_text() -> str:
    """The README and every page of the site: what the project tells its readers, wherever a
    page keeps it."""
    pages = [PROJECT_ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return "\n".join(page.read_text() for page in pages)
