"""Every request, seen from the outside: an id, security headers, a log line and metrics.

`RequestContext` is the outermost WSGI layer, so it covers the portal, every product and the
development provider alike. The request id comes from a trusted proxy's `X-Request-ID` when it
looks like one, or is made here; products find it in the environ (`portal.request_id`) and the
`X-Request-ID` header, and every log line of the request carries it, with the user and product.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable

from werkzeug.wsgi import ClosingIterator

from auth.hosts import Origins
from auth.identity import MOUNT_ENVIRON_KEY, USER_ENVIRON_KEY
from auth.log_context import LOG_CONTEXT
from auth.metrics import LATENCY, REQUESTS
from auth.tiers import Tier

REQUEST_ID_ENVIRON_KEY = "portal.request_id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

access_log = logging.getLogger("portal.access")


class RequestContext:
    def __init__(self, app: Callable, *, origins: Origins, portal_csp: str) -> None:
        self.app = app
        self.origins = origins
        self.https = origins.https
        self.portal_csp = portal_csp

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
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
            REQUESTS.labels(product, status).inc()
            LATENCY.labels(product).observe(elapsed)
            user = environ.get(USER_ENVIRON_KEY)
            access_log.info(
                "%s %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                status,
                extra={
                    "status": int(status),
                    "duration_ms": round(elapsed * 1000, 1),
                    "user_id": getattr(user, "id", None),
                    "product": product,
                    "request_id": request_id,
                },
            )

        try:
            return ClosingIterator(self.app(environ, respond), [finish])
        finally:
            LOG_CONTEXT.reset(context)

    def _headers(self, environ: dict, headers: list, request_id: str) -> list:
        names = {name.lower() for name, _ in headers}
        extra = [("X-Request-ID", request_id)]
        if "x-content-type-options" not in names:
            extra.append(("X-Content-Type-Options", "nosniff"))
        if "referrer-policy" not in names:
            extra.append(("Referrer-Policy", "strict-origin-when-cross-origin"))
        ancestors, frame_options = self._framing(environ)
        if "content-security-policy" not in names:
            own_page = _area(environ) == "portal"
            extra.append(
                (
                    "Content-Security-Policy",
                    self.portal_csp if own_page else f"frame-ancestors {ancestors}",
                )
            )
        if "x-frame-options" not in names and frame_options:
            extra.append(("X-Frame-Options", frame_options))
        if self.https:
            extra.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        return [*headers, *extra]


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
