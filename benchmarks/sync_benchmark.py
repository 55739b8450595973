"""User sync benchmark: N users from the development identity provider into the portal database.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/sync_benchmark.py --users 100000
    .venv/bin/python benchmarks/sync_benchmark.py --users 100000 \\
        --database-url mysql+pymysql://root@127.0.0.1:3306/<empty database>
    .venv/bin/python benchmarks/sync_benchmark.py --users 20000 --database-url sqlite:///bench.db

Two sizes, N/10 and N, are measured side by side in one run, so the ratios printed at the end
compare like with like on whatever machine runs it. For each size: a provider store with that many
users is served by its own child process (a threaded werkzeug server, so it shares neither the
sync's GIL nor its memory); the portal database is made fresh and migrated; then a full sync, an
incremental sync after 500 users changed at the provider, and a second full sync (nothing changed)
each run in a fresh child process, which reports its wall time and its own peak RSS
(``ru_maxrss``).

Without ``--database-url`` a database ``portal_bench_<random>`` is created on the MariaDB server
at 127.0.0.1:3306 (as root) and dropped at the end, whatever happens. A given database (MariaDB
or SQLite) must be empty: its tables are dropped between sizes and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import platform
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# Only the standard library at module level: every child imports this module again, and
# the sync child's peak RSS should hold what the sync needs, not the provider or the parent.

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER_URL = "mysql+pymysql://root@127.0.0.1:3306/"
MANAGEMENT_CLIENT = ("sync-benchmark", "sync-benchmark-secret-0123456789abcdefghijklmnop")
CHANGED_USERS = 500
LONG_AGO = datetime(2025, 1, 1)
PROVIDER_START_SECONDS = 60.0
STOP_SECONDS = 10.0
MIB = 1024 * 1024

# Children start from a fresh, small process. Not "spawn": a spawned child is fork+exec of this
# process, and Linux carries the pre-exec RSS into the child's ru_maxrss, so every child would
# report at least this parent's RSS. A forkserver's forked children start from its small state.
CHILDREN = multiprocessing.get_context(
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)


class BenchmarkError(RuntimeError):
    pass


# -- the provider's users ------------------------------------------------------------------------


def subject(number: int) -> str:
    return f"auth0|bench{number:07d}"


def roles_of(number: int) -> list[str]:
    """10% ea, 2% devel, 0.2% admin (disjoint); 4% 'reviewer' (not a tier), half of them ea."""
    roles = []
    if number % 500 == 1:
        roles.append("admin")
    elif number % 50 == 2:
        roles.append("devel")
    elif number % 10 == 3:
        roles.append("ea")
    if number % 25 == 3:
        roles.append("reviewer")
    return roles


def user_rows(count: int) -> Iterator[dict[str, Any]]:
    for number in range(count):
        created = LONG_AGO + timedelta(seconds=number)
        yield {
            "user_id": subject(number),
            "email": f"user{number}@bench.example.org",
            "name": f"User {number}",
            "roles": roles_of(number),
            "created_at": created,
            "updated_at": created + timedelta(days=30),
        }


def build_store(path: Path, users: int) -> tuple[int, float]:
    """A provider database with `users` imported users (plus the 4 demo users); (total, seconds)."""
    from devidp import DevIdpStore

    started = time.perf_counter()
    store = DevIdpStore(f"sqlite:///{path}")
    try:
        store.seed_demo_users()
        store.import_users(user_rows(users))
        total = store.count_users()
    finally:
        store.engine.dispose()
    return total, time.perf_counter() - started


def change_users(path: Path, users: int, count: int) -> list[str]:
    """Rename `count` users spread over the store, as someone editing them in Auth0 would."""
    from devidp import DevIdpStore

    store = DevIdpStore(f"sqlite:///{path}")
    try:
        numbers = sorted(random.Random(users).sample(range(users), min(count, users)))
        for number in numbers:
            store.update_user(subject(number), name=f"User {number} (renamed)")
    finally:
        store.engine.dispose()
    return [subject(number) for number in numbers]


# -- child processes -----------------------------------------------------------------------------


def serve_provider(database: str, connection: Any) -> None:
    """Child process: the provider on 127.0.0.1 (any free port), Management API enabled."""
    import logging

    from werkzeug.serving import make_server

    from devidp import DevIdpSettings, create_dev_idp

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, lambda _environ, _start: [], threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    server.app = create_dev_idp(
        DevIdpSettings(
            issuer=issuer,
            database_url=f"sqlite:///{database}",
            secret_key="sync-benchmark-secret-0123456789abcdefghijklmnop",
            client_id="sync-benchmark-portal",
            client_secret="sync-benchmark-portal-secret",
            redirect_uris=(),
            post_logout_redirect_uris=(),
            management_client_id=MANAGEMENT_CLIENT[0],
            management_client_secret=MANAGEMENT_CLIENT[1],
        )
    )
    connection.send(issuer)
    connection.close()
    server.serve_forever()


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def run_sync(
    mode: str,
    database_url: str,
    issuer: str,
    batch_size: int,
    poll_seconds: float,
    profile_lines: int,
    connection: Any,
) -> None:
    """Child process: one sync (`full` or `incremental`); sends back time, peak RSS and counts."""
    try:
        from db.engine import Database
        from directory.management import ManagementClient
        from directory.sync import UserSync

        database = Database(database_url)
        client = ManagementClient(
            issuer=issuer, client_id=MANAGEMENT_CLIENT[0], client_secret=MANAGEMENT_CLIENT[1]
        )
        sync = UserSync(database, client, batch_size=batch_size, export_poll_seconds=poll_seconds)
        work = sync.full if mode == "full" else sync.incremental
        rss_before = peak_rss_bytes()
        profiler = None
        if profile_lines:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        run = work()
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        result = {
            "seconds": seconds,
            "rss_before": rss_before,
            "rss_peak": peak_rss_bytes(),
            "status": run.status,
            "error": run.error,
            "created": run.created,
            "updated": run.updated,
            "deleted": run.deleted,
            "unchanged": run.unchanged,
            "failed": run.failed,
        }
        if profiler is not None:
            import pstats

            report = io.StringIO()
            stats = pstats.Stats(profiler, stream=report).strip_dirs()
            stats.sort_stats("tottime").print_stats(profile_lines)
            stats.sort_stats("cumulative").print_stats(profile_lines)
            result["profile"] = report.getvalue()
        client.close()
        database.dispose()
    except BaseException:  # report any failure to the parent rather than dying silently
        connection.send({"failure": traceback.format_exc()})
        raise
    connection.send(result)


def stop(process: multiprocessing.process.BaseProcess) -> None:
    """Terminate, then kill, a child of ours; bounded."""
    if process.is_alive():
        process.terminate()
        process.join(STOP_SECONDS)
    if process.is_alive():
        process.kill()
        process.join(STOP_SECONDS)


def in_child(target: Callable[..., None], *args: Any, timeout: float) -> dict[str, Any]:
    """Run `target(*args, connection)` in a fresh child process; its answer, within `timeout`."""
    receiver, sender = CHILDREN.Pipe(duplex=False)
    process = CHILDREN.Process(target=target, args=(*args, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise BenchmarkError(f"{target.__name__}{args[:1]} gave no answer within {timeout:g} s")
        try:
            answer = receiver.recv()
        except EOFError:
            raise BenchmarkError(
                f"{target.__name__}{args[:1]} died (exit code {process.exitcode})"
            ) from None
        if "failure" in answer:
            raise BenchmarkError(f"{target.__name__}{args[:1]} failed:\n{answer['failure']}")
        process.join(STOP_SECONDS)
        return answer
    finally:
        stop(process)
        receiver.close()


@contextlib.contextmanager
def provider(database: Path) -> Iterator[str]:
    """The provider serving `database` in a child process; yields its issuer once it answers."""
    receiver, sender = CHILDREN.Pipe(duplex=False)
    process = CHILDREN.Process(target=serve_provider, args=(str(database), sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(PROVIDER_START_SECONDS):
            raise BenchmarkError(f"the provider did not start within {PROVIDER_START_SECONDS} s")
        try:
            issuer = receiver.recv()
        except EOFError:
            raise BenchmarkError(
                f"the provider died on start (exit code {process.exitcode})"
            ) from None
        deadline = time.monotonic() + PROVIDER_START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(
                    f"{issuer}/.well-known/openid-configuration", timeout=5
                ) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline or not process.is_alive():
                raise BenchmarkError(f"the provider at {issuer} does not answer")
            time.sleep(0.1)
        yield issuer
    finally:
        stop(process)
        receiver.close()


# -- the portal database -------------------------------------------------------------------------


@contextlib.contextmanager
def benchmark_database(given: str | None) -> Iterator[str]:
    """The database to sync into: a new MariaDB database by default (dropped at the end), or an
    empty one given by URL (its tables dropped at the end)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if given is None:
        import secrets

        server = make_url(DEFAULT_SERVER_URL)
        name = f"portal_bench_{secrets.token_hex(4)}"
        admin = create_engine(server)
        try:
            with admin.begin() as connection:
                connection.execute(
                    text(
                        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
            try:
                yield server.set(database=name).render_as_string(hide_password=False)
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        finally:
            admin.dispose()
        return
    url = make_url(given)
    created_file = None
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BenchmarkError("a SQLite database for the benchmark must be a file")
        path = Path(url.database)
        if not path.exists():
            created_file = path
    if table_names(given):
        raise BenchmarkError(f"{url.render_as_string()} is not empty; give an empty database")
    try:
        yield given
    finally:
        drop_tables(given)
        if created_file is not None:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{created_file}{suffix}").unlink()


def table_names(url: str) -> list[str]:
    from sqlalchemy import inspect

    from db.engine import make_engine

    engine = make_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def drop_tables(url: str) -> None:
    from sqlalchemy import MetaData

    from db.engine import make_engine

    engine = make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


def fresh_schema(url: str) -> None:
    """Every table dropped, then the migrations applied from scratch."""
    import logging

    from db.migrate import upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    drop_tables(url)
    upgrade(url)


def backend_version(url: str) -> str:
    from sqlalchemy import text

    from db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                version = connection.execute(text("select sqlite_version()")).scalar_one()
                return f"SQLite {version}"
            return f"{engine.dialect.name} {connection.execute(text('select version()')).scalar()}"
    finally:
        engine.dispose()


# -- the measurements ----------------------------------------------------------------------------


@dataclass
class SizeResult:
    users: int
    full: dict[str, Any] = field(default_factory=dict)
    incremental: dict[str, Any] = field(default_factory=dict)
    again: dict[str, Any] = field(default_factory=dict)
    changed: int = 0


def measure(
    size: int,
    store: Path,
    database_url: str,
    args: argparse.Namespace,
    profile: bool,
) -> SizeResult:
    result = SizeResult(users=size)
    settings = (args.batch_size, args.export_poll_seconds)
    with provider(store) as issuer:
        fresh_schema(database_url)
        log(f"  {size:,} users: full sync")
        result.full = in_child(
            run_sync,
            "full",
            database_url,
            issuer,
            *settings,
            args.profile_lines if profile else 0,
            timeout=args.child_timeout,
        )
        check(result.full, f"full sync of {size:,}")
        log(f"  {size:,} users: changing {CHANGED_USERS} users at the provider")
        result.changed = len(change_users(store, size, CHANGED_USERS))
        log(f"  {size:,} users: incremental sync")
        result.incremental = in_child(
            run_sync,
            "incremental",
            database_url,
            issuer,
            *settings,
            0,
            timeout=args.child_timeout,
        )
        check(result.incremental, f"incremental sync of {size:,}")
        log(f"  {size:,} users: second full sync")
        result.again = in_child(
            run_sync, "full", database_url, issuer, *settings, 0, timeout=args.child_timeout
        )
        check(result.again, f"second full sync of {size:,}")
    return result


def check(outcome: dict[str, Any], what: str) -> None:
    if outcome["status"] != "succeeded":
        raise BenchmarkError(f"{what} ended {outcome['status']}: {outcome['error']}")


def synced(outcome: dict[str, Any]) -> int:
    return outcome["created"] + outcome["updated"] + outcome["unchanged"]


def counts(outcome: dict[str, Any]) -> str:
    return ", ".join(
        f"{outcome[key]:,} {key}"
        for key in ("created", "updated", "deleted", "unchanged", "failed")
    )


def mib(value: float) -> float:
    return value / MIB


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_facts(database_url: str) -> list[str]:
    import sqlalchemy

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        total_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {total_kib / 1024 / 1024:.1f} GiB RAM"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"machine:  {os.cpu_count()} cores ({usable} usable){memory}"
        + (f", {model}" if model else ""),
        f"system:   {platform.platform()}",
        f"python:   {platform.python_implementation()} {platform.python_version()}, "
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"database: {backend_version(database_url)}",
    ]


def report(
    results: list[SizeResult],
    facts: list[str],
    stores: dict[int, tuple[int, float]],
    args: argparse.Namespace,
    backend: str,
) -> None:
    print(
        f"User sync benchmark: development identity provider -> {backend}; batch size "
        f"{args.batch_size}, export poll {args.export_poll_seconds:g} s"
    )
    print(f"command:  {os.path.relpath(sys.executable)} {' '.join(shown_arguments())}")
    for line in facts:
        print(line)
    print(
        "provider: "
        + "; ".join(
            f"{total:,} users (built in {seconds:.1f} s)" for total, seconds in stores.values()
        )
        + ", each served by its own child process"
    )
    print()
    header = (
        f"{'users':>9} | {'full s':>7} | {'users/s':>7} | {'peak RSS MiB':>12} | "
        f"{'incr s':>6} | {'changed':>7} | {'incr RSS MiB':>12} | {'2nd full s':>10} | "
        f"{'users/s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        full, incr, again = r.full, r.incremental, r.again
        print(
            f"{synced(full):>9,} | {full['seconds']:>7.2f} | "
            f"{synced(full) / full['seconds']:>7,.0f} | {mib(full['rss_peak']):>12.1f} | "
            f"{incr['seconds']:>6.2f} | {incr['updated']:>7,} | "
            f"{mib(incr['rss_peak']):>12.1f} | {again['seconds']:>10.2f} | "
            f"{synced(again) / again['seconds']:>7,.0f}"
        )
    print()
    for r in results:
        print(f"{r.users:,} users (+4 demo users), run counts:")
        print(f"  full:        {counts(r.full)}")
        print(f"  incremental: {counts(r.incremental)} ({r.changed} renamed at the provider)")
        print(f"  second full: {counts(r.again)}")
        print(
            f"  child RSS when the sync started (imports, engine, client): "
            f"{mib(r.full['rss_before']):.1f} MiB"
        )
    small, large = results[0], results[-1]
    speed = {r.users: synced(r.full) / r.full["seconds"] for r in results}
    growth = {r.users: r.full["rss_peak"] - r.full["rss_before"] for r in results}
    print()
    print(f"ratios, {large.users:,} vs {small.users:,} users (same run):")
    print(
        f"  full-sync users/s:            {speed[large.users] / speed[small.users]:.2f}x "
        f"({speed[large.users]:,.0f} vs {speed[small.users]:,.0f}; 1.00 = linear time)"
    )
    print(
        f"  full-sync peak RSS:           "
        f"{large.full['rss_peak'] / small.full['rss_peak']:.2f}x "
        f"({mib(large.full['rss_peak']):.1f} vs {mib(small.full['rss_peak']):.1f} MiB; "
        "1.00 = flat)"
    )
    print(
        f"  full-sync RSS growth:         {mib(growth[large.users]):.1f} vs "
        f"{mib(growth[small.users]):.1f} MiB above the child's RSS when the sync started"
    )
    again = {r.users: synced(r.again) / r.again["seconds"] for r in results}
    print(
        f"  second-full-sync users/s:     {again[large.users] / again[small.users]:.2f}x "
        f"({again[large.users]:,.0f} vs {again[small.users]:,.0f})"
    )
    print(
        f"at {large.users:,} users: incremental ({large.incremental['updated']} changed) took "
        f"{large.incremental['seconds'] / large.full['seconds']:.3f}x the full sync's time "
        f"({large.incremental['seconds']:.2f} s vs {large.full['seconds']:.2f} s)"
    )
    aim = "met" if large.full["seconds"] < 60 and large.users >= 100_000 else "n/a"
    if large.users >= 100_000 and large.full["seconds"] >= 60:
        aim = "MISSED"
    print(f"aim (full sync of 100k users under 60 s): {aim}")
    if large.full.get("profile"):
        print()
        print(f"cProfile of the full sync of {large.users:,} users (sync child only):")
        print(large.full["profile"])


def shown_arguments() -> list[str]:
    """The command line as run, with any password in a database URL masked."""
    from sqlalchemy.engine import make_url

    shown = []
    for argument in sys.argv:
        name, equals, value = argument.partition("=")
        url = value if equals else argument
        if "://" in url:
            with contextlib.suppress(Exception):
                url = make_url(url).render_as_string(hide_password=True)
        shown.append(f"{name}={url}" if equals else url)
    return shown


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=100_000, help="N (default 100000)")
    parser.add_argument(
        "--database-url",
        help="an EMPTY database to sync into (MariaDB or SQLite); default: a new "
        f"portal_bench_<random> on {DEFAULT_SERVER_URL}, dropped at the end",
    )
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--export-poll-seconds", type=float, default=0.2)
    parser.add_argument(
        "--child-timeout", type=float, default=600, help="limit for each sync (seconds)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the full sync of N users under cProfile (slower) and print the hot spots",
    )
    parser.add_argument("--profile-lines", type=int, default=25)
    args = parser.parse_args(argv)
    if args.users < 10 * CHANGED_USERS:
        parser.error(f"--users must be at least {10 * CHANGED_USERS}")
    if args.batch_size < 1 or args.export_poll_seconds <= 0 or args.child_timeout <= 0:
        parser.error("--batch-size, --export-poll-seconds and --child-timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup below runs
    sizes = [args.users // 10, args.users]
    workdir = Path(tempfile.mkdtemp(prefix="sync-benchmark-"))
    # The provider writes export files under tempfile.gettempdir(): keep them in workdir.
    previous_tmpdir = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(workdir)
    try:
        with benchmark_database(args.database_url) as database_url:
            from sqlalchemy.engine import make_url

            stores: dict[int, tuple[int, float]] = {}
            paths = {size: workdir / f"idp-{size}.sqlite3" for size in sizes}
            for size in sizes:
                log(f"building a provider store with {size:,} users")
                stores[size] = build_store(paths[size], size)
            backend = make_url(database_url).get_backend_name()
            facts = machine_facts(database_url)
            results = []
            for size in sizes:
                log(f"measuring {size:,} users")
                profile = args.profile and size == sizes[-1]
                results.append(measure(size, paths[size], database_url, args, profile))
        report(results, facts, stores, args, backend)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        if previous_tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous_tmpdir
        for child in CHILDREN.active_children():
            stop(child)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
