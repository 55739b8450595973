"""The identity headers reference in Markdown: the headers the portal sets for a process or
upstream product, and the table of headers it removes first (`auth.identity_headers`)."""

from __future__ import annotations

from auth.identity_headers import IDENTITY_HEADERS, REMOTE_USER


def removed_markdown() -> str:
    lines = ["| front door | header names | examples |", "|---|---|---|"]
    for family in IDENTITY_HEADERS:
        patterns = ", ".join(f"`{pattern}`" for pattern in family.patterns)
        examples = ", ".join(f"`{example}`" for example in family.examples)
        lines.append(f"| {family.source} | {patterns} | {examples} |")
    lines.append(f"| the CGI and WSGI user variable (not a header) | `{REMOTE_USER}` | |")
    return "\n".join(lines) + "\n"
