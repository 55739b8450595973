"""A product server that closes kept-alive connections under its clients, as servers do when
their idle timeout ends just as a request arrives: after answering a connection's first
request, it drops each later one at random (`drop` of them) without a byte of answer.

It counts what arrived by method, so a test can tell a request sent twice from one sent once.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ClosingUpstream:
    def __init__(self, drop: float = 0.1, seed: int = 9110) -> None:
        self.arrived: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        chance = random.Random(seed)
        lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            answered = 0

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    upstream.arrived[self.command] += 1
                    closing = self.answered > 0 and chance.random() < drop
                    if closing:
                        upstream.dropped[self.command] += 1
                if closing:
                    self.close_connection = True
                    return
                self.answered += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(b"ok")

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
