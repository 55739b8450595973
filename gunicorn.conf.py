"""gunicorn settings: `gunicorn wsgi:application` reads this file from the project root.

gthread workers: each request gets a thread, so a slow product or a long-lived websocket does not
hold a whole worker, and the portal can call its own development identity provider while serving
the sign-in that needs it.

Websockets (flask-sock) hold their request's thread for as long as they are open, plus a reader
thread of their own. So `threads` is the most sockets one worker can hold *and* still answer
plain requests: when every thread holds a socket, the next request waits in the worker's queue.
Size it for the sockets you expect per worker plus headroom; an idle thread costs little memory
(its stack is touched lazily) and the pool only grows when used. For thousands of idle sockets
per machine, see "Websockets in your product" in the README (many-connection mode).
"""

import os
import shutil
import signal
import tempfile
import threading

from portal.config import load_settings
from portal.startup import prepare_instance

wsgi_app = "wsgi:application"
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("PORTAL_WORKERS", "2"))
# Sockets per worker + headroom for requests (see above).
threads = int(os.environ.get("PORTAL_THREADS", "256"))
# gthread stops accepting beyond this many open connections per worker (sockets and keep-alive
# HTTP connections alike), so the other workers take them; keep it above `threads`.
worker_connections = max(1000, threads * 2)
# The worker's heartbeat runs on its main thread, not in the request threads, so long-lived
# sockets never trip this; it catches a worker whose main loop is stuck.
timeout = int(os.environ.get("PORTAL_WORKER_TIMEOUT", "60"))
# On restart or deploy a worker closes its sockets at once with 1001 (see `post_worker_init`),
# so clients reconnect to the new workers; this is then only the wait for plain requests.
graceful_timeout = int(os.environ.get("PORTAL_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# No max_requests: recycling a worker would cut every socket it holds.
max_requests = 0
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The portal writes its own access line per request (logger `portal.access`: method, path,
# status, duration, request id, user id, product; JSON in production), so gunicorn's is off by
# default; PORTAL_GUNICORN_ACCESSLOG=- turns it back on.
accesslog = os.environ.get("PORTAL_GUNICORN_ACCESSLOG") or None

# Metrics from every worker: prometheus-client's multiprocess mode keeps each worker's values in
# files here, and /metrics sums them. Set before any worker imports prometheus_client.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"portal-metrics-{os.getpid()}")
)


def on_starting(server: object) -> None:
    """Once, in the master, before any worker: the instance folder, the dev secret, migrations,
    and an empty metrics folder (values of a previous run must not be summed in)."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)
    prepare_instance(load_settings())


def child_exit(server: object, worker: object) -> None:
    """A worker's live gauges (open websockets) stop counting when it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def post_worker_init(worker: object) -> None:
    """Close this worker's websockets with 1001 ("going away") as soon as it is told to stop.

    gthread waits `graceful_timeout` for open requests, and a websocket never ends by itself:
    without this, every deploy would hold sockets open for the full wait and then cut them.
    """
    services = getattr(getattr(worker, "wsgi", None), "services", None)
    if services is None:  # not the portal (the benchmark's bare app)
        return
    registry = services.sockets
    stop = signal.getsignal(signal.SIGTERM)

    def close_sockets_then_stop(signum: int, frame: object) -> None:
        args = (1001, "The server is restarting. Reconnect in a moment.")  # see auth/sockets.py
        if "gevent" in type(worker).__module__:  # a signal handler may not block the gevent hub
            import gevent

            gevent.spawn(registry.close_all, *args)
        else:
            threading.Thread(target=registry.close_all, args=args, daemon=True).start()
        if callable(stop):
            stop(signum, frame)

    signal.signal(signal.SIGTERM, close_sockets_then_stop)
