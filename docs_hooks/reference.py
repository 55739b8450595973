"""MkDocs hook: the reference pages' generated parts, put in where a page holds their marker.

A page writes `<!-- generated: product-toml -->` (or `http-api`, `identity-headers`) where the
part belongs; the part is made from the code at build time, so the pages can't drift from it.
A marker left unknown fails the build.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

# MkDocs loads a hook from its file; the project's root makes its siblings importable as
# `docs_hooks.*`, as the tests import them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docs_hooks import http_api, identity_headers, product_toml

MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")
GENERATORS: dict[str, Callable[[], str]] = {
    "product-toml": product_toml.markdown,
    "http-api": lambda: http_api.markdown(http_api.served_documents()),
    "identity-headers": identity_headers.removed_markdown,
}
_made: dict[str, str] = {}


def generated(name: str) -> str:
    """One part, made once per build (the HTTP API's documents take a second or two)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown generated part {name!r}; known: {', '.join(GENERATORS)}")
    if name not in _made:
        _made[name] = GENERATORS[name]()
    return _made[name]


def on_page_markdown(markdown: str, **_: object) -> str:
    return MARKER.sub(lambda match: generated(match.group(1)), markdown)


def on_pre_build(**_: object) -> None:
    """`mkdocs serve` rebuilds on every edit: the parts are made afresh for each build."""
    _made.clear()
