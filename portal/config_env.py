"""Reading one setting from the environment: each reader says what it wants when a value is wrong.

`portal.config` reads every setting through these, so a mistyped value stops the portal at start
with a message that names the variable and what it must look like.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from auth.identity_headers import check_header_pattern
from auth.tier_roles import TierRoles


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it so the operator can fix it."""


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def tier_roles(env: Mapping[str, str], name: str) -> TierRoles:
    """The identity provider's role names per tier (syntax in `auth.tier_roles`)."""
    try:
        return TierRoles.parse(env.get(name, ""))
    except ValueError as error:
        raise ConfigError(
            f"{name} must be like 'admin=Portal Admins;devel=researchers-devel,devs': {error}"
        ) from None


def count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip() or "0"
    if not raw.isdigit():
        raise ConfigError(f"{name} must be 0 or a positive whole number, got {raw!r}")
    return int(raw)


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def deadline(env: Mapping[str, str], name: str, default: float) -> float:
    """A timeout in seconds: positive, since zero would mean "wait forever" to most drivers."""
    value = seconds(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value}")
    return value


def networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").split()
    for value in raw:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list networks like 10.0.0.0/8, got {value!r}") from None
    return tuple(raw) or default


def header_patterns(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Header names with `*` globs, comma-separated: `X-Corp-User, X-Corp-*`."""
    raw = [value.strip() for value in env.get(name, "").split(",") if value.strip()]
    for value in raw:
        try:
            check_header_pattern(value)
        except ValueError as error:
            raise ConfigError(f"{name} must list header names, comma-separated: {error}") from None
    return tuple(raw)


def log_format(env: Mapping[str, str], environment: str) -> str:
    value = env.get("PORTAL_LOG_FORMAT", "").strip() or (
        "json" if environment == "production" else "text"
    )
    if value not in {"json", "text"}:
        raise ConfigError(f"PORTAL_LOG_FORMAT must be json or text, got {value!r}")
    return value


def flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in {"", "0", "1", "true", "false", "yes", "no"}:
        raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")
    return raw in {"1", "true", "yes"}


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
