"""The echo app the websocket benchmark measures, served bare and mounted in the portal.

One file, so both sides run exactly the same handler code. `/ws` is plain flask-sock (what a
product written before the portal would have); `/pws` is the portal's `PortalSock` route (guard,
pings, maximum message size, locked sends), what products get from `app.websocket`. Each socket
first sends its worker's pid, so the benchmark can spread connections over every worker.
"""

import os

from flask import Flask
from flask_sock import Sock

from kit import PortalSock

app = Flask(__name__)
plain = Sock(app)
portal = PortalSock(app)


def echo(ws) -> None:
    ws.send(str(os.getpid()))
    while True:
        ws.send(ws.receive())


plain.route("/ws", endpoint="plain_echo")(echo)
portal.route("/pws", endpoint="portal_echo")(echo)


@app.get("/healthz")
def healthz() -> str:
    return "ok"
