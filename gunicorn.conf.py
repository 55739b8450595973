"""gunicorn settings: `gunicorn wsgi:application` reads this file from the project root.

gevent workers. Each connection is a greenlet of a few kilobytes, so what clients do with their
connections costs the worker memory, not capacity. Measured with gunicorn 27 on two workers
(numbers in docs/how-to/deploy-compose.md, "Connections: gunicorn and nginx"):

- 600 clients that send half a request line and headers and then nothing: on gthread (2 x 256
  threads) each holds a thread for good, and requests reaching a worker they fill wait for good; on
  gevent the users are answered in milliseconds and gunicorn closes the half-sent requests after
  `keepalive` seconds, since gevent reads every request line and header block under that deadline.
- 2,100 idle connections: gthread hands each new connection to a thread that waits 5 s for its
  first byte, so a request queued behind them waited longer than 15 s while they were open; on
  gevent no request waits for them, and silent ones are closed after `keepalive` seconds.
- 50 clients that send a whole request with "Connection: close" and then keep their socket open:
  gthread drains each such socket for up to 2 s on the worker's main loop, which answers nothing
  meanwhile (30 s for a plain request); gevent closes them at once.
- Closed connections are seen and released at once by both (gunicorn 23's gthread stopped polling
  at `worker_connections` and never did, so its workers stayed wedged until a HUP).

Websockets hold their request for as long as they are open, and these timeouts only bound the
wait for a request's line and headers and the idle time between requests, so an open socket is
never cut by them. Each socket's reader and route are greenlets too (gunicorn monkey-patches the
standard library before the portal loads), so PyMySQL, redis-py and the portal's own threads are
cooperative without code changes.

The price of gevent: one worker runs one greenlet at a time, so a request that computes without
waiting (numpy, a big template, SQLite in C) holds every other request of that worker meanwhile,
and one that computes for longer than `timeout` gets its worker restarted. For such products run
their own gunicorn on gthread (`GUNICORN_CMD_ARGS="--worker-class gthread"`: `threads` is then the
most requests and websockets one worker serves at once), and only behind nginx, which hands
gunicorn whole requests and reads whole responses (deploy/nginx.conf), so slow or half-sent
connections never reach a thread.
"""

import contextlib
import gc
import os
import resource
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from portal.handover import Handover
from portal.products.supervision import start_supervisor, stop_supervisor
from portal.settings import ConfigError, load_settings
from portal.startup import prepare_instance

if TYPE_CHECKING:
    from portal.services import Services
    from portal.settings import Settings


def _open_files_limit() -> int:
    """This process's open-files limit, raised to the hard limit first (as nginx's
    `worker_rlimit_nofile` does): containers often start with 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def _settings() -> "Settings":
    """The portal's settings, read once per start (and again on a HUP, which reads this file
    again); a wrong one stops gunicorn with its message, not a traceback."""
    try:
        return load_settings()
    except ConfigError as error:
        raise SystemExit(f"Error: {error}") from None


_portal = _settings()

wsgi_app = "wsgi:application"
bind = _portal.bind
worker_class = "gevent"
workers = _portal.workers
# gthread only (see above): requests and websockets one worker serves at once.
threads = _portal.threads
# Open connections per worker (websockets, requests, kept-alive connections). A full worker stops
# accepting and the others take the connections. At most half the open-files limit, so accepting
# never fails with "too many open files" (the rest covers the database pool, Redis and logs).
worker_connections = min(10_000, _open_files_limit() // 2)
# Seconds a connection may stay idle between requests, and on gevent also the deadline for a
# request's whole line and header block, counted from the connection's accept or the previous
# response. nginx closes its idle upstream connections sooner (deploy/nginx.conf), so it never
# sends a request on one gunicorn is closing.
keepalive = 5
# Requests gunicorn refuses with a 400 before the portal sees them (gunicorn's defaults, stated
# because deploy/nginx.conf matches them): request line, header count, one header's size.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# The worker's heartbeat: its main greenlet (gevent) or main thread (gthread) touches it every
# second, so long-lived sockets never trip this; it catches a worker that stopped running.
timeout = _portal.worker_timeout
# On restart or deploy a worker closes its sockets at once with 1001 (see `post_worker_init`),
# so clients reconnect to the new workers; this is then only the wait for plain requests.
graceful_timeout = _portal.graceful_timeout
# No max_requests: recycling a worker would cut every socket it holds.
max_requests = 0
# Addresses or networks (CIDR), comma-separated.
forwarded_allow_ips = _portal.forwarded_allow_ips
# The portal writes its own access line per request (logger `portal.access`: method, path,
# status, duration, request id, user id, product; JSON in production), so gunicorn's is off by
# default; PORTAL_GUNICORN_ACCESSLOG=- turns it back on.
accesslog = _portal.gunicorn_accesslog or None

# Metrics from every worker: prometheus-client's multiprocess mode keeps each worker's values in
# files here, and /metrics sums them. Set in the environment before any worker imports
# prometheus_client (which reads it there), and read back by every worker's settings.
_metrics_dir = _portal.metrics_folder or os.path.join(
    tempfile.gettempdir(), f"portal-metrics-{os.getpid()}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

# Old workers serve until the new ones are warm (see portal/handover.py): the notes live here.
_handover = Handover(Path(_metrics_dir + "-workers"))
# The longest a new worker waits for the issuer's signing keys before it takes connections.
_KEYS_WAIT_SECONDS = 5.0


def on_starting(server: object) -> None:
    """Once, in the master, before any worker: the instance folder, the dev secret, migrations,
    an empty metrics folder (values of a previous run must not be summed in), and the one
    supervisor of the `command` products (in the master, so workers share it, not run a copy
    each, and started again if it dies; it ends with the master even when the master is
    killed)."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    shutil.rmtree(_handover.folder, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)
    prepare_instance(_portal)
    start_supervisor(_portal)


def on_exit(server: object) -> None:
    """The master is stopping: every product process stops with it. (A HUP runs this file
    again, so the supervisor is held by its module, not by a global here.)"""
    stop_supervisor()
    shutil.rmtree(_handover.folder, ignore_errors=True)


def on_reload(server: object) -> None:
    """A HUP: the workers started so far are to be replaced, once their successors are warm."""
    _handover.reloading(server.worker_age)  # type: ignore[attr-defined]


def child_exit(server: object, worker: object) -> None:
    """A worker's live gauges (open websockets) stop counting when it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
    _handover.gone(worker.pid)  # type: ignore[attr-defined]


def _await_issuer_keys(worker: object, services: "Services", pid: int) -> None:
    """The issuer's signing keys, waited for where someone can answer: the issuer is another
    server, or another worker serves the built-in development provider (a reload)."""
    answered = not services.settings.uses_dev_idp or _handover.others_warm(pid)
    if answered and not services.issuer_keys.wait_known(_KEYS_WAIT_SECONDS):
        worker.log.warning(  # type: ignore[attr-defined]
            "worker %s: the issuer's signing keys are not known yet; taking connections", pid
        )


def post_worker_init(worker: object) -> None:
    """The loaded app out of the garbage collector's way; this worker noted as warm (everything
    loaded, connections next); and, told to stop, it first waits for its successors when a
    reload replaces it, then closes its websockets with 1001 ("going away").

    Everything loaded by now (the portal, every product, their libraries) lives as long as the
    worker, yet each full collection would walk it all again: with many products that is a
    pause of milliseconds every few thousand requests, seen as a bimodal p99. `gc.freeze()`
    leaves it out of every later collection.

    gunicorn stops the old workers as soon as a HUP has started the new ones, which then spend
    seconds importing products while nobody accepts: an old worker keeps serving until the new
    ones are warm (at most `timeout` seconds; see portal/handover.py). A new worker is warm once
    it also knows the issuer's signing keys (at most `_KEYS_WAIT_SECONDS`), where someone can
    answer for them: the issuer is another server, or another worker serves the built-in one.

    A worker waits `graceful_timeout` for open requests, and a websocket never ends by itself:
    without closing them, every deploy would hold sockets open for the full wait and then cut them.
    """
    gc.freeze()
    age, pid = worker.age, os.getpid()  # type: ignore[attr-defined]
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", {})
    services = extensions.get("portal")
    if services is not None:
        _await_issuer_keys(worker, services, pid)
    _handover.warm(pid, age)
    worker.log.info("worker %s warm: taking connections", pid)  # type: ignore[attr-defined]
    registry = services.sockets if services is not None else None  # None: the benchmark's bare app
    stop = signal.getsignal(signal.SIGTERM)
    stopping = threading.Event()
    on_gevent = "gevent" in type(worker).__module__

    def stop_after_handover(signum: int, frame: object) -> None:
        if _handover.replaced(age):
            deadline = time.monotonic() + worker.cfg.timeout  # type: ignore[attr-defined]
            while not _handover.successors_warm(worker.cfg.workers):  # type: ignore[attr-defined]
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        if registry is not None:
            registry.close_all(1001, "The server is restarting. Reconnect in a moment.")
        if callable(stop):
            stop(signum, frame)

    def on_sigterm(signum: int, frame: object) -> None:
        if stopping.is_set():  # gunicorn repeats SIGTERM while the worker serves on
            return
        stopping.set()
        if on_gevent:  # a signal handler may not block the gevent hub
            import gevent

            gevent.spawn(stop_after_handover, signum, frame)
        else:
            threading.Thread(target=stop_after_handover, args=(signum, frame), daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
