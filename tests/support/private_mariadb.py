"""A MariaDB server of the test's own, for tests that stop the database on purpose.

The shared server (PORTAL_TEST_DATABASE_URL, usually 127.0.0.1:3306) holds every other test's
databases, so an outage test must never touch it. This starts a throwaway `mariadbd` on a free
port with its data in a temporary folder: `stop()` is a real outage (SIGTERM, the process exits,
the port refuses connections) and `start()` brings the same data back on the same port, as a
restarted database server would. Sizes are kept small so it starts in a second or two.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import pymysql

from tests.support.processes import free_port, tail
from tests.support.required import unavailable

INSTALL_DB = "/usr/bin/mariadb-install-db"
MARIADBD = "/usr/sbin/mariadbd"
#: Small buffers: a test server holds a few hundred rows, and large ones slow start and stop.
SMALL = (
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M",
    "--key-buffer-size=1M",
    "--max-connections=200",
    "--skip-name-resolve",
    "--skip-log-bin",
)


def require_binaries() -> None:
    """Skip where MariaDB is not installed; in CI its absence fails the run instead."""
    missing = [path for path in (INSTALL_DB, MARIADBD) if not os.access(path, os.X_OK)]
    if missing:
        message = f"a private MariaDB server needs {', '.join(missing)}"
        unavailable(message, "database outage")


class PrivateMariaDB:
    """One `mariadbd` with its own datadir and port; use as a context manager so it always goes.

    The folder is made under the system temp dir with a short name: the server's Unix socket
    lives in it and socket paths are limited to about 100 characters.
    """

    def __init__(self, database: str = "portal", *, start_timeout: float = 60.0) -> None:
        require_binaries()
        self.database = database
        self.start_timeout = start_timeout
        self.root = Path(tempfile.mkdtemp(prefix="pmdb-"))
        self.datadir = self.root / "data"
        self.socket = self.root / "mysqld.sock"
        self.log_path = self.root / "mariadbd.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database (root without a password, TCP on 127.0.0.1)."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{self.database}?charset=utf8mb4"

    def __enter__(self) -> PrivateMariaDB:
        try:
            self._install()
            self.start()
            self._create_database()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _install(self) -> None:
        subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self._as_user(),
                *SMALL,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def _as_user(self) -> list[str]:
        """mariadbd refuses to run as root unless told to, and then it must be told explicitly."""
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self) -> None:
        """Start the server on its datadir and port, and return once it answers a query."""
        if self.running:
            return
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [
                    MARIADBD,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--port={self.port}",
                    f"--socket={self.socket}",
                    f"--pid-file={self.root / 'mariadbd.pid'}",
                    "--bind-address=127.0.0.1",
                    "--skip-networking=0",
                    *self._as_user(),
                    *SMALL,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self._wait_answering()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _wait_answering(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited while starting:\n{tail(self.log())}")
            try:
                connection = pymysql.connect(
                    host="127.0.0.1", port=self.port, user="root", connect_timeout=2
                )
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"mariadbd did not answer within {self.start_timeout}s:\n{tail(self.log())}"
                    ) from None
                time.sleep(0.1)
                continue
            connection.close()
            return

    def _create_database(self) -> None:
        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{self.database}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
        finally:
            connection.close()

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM) and wait for the process to go; killed if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop the server and delete its data; safe to call more than once."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
