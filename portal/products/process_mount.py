"""The mount of a `command` product: its proxy while the process is up, a 503 page otherwise.

The Gate runs first, as for every product. Each request reads the product's state from the
supervisor's folder (one `stat` while it is unchanged) and goes to the address the process
listens on now; a restarted process gets a new port, and the proxy follows it. The process was
told its prefix, so it serves under it and gets each request's whole path. While it is starting
or restarting, or unhealthy (it stopped answering its health path and is being ended), the
answer is 503 at once with `Retry-After`, never a request left waiting on a hung server; once it
failed, 503 with the reason and its last lines of output for devel and admin users, who can fix
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from auth.identity import LOGOUT_TOKEN_ENVIRON_KEY, USER_ENVIRON_KEY, ProductInfo
from auth.identity_token import IdentityTokens
from auth.responses import ErrorPage, ErrorRenderer, html_response, json_response, wants_json
from auth.tiers import Tier
from portal.products.discovery import Product
from portal.products.process_files import StateReader
from portal.products.process_state import ProcessState, State
from portal.products.proxy import ProxyApp

#: Seconds a client is told to wait before asking a starting product again.
RETRY_AFTER_SECONDS = 2
NO_SUPERVISOR = (
    "this portal runs no supervisor for process products: it starts one under gunicorn with "
    "the project's gunicorn.conf.py, and with `portal serve`"
)


SUPERVISOR_GONE = (
    "the portal's supervisor of process products stopped, and its products with it; "
    "the portal is starting it again, and it starts them"
)


def state_source(key: str, states: StateReader | None) -> Callable[[], ProcessState]:
    """The product's state now, as its supervisor last wrote it (starting until it first
    does; restarting while that supervisor is gone and the portal starts another, whatever
    it last wrote)."""
    if states is None:
        return lambda: ProcessState(State.FAILED, detail=NO_SUPERVISOR)

    def current() -> ProcessState:
        state = states.get(key)
        if state is None:
            return ProcessState(State.STARTING)
        if not states.supervisor_running():
            return ProcessState(State.RESTARTING, detail=SUPERVISOR_GONE, output=state.output)
        return state

    return current


class WholePathProxy(ProxyApp):
    """The proxy to a process the portal runs. It gets the whole path (it serves under the
    mount), and a request it dropped because it was found hung and ended gets the mount's 503
    (`stopped`), not a 502."""

    def __init__(
        self,
        product: ProductInfo,
        upstream: Callable[[], str],
        *,
        tokens: IdentityTokens,
        pages: ErrorRenderer,
        stopped: Callable[[dict, Callable], Iterable[bytes] | None],
    ) -> None:
        super().__init__(product, upstream, tokens=tokens, pages=pages)
        self.stopped = stopped

    @staticmethod
    def target(upstream: str, environ: dict) -> str:
        whole = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        return ProxyApp.target(upstream, {"PATH_INFO": whole, "QUERY_STRING": query})

    def unreachable(
        self, environ: dict, start_response: Callable, error: Exception
    ) -> Iterable[bytes]:
        answer = self.stopped(environ, start_response)
        if answer is not None:
            return answer
        return super().unreachable(environ, start_response, error)


class ProcessMount:
    def __init__(
        self,
        product: Product,
        state: Callable[[], ProcessState],
        pages: ErrorRenderer,
        tokens: IdentityTokens,
    ) -> None:
        self.product = product
        self.state = state
        self.pages = pages
        self.proxy = WholePathProxy(
            product.info, self._address, tokens=tokens, pages=pages, stopped=self._stopped
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        state = self.state()
        if state.serving:
            return self.proxy(environ, start_response)
        return self._not_up(state, environ, start_response)

    def _address(self) -> str:
        state = self.state()
        return state.address if state.serving else ""

    def _stopped(self, environ: dict, start_response: Callable) -> Iterable[bytes] | None:
        """The 503 for a request whose process went away under it, once the state says so."""
        state = self.state()
        return None if state.serving else self._not_up(state, environ, start_response)

    def _not_up(
        self, state: ProcessState, environ: dict, start_response: Callable
    ) -> Iterable[bytes]:
        title, key = self.product.info.title, self.product.info.key
        failed = state.state is State.FAILED
        if failed:
            heading = f"{title} has failed"
            message = (
                f"{key} runs as a process of its own, and it is not running: it stopped right "
                "after starting too many times, or could not be started. The rest of the portal "
                "works as usual."
            )
        elif state.state is State.UNHEALTHY:
            heading = f"{title} is not answering"
            message = (
                f"{key} stopped answering, so the portal is starting it again. "
                "Try again in a moment."
            )
        else:
            heading = f"{title} is starting"
            message = f"{key} is being started. Try again in a moment."
        extra = [] if failed else [("Retry-After", str(RETRY_AFTER_SECONDS))]
        if wants_json(environ):
            payload = {"error": state.state.value, "message": message, "product": key}
            return json_response(start_response, 503, payload, extra)
        user = environ.get(USER_ENVIRON_KEY)
        insider = user is not None and user.tier.opens(Tier.DEVEL)
        page = ErrorPage(
            503,
            heading,
            message,
            details=_details(state) if insider else None,
            action_url=self.pages.dashboard_url,
            action_label="Back to your dashboard",
        )
        body = self.pages(page, user=user, logout_token=environ.get(LOGOUT_TOKEN_ENVIRON_KEY))
        return html_response(start_response, 503, body, extra)


def _details(state: ProcessState) -> str | None:
    if state.detail and state.output:
        return f"{state.detail}\n\nIts last output:\n{state.output}"
    return state.detail or state.output or None
