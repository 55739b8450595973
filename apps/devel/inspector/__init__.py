"""Inspector: a bare WSGI callable, no Flask, showing what the Gate hands a product.

Useful when debugging mounting: ``SCRIPT_NAME`` is the product's mount path and ``PATH_INFO``
the rest of the URL, as ``DispatcherMiddleware`` splits them.
"""

from collections.abc import Callable, Iterable
from html import escape
from typing import Any

from auth.identity import PRODUCT_ENVIRON_KEY, USER_ENVIRON_KEY

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Inspector</title>
<link rel="stylesheet" href="/static/portal.css"></head>
<body><main class="page">
<h1>Inspector</h1>
<table class="dev-users">
<tbody>
{rows}
</tbody>
</table>
</main></body>
</html>
"""


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    user = environ.get(USER_ENVIRON_KEY)
    product = environ.get(PRODUCT_ENVIRON_KEY)
    facts = {
        "User": f"{user.display_name} <{user.email}>" if user else "(none)",
        "User tier": user.tier.value if user else "(none)",
        "Product": product.key if product else "(none)",
        "SCRIPT_NAME": environ.get("SCRIPT_NAME", ""),
        "PATH_INFO": environ.get("PATH_INFO", ""),
        "Method": environ.get("REQUEST_METHOD", ""),
    }
    rows = "\n".join(
        f'<tr><th scope="row">{escape(k)}</th><td><code>{escape(v)}</code></td></tr>'
        for k, v in facts.items()
    )
    body = _PAGE.format(rows=rows).encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
