"""Which part of the site answers a request: by its host (`HostRouter`), then its path
(`ProductMounts`: the portal app, or a product's Gate).

**By host.** The first thing every request meets.
Requests for a host the portal does not serve get 400 before anything else runs, so nothing
built from the request (redirects, links, the sign-in callback) can name a host an attacker
chose (`PORTAL_TRUSTED_HOSTS`; the health and metrics endpoints answer on any host, since probes
address a node by its own IP). In host mode (see `auth.hosts`) the portal's host serves the
portal and sends the addresses of products mounted now to their own hosts (any other address is
the portal's 404: a name that is not a product's never becomes a host); a product's host serves
that product at its mount, the portal's static files, and the cookie handoff, and nothing else.
Every redirect is built by `auth.locations`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from werkzeug.wsgi import get_host, host_is_trusted

from auth.handoff import HANDOFF_PATH, Handoffs
from auth.hosts import Origins
from auth.locations import Locations
from auth.responses import ErrorPage, html_response, json_response
from portal.pages import ErrorPages
from portal.products.paths import product_key_in
from portal.products.watch import ProductWatcher

#: Temporary: host mode can be turned off again without browsers remembering the redirect.
TEMPORARY = "307 Temporary Redirect"
PERMANENT = "308 Permanent Redirect"
#: What a product's host serves besides the product: the portal's stylesheet and icon, and
#: sign-out, which must work with the host's own cookie (a form posting to the portal's host is
#: cross-site on `*.localhost`, so the browser would not send that host's SameSite cookie).
PORTAL_PATHS_ON_PRODUCT_HOSTS = ("/static/", "/logout")
#: Answer on any host: load balancers and kubelet probe a node by its own address.
ANY_HOST_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_REMEMBERED_HOSTS = 1024


class HostRouter:
    def __init__(
        self,
        app: ProductMounts,
        origins: Origins,
        allowed_hosts: tuple[str, ...],
        handoffs: Handoffs,
        pages: ErrorPages,
        locations: Locations,
    ) -> None:
        self.app = app
        self.locations = locations
        self.origins = origins
        self.allowed_hosts = list(allowed_hosts)
        self.handoffs = handoffs
        self.pages = pages
        #: Host header -> whether it is trusted: a handful of hosts, asked on every request.
        self._trusted: dict[str, bool] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        host = get_host(environ)
        if path not in ANY_HOST_PATHS and not self._is_trusted(host):
            return self._unknown_host(environ, start_response, host)
        if not self.origins.host_mode:
            return self.app(environ, start_response)
        key = self.origins.product_at(host)
        if key is None:
            named = product_key_in(path)
            if named is None or not self.app.is_mounted(named):
                return self.app(environ, start_response)  # a moved product's 308, or a 404
            rest = path[len(named) + 1 :] or "/"
            location = self.locations.product(named, rest, environ.get("QUERY_STRING", ""))
            if location is None:
                return self.app(environ, start_response)
            return self.locations.redirect(start_response, TEMPORARY, location)
        mount = f"/{key}"
        if path == mount or path.startswith((mount + "/", *PORTAL_PATHS_ON_PRODUCT_HOSTS)):
            return self.app(environ, start_response)
        if path == HANDOFF_PATH:
            return self.handoffs.on_product_host(environ, start_response, key)
        if path == "/":
            return self.locations.redirect(
                start_response, TEMPORARY, self.locations.here(mount + "/")
            )
        page = ErrorPage(
            404,
            "Not found",
            f"This host serves {key} at {mount}/ and nothing else.",
            action_url=self.origins.product_url(key),
            action_label="Open the product",
        )
        return html_response(start_response, 404, self.pages(page))

    def _is_trusted(self, host: str) -> bool:
        trusted = self._trusted.get(host)
        if trusted is None:
            if len(self._trusted) >= MAX_REMEMBERED_HOSTS:  # any client can name new hosts
                self._trusted.clear()
            trusted = self._trusted[host] = host_is_trusted(host, self.allowed_hosts)
        return trusted

    def _unknown_host(self, environ: dict, start_response: Callable, host: str) -> Iterable[bytes]:
        message = (
            f"This portal does not answer for the host {host!r}. If a proxy in front rewrites "
            "the Host header, have it pass the original one (or list the host in "
            "PORTAL_TRUSTED_HOSTS)."
        )
        if "application/json" in environ.get("HTTP_ACCEPT", ""):
            return json_response(start_response, 400, {"error": "unknown_host", "message": message})
        return html_response(
            start_response, 400, self.pages(ErrorPage(400, "Unknown host", message))
        )


class ProductMounts:
    """By path: werkzeug's DispatcherMiddleware, `/` to the portal app and `/<tier>/<name>` to
    a product's Gate, with the table kept in step with the apps folder by a ProductWatcher.

    Before a request reaches a product, its folder must still be where its mount says (one
    stat): a product moved to a higher tier is never served from its old, lower address, by
    any worker, even before the watcher has noticed; the old address then answers 308.
    """

    def __init__(self, watcher: ProductWatcher) -> None:
        self.watcher = watcher

    def is_mounted(self, key: str) -> bool:
        """A product is mounted at `/<key>` now (a folder new since the last look is imported
        first, as for a request)."""
        mount = f"/{key}"
        if self.watcher.mounted(mount) is None:
            self.watcher.look_for(mount)
        return self.watcher.mounted(mount) is not None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.watcher.start()
        path = environ.get("PATH_INFO", "")
        key = product_key_in(path)
        if key is not None:
            mount = f"/{key}"
            product = self.watcher.mounted(mount)
            if product is not None and not product.folder.is_dir():
                self.watcher.drop_missing()
                product = self.watcher.mounted(mount)
            if product is None:
                self.watcher.look_for(mount)
                moved = self.watcher.moved_to(mount)
                if moved and self.watcher.mounted(mount) is None and self.is_mounted(moved):
                    locations = self.watcher.services.locations
                    rest, query = path[len(mount) :] or "/", environ.get("QUERY_STRING", "")
                    location = locations.product(moved, rest, query)
                    if location is not None:
                        return locations.redirect(start_response, PERMANENT, location)
        return self.watcher.dispatcher(environ, start_response)

    def close(self) -> None:
        """Stop watching the apps folder (the portal is shutting down, or a test is done)."""
        self.watcher.close()
