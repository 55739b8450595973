"""The product.toml reference in Markdown, from the schema the loader reads it with
(`auth.product_toml`): a key's name, type, default and description are written once, there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from auth.product_toml import EntryPointTable, LivenessTable, ProductToml

#: The tables the page shows: heading, the model, how a file writes it.
TABLES: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("Top-level keys", ProductToml, ""),
    ("`[liveness]`", LivenessTable, "[liveness]"),
    ("`[[entry_points]]`", EntryPointTable, "[[entry_points]]"),
)
_TYPE_NAMES = {str: "string", float: "number", int: "integer", bool: "boolean"}


def markdown() -> str:
    return "\n".join(_lines())


def _lines() -> Iterator[str]:
    for heading, model, _ in TABLES:
        yield f"### {heading}\n"
        yield " ".join((model.__doc__ or "").split()) + "\n"
        yield "| key | type | default | description |\n|---|---|---|---|"
        for name, info in model.model_fields.items():
            yield f"| `{name}` | {_type(info)} | {_default(info)} | {_cell(info.description)} |"
        yield ""


def _type(info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    named = _TYPE_NAMES.get(info.annotation, "")  # type: ignore[arg-type]
    expects = str(extra.get("expects", named)).split(":", 1)[0]
    bounds = [m for m in info.metadata if hasattr(m, "ge") or hasattr(m, "le")]
    if bounds:
        low = next(m.ge for m in bounds if hasattr(m, "ge"))
        high = next(m.le for m in bounds if hasattr(m, "le"))
        expects += f", {low:g} to {high:g}"
    return expects


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value: Any = info.default
    if isinstance(value, BaseModel):
        return "the table's defaults"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{json.dumps(value)}`"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")
