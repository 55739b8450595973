"""The settings reference (docs/reference/settings.md) and `.env.example`, rendered from the
model's declarations, so the documentation is what the portal reads.

`portal settings reference --write` (or `make reference`) writes both; a test fails while either
differs from what this module renders.
"""

from __future__ import annotations

import textwrap
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from portal.settings import fields as groups
from portal.settings.fields import PROJECT_ROOT
from portal.settings.model import Settings

GROUP_ORDER = (
    groups.CORE,
    groups.DATABASE,
    groups.SIGN_IN,
    groups.MANAGEMENT,
    groups.SESSIONS,
    groups.PRODUCTS,
    groups.NODES,
    groups.DEADLINES,
    groups.PROXY,
    groups.GUNICORN,
    groups.MONITORING,
    groups.RUNTIME,
    groups.DEVELOPMENT,
)
REFERENCE_PAGE = Path("docs/reference/settings.md")
ENV_EXAMPLE = Path(".env.example")
COMMAND = "portal settings reference --write"
#: Read by docker-compose.yml itself, not by the portal: listed in `.env.example` all the same.
COMPOSE_ONLY = {
    groups.DATABASE: (
        "MARIADB_PASSWORD",
        "Required with docker compose: the MariaDB password of the `portal` user (letters and "
        "digits; make one with `openssl rand -hex 24`, it goes into a URL). docker compose "
        "builds DATABASE_URL from it.",
    )
}


ENV_HEADER = """\
# The portal's settings. Copy to .env (`cp .env.example .env`, then `chmod 600 .env`) and fill in.
# Generated from portal/settings by `{command}`; docs/reference/settings.md
# explains each one.
#
# docker compose reads this file twice: for ${{...}} in docker-compose.yml (MARIADB_PASSWORD) and
# as every portal container's environment (env_file). Values under `environment:` in
# docker-compose.yml (PORTAL_ENV, DATABASE_URL, REDIS_URL, PORTAL_BIND, PORTAL_TRUSTED_PROXIES,
# FORWARDED_ALLOW_IPS) describe that topology and win over this file; so does the real
# environment outside docker compose.
#
# Lines set to an empty value are required: blank on purpose, so a forgotten one stops the portal
# at start-up with a message naming it, instead of running with a known secret.
# Commented-out lines show the default; uncomment to change it. Empty means unset.
# Generate secrets with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'
"""


def grouped() -> list[tuple[str, list[tuple[str, FieldInfo]]]]:
    """The settings by group, in the order the reference shows them."""
    found: dict[str, list[tuple[str, FieldInfo]]] = {group: [] for group in GROUP_ORDER}
    for name, info in Settings.model_fields.items():
        found[extra(info, "group")].append((name, info))
    return [(group, found[group]) for group in GROUP_ORDER]


def extra(info: FieldInfo, key: str) -> Any:
    data = info.json_schema_extra
    return data.get(key) if isinstance(data, dict) else None


def kind(info: FieldInfo) -> str:
    """What a value looks like, in words."""
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(annotation) if v)
    metadata = list(info.metadata)
    if typing.get_origin(annotation) is typing.Union:  # optional: worked out when unset
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *extras = typing.get_args(annotation)
        metadata += [m for extra in extras for m in getattr(extra, "metadata", [extra])]
    bounds = {type(m).__name__: m for m in metadata}
    words = {
        bool: "flag: 1 or 0",
        str: "text",
        Path: "path",
        int: "whole number" + (", more than 0" if "Gt" in bounds else ", 0 or more"),
        float: "seconds" + (", more than 0" if "Gt" in bounds else ""),
    }
    if annotation in words:
        return words[annotation]
    if typing.get_origin(annotation) is tuple:
        return "list"
    return "text in the syntax described"


def env_default(info: FieldInfo) -> str:
    """The default as the variable would be written, or "" when it is worked out at start."""
    value = info.default
    if extra(info, "shown_default") is not None or value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def help_text(info: FieldInfo) -> str:
    shown = extra(info, "shown_default")
    return f"{info.description} Default: {shown}." if shown else str(info.description)


def _markdown_escaped(text: str) -> str:
    """Text outside `code` spans, with what Markdown would read as markup escaped."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    return "`".join(parts)


def render_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "<!-- Generated from portal/settings by `" + COMMAND + "`; edit the declarations there."
        " -->",
        "",
        "The portal reads its settings from environment variables once, at start. In "
        "development a `.env` file in the project folder is read too; a variable set in the "
        "real environment wins over the same one in `.env`. `.env.example` lists every "
        "setting with its help: copy it to `.env` (`cp .env.example .env`, then "
        "`chmod 600 .env`) and fill in. A blank value (`NAME=`) is the same as an unset one.",
        "",
        "Every value is checked at start, and a wrong one stops the portal with a message "
        "naming the variable (`portal serve`, `gunicorn` and every `portal` command alike). "
        "With `PORTAL_ENV=production` the portal also refuses to start rather than run "
        "insecurely: without `SECRET_KEY`, `PORTAL_IDENTITY_KEY`, an issuer (`AUTH0_DOMAIN` or "
        "`OIDC_ISSUER`, https; the built-in development identity provider never serves "
        "production), `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` or `DATABASE_URL`; with an http "
        "`PORTAL_BASE_URL`; with a short, guessable or patterned secret in any secret setting "
        "(`SECRET_KEY`, `OIDC_CLIENT_SECRET`, `AUTH0_MANAGEMENT_CLIENT_SECRET`, "
        "`PORTAL_WEBHOOK_SECRET`, `PORTAL_METRICS_TOKEN`); or on SQLite without "
        "`PORTAL_ALLOW_SQLITE=1`.",
    ]
    for group, settings in grouped():
        lines += ["", f"## {group}"]
        for name, info in settings:
            default = env_default(info)
            shown = extra(info, "shown_default")
            lines += [
                "",
                f"### `{info.alias}`",
                "",
                _markdown_escaped(str(info.description)),
                "",
                f"- Type: {kind(info)}",
                "- Default: "
                + (_markdown_escaped(shown) if shown else f"`{default}`" if default else "unset"),
                f"- Field: `Settings.{name}`",
            ]
            if extra(info, "random"):
                lines.append("- Secret: never shown; production refuses a short or guessable one")
            elif extra(info, "secret"):
                lines.append("- Secret: never shown in the settings' repr or logs")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, 98, initial_indent="# ", subsequent_indent="# ")


def render_env_example() -> str:
    lines = ENV_HEADER.format(command=COMMAND).splitlines()
    for group, settings in grouped():
        lines += ["", f"# --- {group} ".ljust(100, "-"), ""]
        if group in COMPOSE_ONLY:
            name, text = COMPOSE_ONLY[group]
            lines += [*_comment(text), f"{name}="]
        for _, info in settings:
            example = extra(info, "example")
            lines += _comment(help_text(info))
            if example is None:
                lines.append(f"# {info.alias}={env_default(info)}")
            else:
                lines.append(f"{info.alias}={example}")
    return "\n".join(lines) + "\n"


def rendered() -> dict[Path, str]:
    """Each generated file (relative to the project) and what it must hold."""
    return {REFERENCE_PAGE: render_markdown(), ENV_EXAMPLE: render_env_example()}


def outdated(root: Path = PROJECT_ROOT) -> list[Path]:
    """The generated files that differ from what the declarations render now."""
    return [
        path
        for path, text in rendered().items()
        if not (root / path).exists() or (root / path).read_text() != text
    ]


def write(root: Path = PROJECT_ROOT) -> list[Path]:
    """Write the generated files that changed; the ones written."""
    changed = outdated(root)
    for path in changed:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(rendered()[path])
    return changed
