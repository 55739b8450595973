"""Reading the settings from the environment, and saying plainly which one is wrong.

The real environment wins over the `.env` file, which only development has (production takes
its settings from the process environment: docker compose's env_file, a ConfigMap, systemd).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource

from portal.settings.model import Settings
from portal.settings.values import ConfigError


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    read_dotenv: bool = True,
    defaults: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from ``environ`` (default: the process environment, plus `.env` unless
    ``read_dotenv`` is false), over ``defaults`` (variables a command supplies when neither
    sets them). Raises `ConfigError` naming each setting that is wrong."""
    try:
        if environ is not None:
            return Settings(**{**(defaults or {}), **environ})
        found: dict[str, Any] = dict(defaults or {})
        if read_dotenv:
            found.update(DotEnvSettingsSource(Settings)())
        found.update(EnvSettingsSource(Settings)())
        return Settings(**found)
    except ValidationError as error:
        raise ConfigError("\n".join(problem(e) for e in error.errors())) from None


def problem(error: Any) -> str:
    """One line for one refused value: the validators' own sentence, or the variable's name,
    what it must be and what it was."""
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    field = str(error["loc"][0]) if error["loc"] else ""
    name = Settings.env_name(field) if field in Settings.model_fields else field
    return f"{name} {_must_be(error)}, got {error['input']!r}"


def _must_be(error: Any) -> str:
    ctx = error.get("ctx", {})
    phrases = {
        "int_parsing": "must be a whole number",
        "float_parsing": "must be a number",
        "bool_parsing": "must be 1 or 0 (true or false)",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "greater_than_equal": f"must be {ctx.get('ge')} or more",
        "literal_error": f"must be {ctx.get('expected')}",
    }
    return phrases.get(error["type"], error["msg"].replace("Input should be", "must be"))
