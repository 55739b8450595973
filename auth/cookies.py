"""Every cookie the portal sets or lets through, in one place.

**The session cookie**: HttpOnly, SameSite=Lax, `Path=/`, host-only (no `Domain`), and on https
Secure with the `__Host-` prefix, which browsers accept only with exactly those attributes, so
neither a sibling host nor a script with another path can plant one. Its value is the signed
session id bound to the host (see `auth.sessions`).

**Cookie tossing**: over plain http, or from a script on the same origin, a page can still add a
second cookie of the same name with a longer `Path` or a `Domain`, which the browser then sends
first. A request carrying more than one session cookie is treated as tampered: its session is
not used, and the answer removes every copy it could carry except the portal's own.

**Products' cookies**: products share the portal's origin in path mode, so a product's
`Set-Cookie: session=...; Path=/` would reach every other product and replace theirs. The Gate
rewrites what a product sets before the browser sees it: no `Path` or `Path=/` becomes the
product's mount path, a path inside the mount stays, a path outside it is dropped, as are the
portal's cookie names and other products' `portal_product_*` cookies, and `Domain` is removed so
a cookie never spreads to other hosts.
"""

from __future__ import annotations

import logging

from werkzeug.http import dump_cookie

from auth.hosts import PLAIN_COOKIE_NAME, SECURE_COOKIE_NAME, Origins
from auth.identity import ProductInfo

log = logging.getLogger(__name__)

#: The session cookie and the handoff's state cookie (`auth.handoff`): no product sees or sets them.
PORTAL_COOKIE_NAMES = frozenset(
    {
        PLAIN_COOKIE_NAME,
        SECURE_COOKIE_NAME,
        f"{PLAIN_COOKIE_NAME}_handoff",
        f"{SECURE_COOKIE_NAME}_handoff",
    }
)
PRODUCT_COOKIE_PREFIX = "portal_product_"


def product_cookie_name(product: ProductInfo) -> str:
    """AuthFlask's session cookie for one product; no other product may set it."""
    return f"{PRODUCT_COOKIE_PREFIX}{product.tier.value}_{product.name}"


def host_cookie(origins: Origins, name: str, value: str = "", *, max_age: int | None = None) -> str:
    """A `Set-Cookie` value for one of the portal's own cookies on this host: host-only,
    HttpOnly, SameSite=Lax, Secure on https; `max_age=0` clears it."""
    return dump_cookie(
        name,
        value,
        max_age=max_age,
        expires=0 if max_age == 0 else None,
        path="/",
        httponly=True,
        secure=origins.https,
        samesite="Lax",
    )


def session_cookie(origins: Origins, value: str) -> str:
    """The `Set-Cookie` value that gives this host its session cookie."""
    return host_cookie(origins, origins.cookie_name, value)


def cleared_session_cookie(origins: Origins) -> str:
    return host_cookie(origins, origins.cookie_name, max_age=0)


class TamperedCookies(Exception):
    """The request carried more than one session cookie: some page planted one (cookie
    tossing), so none of them is used."""


def sent_session_cookie(environ: dict, origins: Origins) -> str | None:
    """The request's session cookie; TamperedCookies when it carries more than one."""
    values = cookie_values(environ, origins.cookie_name)
    if len(values) > 1:
        raise TamperedCookies(f"{len(values)} session cookies")
    return values[0] if values and values[0] else None


def cookie_values(environ: dict, name: str) -> list[str]:
    """Every value of cookie `name` in the request, in the order the browser sent them; a plain
    split, since the portal's values never need quoting."""
    found = []
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            found.append(value)
    return found


def stray_copies_cleared(origins: Origins, path: str, host: str) -> list[str]:
    """`Set-Cookie` values removing every copy of the session cookie a request to `path` could
    carry besides the portal's own (host-only, `Path=/`): each longer path it may have been
    planted at, and `Domain` variants."""
    prefixes = ["/"]
    for segment in [s for s in path.split("/") if s]:
        prefixes.append(prefixes[-1].rstrip("/") + "/" + segment)
    paths = sorted({*prefixes, *(p + "/" for p in prefixes if p != "/")})
    hostname = host.split(":")[0]
    headers = []
    for cookie_path in paths:
        for domain in (None, hostname):
            if cookie_path == "/" and domain is None:
                continue  # the portal's own cookie stays
            headers.append(
                dump_cookie(
                    origins.cookie_name, "", max_age=0, expires=0, path=cookie_path, domain=domain
                )
            )
    return headers


def scoped_cookie(header: str, mount_path: str, *, own_name: str = "") -> str | None:
    """The `Set-Cookie` value to send for a product mounted at `mount_path`, or None to drop it.
    `own_name` is the product's own `portal_product_*` cookie (AuthFlask's session)."""
    pair, *attributes = [part.strip() for part in header.split(";")]
    name = pair.split("=", 1)[0].strip()
    if name in PORTAL_COOKIE_NAMES or (name.startswith(PRODUCT_COOKIE_PREFIX) and name != own_name):
        log.warning("dropped a product's cookie %r: the name belongs to the portal", name)
        return None
    kept = []
    path = ""
    for attribute in attributes:
        key = attribute.split("=", 1)[0].strip().lower()
        if key == "domain":
            continue
        if key == "path":
            path = attribute.split("=", 1)[1].strip() if "=" in attribute else ""
            continue
        if attribute:
            kept.append(attribute)
    if path in ("", "/"):
        path = mount_path
    elif path != mount_path and not path.startswith(mount_path + "/"):
        log.warning("dropped a product's cookie %r: Path=%s is outside %s", name, path, mount_path)
        return None
    return "; ".join([pair, f"Path={path}", *kept])
