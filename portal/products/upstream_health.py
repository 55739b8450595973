"""Whether an `upstream =` product's server answers: its health path, asked every few seconds.

The portal does not run an upstream, so it can't restart one; it can only say how it is doing,
in `portal apps`, the admin console and the 502 page. Each worker asks on its own (one small
request per product every `HEALTH_INTERVAL_SECONDS`), and the proxy reports what its requests
find in between, so a server that went down shows as down from the first failed request.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

from urllib3 import HTTPConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as UpstreamTimeout

from auth.identity import ProductInfo
from portal.products.process_state import ProcessState, State
from portal.products.proxy_pool import base_path, pool_for, timeout_for

log = logging.getLogger(__name__)

HEALTH_INTERVAL_SECONDS = 5.0
#: A health check is a quick question: it waits at most this long, whatever the product's timeout.
MAX_HEALTH_SECONDS = 5.0


def check_health(pool: HTTPConnectionPool, product: ProductInfo, upstream: str) -> ProcessState:
    """One GET of the product's health path: up on a 2xx or 3xx answer, down otherwise."""
    timeout = timeout_for(min(product.timeout, MAX_HEALTH_SECONDS))
    try:
        response = pool.urlopen(
            "GET",
            base_path(upstream) + product.health,
            headers={"User-Agent": "portal-health-check"},
            timeout=timeout,
            redirect=False,
            retries=False,
            assert_same_host=False,
        )
    except NewConnectionError as error:  # a kind of timeout to urllib3, a refusal here
        return down(upstream, failure(error))
    except UpstreamTimeout:
        waited = timeout.read_timeout
        return down(upstream, f"no answer to GET {product.health} within {waited:g} s")
    except HTTPError as error:
        return down(upstream, failure(error))
    if response.status >= 400:
        return down(upstream, f"GET {product.health} answered {response.status}")
    return ProcessState(State.UP, address=upstream)


def check_once(product: ProductInfo) -> ProcessState:
    """The upstream's state right now, for a command that runs once (`portal apps`)."""
    pool = pool_for(product.upstream, product.timeout)
    try:
        return check_health(pool, product, product.upstream)
    finally:
        pool.close()


def down(upstream: str, detail: str) -> ProcessState:
    return ProcessState(State.DOWN, detail=detail, address=upstream)


def failure(error: BaseException) -> str:
    """A connection failure in one line, without urllib3's object reprs."""
    reason: BaseException = error
    while (earlier := reason.__cause__ or reason.__context__) is not None:
        reason = earlier
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__


class HealthMonitor:
    """The latest state of one server, kept fresh by a thread of its own while anyone holds the
    monitor (the thread holds only a weak reference, so an unmounted product's monitor ends)."""

    def __init__(self, check: Callable[[], ProcessState], key: str, interval: float) -> None:
        self._check = check
        self.key = key
        self._interval = interval
        self._state = ProcessState(State.STARTING)
        self._started = False
        self._lock = threading.Lock()

    def state(self) -> ProcessState:
        self._start()
        return self._state

    def report(self, state: ProcessState) -> None:
        """What a request just found; a state that didn't change keeps its `since`."""
        current = self._state
        if (current.state, current.detail) != (state.state, state.detail):
            if state.state is not current.state:
                why = f": {state.detail}" if state.detail else ""
                log.info("upstream %s is %s%s", self.key, state.state.value, why)
            self._state = state

    def check_now(self) -> ProcessState:
        self.report(self._check())
        return self._state

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        thread = threading.Thread(
            target=_watch,
            args=(weakref.ref(self), self._interval),
            name=f"portal-health-{self.key}",
            daemon=True,
        )
        thread.start()


def _watch(monitors: weakref.ref, interval: float) -> None:
    stop = threading.Event()
    while True:
        monitor = monitors()
        if monitor is None:
            return
        try:
            monitor.check_now()
        except Exception:
            log.exception("health check of %s failed", monitor.key)
        del monitor
        stop.wait(interval)
