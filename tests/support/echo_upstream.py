"""A product server someone else runs: it answers every request with the headers and cookies it
was sent (as JSON) and echoes websocket messages, so a test sees exactly what reached it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, jsonify, request
from flask_sock import Sock
from werkzeug.serving import BaseWSGIServer, make_server


def echo_app() -> Flask:
    app = Flask("echo_upstream")
    sock = Sock(app)

    @sock.route("/ea/dash/socket")
    def echo(ws) -> None:
        seen = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-")}
        ws.send(json.dumps(seen))
        while True:
            ws.send(ws.receive())

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def everything(path: str):
        return jsonify(
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            cookies=request.headers.get("Cookie", ""),
        )

    return app


@dataclass
class EchoUpstream:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"


@contextmanager
def echo_upstream() -> Iterator[EchoUpstream]:
    server = make_server("127.0.0.1", 0, echo_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="echo-upstream", daemon=True)
    thread.start()
    try:
        yield EchoUpstream(server, thread)
    finally:
        server.shutdown()
        thread.join(timeout=10)
