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
import signal
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
accesslog = "-"


def on_starting(server: object) -> None:
    """Once, in the master, before any worker: the instance folder, the dev secret, migrations."""
    prepare_instance(load_settings())


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
        threading.Thread(
            target=registry.close_all,
            args=(1001, "The server is restarting. Reconnect in a moment."),
            daemon=True,
        ).start()
        if callable(stop):
            stop(signum, frame)

    signal.signal(signal.SIGTERM, close_sockets_then_stop)
