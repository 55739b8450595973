"""How one setting's text becomes its value, and the files development keeps in the instance folder.

Each reader raises `ValueError` with a message that names the variable and what it must look
like; the model turns it into a `ConfigError` that stops the portal at start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from auth.identity_headers import check_header_pattern
from auth.identity_token import load_key
from auth.tier_roles import TierRoles


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it so the operator can fix it."""


IDENTITY_KEY_ADVICE = (
    "2048 bits or more; make one with openssl genpkey -algorithm RSA -pkeyopt "
    "rsa_keygen_bits:3072, one line with \\n for its line breaks in an env file"
)


def words(text: str) -> tuple[str, ...]:
    """A list written on one line, its items separated by spaces or commas."""
    return tuple(text.replace(",", " ").split())


def networks(name: str, text: str) -> tuple[str, ...]:
    found = tuple(text.split())
    for value in found:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{name} must list networks like 10.0.0.0/8, got {value!r}") from None
    return found


def header_patterns(name: str, text: str) -> tuple[str, ...]:
    """Header names with `*` globs, comma-separated: `X-Corp-User, X-Corp-*`."""
    found = tuple(value.strip() for value in text.split(",") if value.strip())
    for value in found:
        try:
            check_header_pattern(value)
        except ValueError as error:
            raise ValueError(f"{name} must list header names, comma-separated: {error}") from None
    return found


def tier_roles(name: str, text: str) -> TierRoles:
    """The identity provider's role names per tier (syntax in `auth.tier_roles`)."""
    try:
        return TierRoles.parse(text)
    except ValueError as error:
        raise ValueError(
            f"{name} must be like 'admin=Portal Admins;devel=researchers-devel,devs': {error}"
        ) from None


def identity_key(name: str, text: str) -> str:
    """An RSA key that may sign identity tokens, refused by name otherwise."""
    try:
        load_key(text)
    except ValueError as error:
        raise ValueError(f"{name} {error} ({IDENTITY_KEY_ADVICE})") from None
    return text


def auth0_host(name: str, text: str) -> str:
    """A tenant's host name, from `tenant.eu.auth0.com` or `https://tenant.eu.auth0.com/`."""
    host = text.removeprefix("https://").rstrip("/")
    if not host or "/" in host or " " in host or "." not in host:
        raise ValueError(f"{name} must be a host name like tenant.eu.auth0.com, got {text!r}")
    return host


def development_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so restarts keep sessions in development."""
    return kept_in_instance(instance_path, "secret_key", lambda: secrets.token_urlsafe(48))


def kept_in_instance(instance_path: Path, name: str, make: Callable[[], str]) -> str:
    """The file `name` in the instance folder, written by `make()` the first time.

    Several gunicorn workers may start at once: the file is written aside and linked into place,
    which fails for all but the first, so every worker ends up with the same value.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / name
    if not path.exists():
        draft = instance_path / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.touch(mode=0o600)
        draft.write_text(make())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()
