"""One engine per process, tuned for the database behind it.

MariaDB closes idle connections after `wait_timeout`, so connections are checked before use and
recycled well before that; SQLite gets WAL and a busy timeout so several gunicorn workers can share
the file.

Every MariaDB connection has deadlines (:class:`Deadlines`): PyMySQL waits forever on a server
that stopped answering (a hung host, a full disk, a network partition), and one such wait per
request would hold every thread of every worker. With them a hung database costs a request at
most the read deadline twice (the pooled connection's ping, then one fresh connection) before it
fails with an error the portal answers with a 503. Waiting for a free pooled connection is bounded
by the connect deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MARIADB_POOL_RECYCLE_SECONDS = 280
SQLITE_BUSY_SECONDS = 30


@dataclass(frozen=True)
class Deadlines:
    """Seconds a MariaDB connection may take to connect, and per read and write on it."""

    connect: float = 5.0
    read: float = 10.0
    write: float = 10.0


#: What a readiness probe allows: it must answer within a second, hung database or not.
PROBE_DEADLINES = Deadlines(connect=1.0, read=1.0, write=1.0)


def make_engine(url: str, deadlines: Deadlines = Deadlines(), *, probe: bool = False) -> Engine:
    """The engine for `url`; `probe` makes one for health checks. On MariaDB it keeps one
    connection open, so a probe costs one round trip rather than a connection's handshake (a
    connection that failed is dropped, and the next probe connects afresh)."""
    parsed = make_url(url)
    pooling: dict[str, object] = {"poolclass": NullPool} if probe else {}
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
            **pooling,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() in {"mysql", "mariadb"} and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    pooling = {
        "pool_pre_ping": not probe,
        "pool_recycle": MARIADB_POOL_RECYCLE_SECONDS,
        "pool_size": 1 if probe else 10,
        "max_overflow": 1 if probe else 20,
        "pool_timeout": deadlines.connect,
    }
    return create_engine(parsed, connect_args=_driver_deadlines(parsed, deadlines), **pooling)


def _driver_deadlines(url: URL, deadlines: Deadlines) -> dict[str, float]:
    if url.get_driver_name() != "pymysql":
        return {}
    return {
        "connect_timeout": deadlines.connect,
        "read_timeout": deadlines.read,
        "write_timeout": deadlines.write,
    }


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


class Database:
    """The engine and a session factory; `transaction()` is the unit of work everywhere."""

    def __init__(self, url: str, deadlines: Deadlines = Deadlines()) -> None:
        self.url = url
        self.engine = make_engine(url, deadlines)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._probe: Engine | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error, so nothing half-writes."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """One `SELECT 1` on the probe's own connection, with its short deadlines; raises when the
        database does not answer. Apart from the pool, so a probe never waits for a free slot."""
        if self._probe is None:
            self._probe = make_engine(self.url, PROBE_DEADLINES, probe=True)
        with self._probe.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._probe is not None:
            self._probe.dispose()
