"""Outages made on purpose: a private Redis that can stop and start, and a process that hangs.

Like `private_mariadb`, nothing here touches the shared servers other tests use: the Redis is a
`redis-server` of the test's own on a free port, with no persistence, so `stop()` is a real
outage (the process exits, its port refuses connections) and `start()` brings it back on the same
port. `hung(process)` stops a server with SIGSTOP and continues it afterwards: its connections
stay open and nothing answers, which is what a hung host looks like to a client.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import redis

from tests.support.processes import free_port
from tests.support.required import unavailable

REDIS_SERVER = "/usr/bin/redis-server"


def require_redis_server() -> None:
    if not os.access(REDIS_SERVER, os.X_OK):
        message = f"a private Redis needs {REDIS_SERVER}"
        unavailable(message, "Redis outage")


@contextmanager
def hung(process: subprocess.Popen) -> Iterator[None]:
    """The process stopped (SIGSTOP) while the block runs, continued whatever happens."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


class PrivateRedis:
    def __init__(self) -> None:
        require_redis_server()
        self.root = Path(tempfile.mkdtemp(prefix="predis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self, timeout: float = 20.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = (self.root / "redis.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)  # a hung server could not act on the signal
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
