"""Inspector: a bare WSGI callable, no Flask, showing what the Gate hands a product.

Useful when debugging mounting: ``SCRIPT_NAME`` is the product's mount path and ``PATH_INFO``
the rest of the URL, as ``DispatcherMiddleware`` splits them. It also lists ``REMOTE_USER``,
every ``X-*`` request header (and ``Remote-User``) that got through and the names of the cookies
the product received, so a test can see that the Gate strips spoofed identity headers and the
portal's own session cookie. Cookie values are never shown: they may be credentials.
"""

from collections.abc import Callable, Iterable
from html import escape
from typing import Any

from kit import PRODUCT_ENVIRON_KEY, USER_ENVIRON_KEY

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


def cookie_names(header: str) -> list[str]:
    """Names only, in the order received: a cookie's value may be someone's credential."""
    names = (part.split("=", 1)[0].strip() for part in header.split(";"))
    return [name for name in names if name]


def passed_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The ``X-*`` and ``Remote-User`` headers that reached the product, as environ keys."""
    return {
        key: str(value)
        for key, value in sorted(environ.items())
        if key.startswith("HTTP_X_") or key == "HTTP_REMOTE_USER"
    }


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
        "REMOTE_USER": environ.get("REMOTE_USER", "(none)"),
        "Cookie names": ", ".join(cookie_names(environ.get("HTTP_COOKIE", ""))) or "(none)",
        **passed_headers(environ),
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
