"""The proxy benchmark's websocket product server: echoes every message (Python's `websockets`),
and answers a plain GET with 200, which is what the portal's health check asks.

    python benchmarks/proxy_ws_upstream.py <port>
"""

import asyncio
import sys
from http import HTTPStatus

from websockets.asyncio.server import Request, Response, ServerConnection, serve


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def main(port: int) -> None:
    async with serve(echo, "127.0.0.1", port, process_request=health):
        print("ws upstream ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
