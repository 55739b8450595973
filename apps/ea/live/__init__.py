"""Live: a small chat over a websocket, the example to copy for anything live.

The page opens ``ws(s)://<portal>/ea/live/ws``. The route echoes each message to its sender and
broadcasts it to everyone on the product, on every worker (through Redis when `REDIS_URL` is set).
It sits in the ea tier, so the Gate is visibly at work: a stable user is refused before the
upgrade, and a user whose tier drops below ea sees their socket closed within seconds. Nothing
here deals with sign-in, tiers or closing: `app.websocket` and the Gate do that.
"""

import json
import os
import secrets

from flask import render_template

from kit import AuthFlask, BroadcastError, PortalWebSocket, channel, current_user

app = AuthFlask(__name__)
MAX_TEXT = 500


@app.get("/")
def index() -> str:
    return render_template("live/index.html", max_text=MAX_TEXT)


@app.websocket("/ws", max_message_size=4 * 1024)
def feed(ws: PortalWebSocket) -> None:
    # `pid` lets tests and curious people see which worker holds the socket.
    me = {"id": secrets.token_hex(4), "name": current_user.display_name, "pid": os.getpid()}
    room = channel(app.product.key if app.product else "live")
    with room.subscribe(ws):
        ws.send(json.dumps({"type": "hello", **me}))
        while True:
            text = ws.receive()
            if not isinstance(text, str) or not text.strip():
                continue
            text = text.strip()[:MAX_TEXT]
            ws.send(json.dumps({"type": "echo", "text": text}))
            try:
                room.publish(json.dumps({"type": "message", "from": me, "text": text}))
            except BroadcastError:
                ws.send(json.dumps({"type": "notice", "text": "Others can't hear you right now."}))
