"""The proxy benchmark's Python product server: the same 100 bytes as its Node one, as a bare
WSGI app (served by gunicorn), so the portal's proxy is measured against a Python server too."""

from collections.abc import Callable, Iterable

BODY = ("upstream ".ljust(99, ".") + "\n").encode()


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
    return [BODY]
