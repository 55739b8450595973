"""Every request, seen from the outside: an id, security headers, a log line and metrics.

`RequestContext` is the outermost WSGI layer, so it covers the portal, every product and the
development provider alike. The request id comes from a trusted proxy's `X-Request-ID` when it
looks like one, or is made here; products find it in the environ (`portal.request_id`) and the
`X-Request-ID` header, and every log line of the request carries it, with the user and product.

A request whose path, query or headers hold a control character (CR, LF, NUL, any other C0 or
DEL; a tab only inside a header value, where HTTP allows it) is refused here with a 400 page,
before any routing: whichever part of the portal or a product would have copied it into an
answer's header, or a log line, never sees it, and every server answers it alike (gunicorn
refuses to write such a header itself, so it used to end in a 500). The path and query are read
as sent and once decoded.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import unquote_to_bytes

from werkzeug.wsgi import ClosingIterator

from auth.hosts import Origins
from auth.identity import MOUNT_ENVIRON_KEY
from auth.log_context import LOG_CONTEXT
from auth.metrics import LATENCY, REQUESTS, labelled
from auth.responses import ErrorPage, ErrorRenderer, error_answer
from auth.tiers import Tier
from portal.access_log import log_request

REQUEST_ID_ENVIRON_KEY = "portal.request_id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
MAX_PARTS = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: The request's own target, as the server read it and as WSGI decoded it.
_TARGET_KEYS = ("PATH_INFO", "SCRIPT_NAME", "QUERY_STRING", "RAW_URI", "REQUEST_URI")
_ENCODED_KEYS = ("QUERY_STRING", "RAW_URI", "REQUEST_URI")
CONTROL_CHARACTERS = (
    "The address or a header of this request holds a control character (such as a line break "
    "or NUL), which no link or browser sends. Check the link you followed."
)


class RequestContext:
    def __init__(
        self, app: Callable, *, origins: Origins, portal_csp: str, pages: ErrorRenderer
    ) -> None:
        self.app = app
        self.pages = pages
        self.origins = origins
        self.https = origins.https
        self.portal_csp = portal_csp
        #: A part of the site (its mount and area) -> its default security headers.
        self._defaults: dict[tuple[str | None, str], tuple[tuple[str, tuple[str, str]], ...]] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
        environ[REQUEST_ID_ENVIRON_KEY] = environ["HTTP_X_REQUEST_ID"] = request_id
        context = LOG_CONTEXT.set({"request_id": request_id})
        started = time.perf_counter()
        outcome: dict[str, str] = {}

        def respond(status: str, headers: list, exc_info: object = None) -> Callable:
            outcome["status"] = status.split(" ", 1)[0]
            return start_response(status, self._headers(environ, headers, request_id), exc_info)

        def finish() -> None:
            product = environ.get(MOUNT_ENVIRON_KEY) or _area(environ)
            status = outcome.get("status", "101")
            elapsed = time.perf_counter() - started
            labelled(REQUESTS, product, status).inc()
            labelled(LATENCY, product).observe(elapsed)
            log_request(environ, status, elapsed, product, request_id)

        try:
            if holds_control_characters(environ):
                page = ErrorPage(400, "Bad request", CONTROL_CHARACTERS)
                answer = error_answer(
                    environ, respond, page, self.pages, error="control_characters"
                )
                return ClosingIterator(answer, [finish])
            return ClosingIterator(self.app(environ, respond), [finish])
        finally:
            LOG_CONTEXT.reset(context)

    def _headers(self, environ: dict, headers: list, request_id: str) -> list:
        names = {name.lower() for name, _ in headers}
        part = (environ.get(MOUNT_ENVIRON_KEY), _area(environ))
        defaults = self._defaults.get(part)
        if defaults is None:
            if len(self._defaults) >= MAX_PARTS:  # SCRIPT_NAME may come from a proxy
                self._defaults.clear()
            defaults = self._defaults[part] = self._defaults_for(environ)
        extra = [("X-Request-ID", request_id)]
        extra += [header for lowered, header in defaults if lowered not in names]
        if self.https:
            extra.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        return [*headers, *extra]

    def _defaults_for(self, environ: dict) -> tuple[tuple[str, tuple[str, str]], ...]:
        """The security headers one part of the site (a product, the portal, the identity
        provider) gets unless it sets them itself: the same on every one of its answers, so
        worked out on its first."""
        ancestors, frame_options = self._framing(environ)
        own_page = _area(environ) == "portal"
        headers = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            (
                "Content-Security-Policy",
                self.portal_csp if own_page else f"frame-ancestors {ancestors}",
            ),
        ]
        if frame_options:
            headers.append(("X-Frame-Options", frame_options))
        return tuple((name.lower(), (name, value)) for name, value in headers)

    def _framing(self, environ: dict) -> tuple[str, str | None]:
        """Who may frame this answer: nobody for the portal's own pages, the identity provider
        and admin-tier products (clickjacking an admin's click is the prize); the portal itself
        for other products, so a dashboard may embed one. X-Frame-Options can't name another
        origin, so in host mode products carry only the CSP (every current browser reads it)."""
        mount = environ.get(MOUNT_ENVIRON_KEY)
        if mount is None or mount.startswith(f"{Tier.ADMIN.value}/"):
            return "'none'", "DENY"
        if self.origins.host_mode:
            return self.origins.portal_origin, None
        return "'self'", "SAMEORIGIN"


def holds_control_characters(environ: dict) -> bool:
    """The request's target (raw, and with its escapes decoded) or a header value holds a
    control character."""
    for key in _TARGET_KEYS:
        value = environ.get(key)
        if value and _CONTROL.search(value):
            return True
    for key in _ENCODED_KEYS:
        value = environ.get(key)
        if value and "%" in value:
            decoded = unquote_to_bytes(value.encode("latin-1", "replace")).decode("latin-1")
            if _CONTROL.search(decoded):
                return True
    return any(
        isinstance(value, str) and _CONTROL_BUT_TAB.search(value)
        for key, value in environ.items()
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    )


def _area(environ: dict) -> str:
    """`portal` for the portal's own pages, else the mount that answered (e.g. `idp`)."""
    script = environ.get("SCRIPT_NAME", "").strip("/")
    return script or "portal"


def portal_csp(form_targets: Iterable[str]) -> str:
    """The portal's own pages load nothing from elsewhere; forms may post to the issuer (sign-out
    redirects there), and nothing may frame them."""
    targets = " ".join(["'self'", *sorted(set(form_targets))])
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"frame-ancestors 'none'; base-uri 'self'; form-action {targets}"
    )
