"""The HTTP API reference in Markdown, from the OpenAPI documents the running code serves.

Nothing here is written about an operation: every summary, parameter, answer and model comes
from the documents (`docs_hooks.openapi_documents`), so the page says what the routes say.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "post", "put", "patch", "delete")
#: The documents, in the order the page shows them: key, heading, where the API is mounted.
APIS = (
    ("portal", "The portal's API", "/"),
    ("console", "The admin console's API", "/admin/manage"),
)


def served_documents() -> dict[str, dict[str, Any]]:
    """The documents, built in a process of their own (see `docs_hooks.openapi_documents`)."""
    done = subprocess.run(
        [sys.executable, "-m", "docs_hooks.openapi_documents"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the OpenAPI documents could not be built:\n{done.stderr}")
    return json.loads(done.stdout)


def markdown(documents: dict[str, dict[str, Any]]) -> str:
    return "\n".join(
        line for key, heading, _ in APIS for line in _api(key, heading, documents[key])
    )


def _api(key: str, heading: str, document: dict[str, Any]) -> Iterator[str]:
    info = document["info"]
    yield f"## {heading} {{#{key}}}\n"
    yield f"{info['description']}\n"
    server = document.get("servers", [{"url": "/"}])[0]["url"]
    yield f"*{info['title']}*, version {info['version']}; paths below start at `{server}`.\n"
    yield from _security(key, document)
    operations: dict[str, list[tuple[str, str, dict]]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                for tag in item[method].get("tags") or ["other"]:
                    operations.setdefault(tag, []).append((method, path, item[method]))
    for tag in [t["name"] for t in document.get("tags", [])] + ["other"]:
        if tag in operations:
            yield f"### {tag} {{#{key}-{tag}}}\n"
            for method, path, operation in operations[tag]:
                yield from _operation(key, method, path, operation)
    yield f"### Models {{#{key}-models}}\n"
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        yield from _model(key, name, schema)


def _security(key: str, document: dict[str, Any]) -> Iterator[str]:
    schemes = document.get("components", {}).get("securitySchemes", {})
    if schemes:
        yield "| proof of the caller | what it is |\n|---|---|"
        for name, scheme in schemes.items():
            yield f"| `{name}` | {_cell(scheme.get('description', scheme.get('type', '')))} |"
        yield ""


def _operation(key: str, method: str, path: str, operation: dict[str, Any]) -> Iterator[str]:
    yield f"#### `{method.upper()} {path}`\n"
    yield f"{operation.get('summary', '')}\n"
    if operation.get("description"):
        yield f"{operation['description']}\n"
    security = operation.get("security")
    if security is not None:
        proofs = [f"`{name}`" for requirement in security for name in requirement]
        yield f"Caller: {' or '.join(proofs) if proofs else 'anyone (no sign-in)'}.\n"
    parameters = operation.get("parameters", [])
    if parameters:
        yield "| parameter | in | type | required | description |\n|---|---|---|---|---|"
        for parameter in parameters:
            yield (
                f"| `{parameter['name']}` | {parameter['in']} | "
                f"{_type(key, parameter.get('schema', {}))} | "
                f"{'yes' if parameter.get('required') else 'no'} | "
                f"{_cell(parameter.get('description', ''))} |"
            )
        yield ""
    body = operation.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            yield f"Body (`{media}`): {_type(key, content.get('schema', {}))}.\n"
    yield "| status | meaning | body |\n|---|---|---|"
    for status, answer in sorted(operation.get("responses", {}).items()):
        content = answer.get("content", {})
        shapes = ", ".join(_type(key, c.get("schema", {})) for c in content.values()) or "none"
        yield f"| {status} | {_cell(answer.get('description', ''))} | {shapes} |"
    yield ""


def _model(key: str, name: str, schema: dict[str, Any]) -> Iterator[str]:
    yield f"#### {name} {{#{_anchor(key, name)}}}\n"
    if schema.get("description"):
        yield f"{schema['description']}\n"
    properties = schema.get("properties")
    if not properties:
        yield f"{_type(key, schema)}\n"
        return
    required = set(schema.get("required", []))
    yield "| field | type | required | description |\n|---|---|---|---|"
    for field, details in properties.items():
        yield (
            f"| `{field}` | {_type(key, details)} | {'yes' if field in required else 'no'} | "
            f"{_cell(details.get('description', ''))} |"
        )
    yield ""


def _anchor(key: str, name: str) -> str:
    return f"{key}-model-{name.lower()}"


def _type(key: str, schema: dict[str, Any]) -> str:
    """A JSON schema as a reader says it: `string`, list of [Model](#...), `"a"` or `"b"`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(key, name)})"
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            kinds = [_type(key, option) for option in schema[combined]]
            return " or ".join(dict.fromkeys(kinds))
    if "enum" in schema:
        return " or ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(key, schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        return f"object of {_type(key, values) if isinstance(values, dict) else 'any'}"
    if isinstance(kind, list):
        return " or ".join(f"`{k}`" for k in kind)
    return f"`{kind}`" + (f" ({schema['format']})" if "format" in schema else "")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, no column breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")
