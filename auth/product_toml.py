"""The schema of `product.toml`: every key a product may write, its type, default and meaning.

One model reads the file, so the loader, the reference page (generated from these fields) and
the error a typo gets cannot disagree. A product's metadata is checked when its folder is read;
whatever is wrong (an unknown key, a wrong type, a value out of range, two keys that exclude each
other) becomes one readable ValueError naming the key, and the product shows as broken in
`portal apps` and on the dashboard rather than failing on every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from auth.product_kinds import (
    DEFAULT_HEALTH,
    DEFAULT_LIVENESS_FAILURES,
    DEFAULT_LIVENESS_INTERVAL,
    DEFAULT_LIVENESS_TIMEOUT,
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    check_command,
    check_health,
    check_upstream,
)
from auth.product_paths import read_stricter_paths

#: What a value must be, for the error a wrong type gets and the reference's "type" column;
#: `unit` follows a range in the error an out-of-range value gets.
SECONDS = {"expects": "a number of seconds", "unit": " seconds"}


def _seconds(default: float, description: str) -> Any:
    """A duration in seconds, from a tenth of a second to an hour."""
    return Field(
        default, ge=MIN_TIMEOUT, le=MAX_TIMEOUT, description=description, json_schema_extra=SECONDS
    )


class _Table(BaseModel):
    """A TOML table: no key it doesn't know, no value converted from another type (a quoted
    `"5"` is not a number, `1` is not `true`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _stripped(value: str) -> str:
    return value.strip()


class LivenessTable(_Table):
    """`[liveness]`: how the supervisor watches a running `command` product. A process that
    stops answering is restarted within `failures x (interval + timeout)` seconds."""

    interval: float = _seconds(
        DEFAULT_LIVENESS_INTERVAL, "Seconds between two health checks of the running process."
    )
    timeout: float = _seconds(
        DEFAULT_LIVENESS_TIMEOUT, "Seconds each health check waits for an answer."
    )
    failures: int = Field(
        DEFAULT_LIVENESS_FAILURES,
        ge=1,
        le=100,
        description="Failed checks in a row after which the process is restarted.",
        json_schema_extra={"expects": "a whole number of checks"},
    )


class EntryPointTable(_Table):
    """One `[[entry_points]]` table: a service of the product, listed under its card on the
    dashboard for the users whose tier opens its path."""

    path: str = Field(description="Where the service starts, inside the product: `/svc_disagg/`.")
    title: str = Field(description="The service's name on the dashboard.")
    description: str = Field("", description="One line about the service.")

    _strip = field_validator("path", "title", "description")(_stripped)

    @field_validator("path")
    @classmethod
    def _inside_the_product(cls, path: str) -> str:
        if not path.startswith("/") or "://" in path:
            raise ValueError("path must start with / (inside the product)")
        return path

    @field_validator("title")
    @classmethod
    def _named(cls, title: str) -> str:
        if not title:
            raise ValueError("title is required")
        return title


class ProductToml(_Table):
    """`apps/<tier>/<name>/product.toml`, every key optional. Without `command` or `upstream`
    the folder is a Python package the portal imports; `command` makes it a process the portal
    runs, `upstream` a server someone else runs that the portal fronts."""

    title: str = Field(
        "", description="The product's name on the dashboard; default: its folder's name."
    )
    description: str = Field("", description="One sentence on the dashboard under the title.")
    version: str = Field("", description="Shown on the dashboard and in `portal apps`.")
    audience: str = Field(
        "",
        description="The API the product calls as its users (one identifier): what "
        "`current_user.access_token()` is a token for. Empty: the product gets no tokens. "
        "The portal's own API and the Management API are refused.",
    )
    scope: str = Field(
        "",
        description="The permissions the product asks `audience` for, space-separated; needs "
        "an `audience`. Empty: the API's default.",
    )
    command: str = Field(
        "",
        description="The command line the portal runs the product with, in the product's "
        "folder. It must contain exactly one of `{port}` (a free port on 127.0.0.1) or "
        "`{socket}` (a unix socket's path), where it must listen, and may contain `{prefix}` "
        "(its mount path, e.g. `/ea/dash`); `{{` and `}}` are literal braces.",
    )
    upstream: str = Field(
        "",
        description="A server someone else runs, which the portal fronts: "
        "`http://host:port[/base]`, `https://...` or `unix:/absolute/path.sock`. No "
        "credentials, query or fragment. Excludes `command`.",
    )
    health: str = Field(
        DEFAULT_HEALTH,
        description="The path on the product's own server (with an optional query) the portal "
        "asks to know it answers. Only with `command` or `upstream`.",
        json_schema_extra={"expects": "a string: a path such as /healthz"},
    )
    timeout: float = _seconds(
        DEFAULT_TIMEOUT,
        "Seconds the proxy waits for the product's server (to connect, or between two reads) "
        "before it answers 504. Only with `command` or `upstream`.",
    )
    liveness: LivenessTable = Field(
        LivenessTable(),
        description="How the running process is watched. Only with `command`.",
        json_schema_extra={
            "expects": "a table: [liveness] with interval, timeout, failures",
        },
    )
    entry_points: list[EntryPointTable] = Field(
        [],
        description="The product's services as the dashboard lists them. Empty: its root alone.",
        json_schema_extra={"expects": 'a list of tables: [[entry_points]] path = "/..."'},
    )
    stricter_paths: dict[str, str] = Field(
        {},
        description='Sub-paths that need a higher tier than the folder\'s: `"/svc_hazard/" = '
        '"ea"`. Every route under the path (pages, static files, API, websockets) needs that '
        "tier; the longest matching path decides.",
        json_schema_extra={"expects": 'a table: [stricter_paths] "/path/" = "<tier>"'},
    )

    _strip = field_validator(
        "title", "description", "version", "audience", "scope", "command", "upstream"
    )(_stripped)

    @field_validator("audience")
    @classmethod
    def _one_api(cls, audience: str) -> str:
        if len(audience.split()) > 1:
            raise ValueError(f"audience must be one API identifier, got {audience!r}")
        return audience

    @field_validator("scope")
    @classmethod
    def _spaced(cls, scope: str) -> str:
        return " ".join(scope.split())

    @field_validator("command")
    @classmethod
    def _command(cls, command: str) -> str:
        return check_command(command) if command else ""

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, upstream: str) -> str:
        return check_upstream(upstream) if upstream else ""

    @field_validator("health")
    @classmethod
    def _health(cls, health: str) -> str:
        return check_health(health)

    @field_validator("stricter_paths")
    @classmethod
    def _stricter(cls, rules: dict[str, str]) -> dict[str, str]:
        read_stricter_paths(rules)
        return rules

    @model_validator(mode="after")
    def _consistent(self) -> ProductToml:
        if self.scope and not self.audience:
            raise ValueError("scope needs an audience: the API whose permissions it names")
        if self.command and self.upstream:
            raise ValueError(
                "command and upstream exclude each other: the portal either runs the server "
                "(command) or fronts one that runs elsewhere (upstream)"
            )
        for key in ("health", "timeout"):
            if key in self.model_fields_set and not (self.command or self.upstream):
                raise ValueError(f"{key} applies only to a product with a command or an upstream")
        if "liveness" in self.model_fields_set and not self.command:
            raise ValueError(
                "liveness applies only to a product with a command: the portal restarts only "
                "processes it runs"
            )
        return self


def parse_product_toml(data: dict[str, Any]) -> ProductToml:
    """The product.toml's table checked against the schema; ValueError names every problem and
    where it is, in one line (problems separated by semicolons)."""
    try:
        return ProductToml.model_validate(data)
    except ValidationError as error:
        raise ValueError(_readable(error.errors(include_url=False))) from None


def _readable(errors: Sequence[Any]) -> str:
    """Pydantic's errors in the words of the file: unknown keys are gathered by table, with
    the keys that table takes, since a misspelling is the usual cause."""
    messages: list[str] = []
    unknown: dict[tuple, list[str]] = {}
    for error in errors:
        *container, last = error["loc"] or ("",)
        if error["type"] == "extra_forbidden":
            unknown.setdefault(tuple(container), []).append(str(last))
            continue
        message = _message(error)
        if message not in messages:
            messages.append(message)
    for container, keys in unknown.items():
        model = _model_at(container)
        allowed = list(model.model_fields) if model else []
        takes = (
            ", ".join(allowed[:-1]) + " and " + allowed[-1]
            if len(allowed) > 1
            else "".join(allowed)
        )
        where = _where(container)
        keys_text = ", ".join(sorted(keys))
        messages.append(
            f"{where} has unknown keys {keys_text}; it takes {takes}"
            if where
            else f"unknown keys {keys_text}; product.toml takes {takes}"
        )
    return "; ".join(messages)


def _message(error: Any) -> str:
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "value_error":
        text = str(error["ctx"]["error"])
        inside = _where(loc[: _last_index(loc) + 1]) if _last_index(loc) >= 0 else ""
        return f"{inside}: {text}" if inside else text
    where, info = _where(loc), _field_at(loc)
    extra = info.json_schema_extra if info and isinstance(info.json_schema_extra, dict) else {}
    if kind == "missing":
        return f"{where} is required"
    if kind in ("greater_than_equal", "less_than_equal") and info is not None:
        low, high = _bounds(info)
        unit = extra.get("unit", "")
        return f"{where} must be between {low:g} and {high:g}{unit}, got {error['input']:g}"
    return f"{where} must be {extra.get('expects', 'a string')}"


def _where(loc: Sequence[Any]) -> str:
    """`liveness.interval`, `entry_points #2: title`: a key as the product's author wrote it."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f" #{part + 1}"
        else:
            key = str(part) if str(part).isidentifier() else repr(part)
            joint = ": " if text[-1:].isdigit() else "." if key[0].isalpha() and text else " "
            text += (joint if text else "") + key
    return text


def _last_index(loc: Sequence[Any]) -> int:
    return max((i for i, part in enumerate(loc) if isinstance(part, int)), default=-1)


def _table_model(info: FieldInfo) -> type[BaseModel] | None:
    for candidate in (info.annotation, *get_args(info.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_at(loc: Sequence[Any]) -> FieldInfo | None:
    model: type[BaseModel] | None = ProductToml
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _table_model(info)
    return info


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    if not [part for part in loc if not isinstance(part, int)]:
        return ProductToml
    info = _field_at(loc)
    return _table_model(info) if info else None


def _bounds(info: FieldInfo) -> tuple[float, float]:
    low = next(m.ge for m in info.metadata if hasattr(m, "ge"))
    high = next(m.le for m in info.metadata if hasattr(m, "le"))
    return low, high
