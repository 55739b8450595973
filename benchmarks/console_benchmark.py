"""Admin console benchmark: the users table's queries at 1,000 and at 100,000 users, side by side.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/console_benchmark.py
    .venv/bin/python benchmarks/console_benchmark.py --users 100000 --repeat 30

A database `portal_console_bench_<random>` is created on the MariaDB server at 127.0.0.1:3306 (as
root, or `--server-url`), migrated, and dropped at the end whatever happens. For each size the
users table is emptied, filled by bulk insert (a believable mix of tiers, last logins, blocked and
deleted users), analysed, and then every query the console's users page runs is timed through
the console's own code (`apps.admin.manage.listing.find_users`: the page and its capped count),
best and median of `--repeat` runs. The last column is the ratio of the large size's median to
the small one's: near 1 means the page costs the same whatever the table holds.

For comparison it also times what a deep page would cost with OFFSET paging, which the console
does not use.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from apps.admin.manage.listing import UserFilter, encode_cursor, find_users  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import User  # noqa: E402

DEFAULT_SERVER_URL = "mysql+pymysql://root@127.0.0.1:3306/"
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "ba", "de", "fu")
FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
TIERS = (("stable", 70), ("ea", 20), ("devel", 8), ("admin", 2))
NOW = datetime(2026, 11, 1)
BATCH = 5000


def fake_users(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    tiers = [tier for tier, weight in TIERS for _ in range(weight)]
    rows = []
    for number in range(count):
        word = "".join(rng.choice(SYLLABLES) for _ in range(3))
        rows.append(
            {
                "subject": f"auth0|bench{number:07d}",
                "email": f"{word}.{number}@example.org",
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "picture": "",
                "tier": rng.choice(tiers),
                "roles": [],
                "blocked": rng.random() < 0.01,
                "created_at": NOW - timedelta(days=rng.randint(0, 900)),
                "updated_at": NOW,
                "last_login_at": (
                    None if rng.random() < 0.15 else NOW - timedelta(seconds=rng.randint(0, 3e7))
                ),
                "deleted_at": NOW if rng.random() < 0.01 else None,
            }
        )
    return rows


def fill(database: Database, count: int) -> None:
    rows = fake_users(count)
    with database.transaction() as db:
        db.execute(delete(User))
    for start in range(0, count, BATCH):
        with database.transaction() as db:
            db.execute(insert(User), rows[start : start + BATCH])
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE TABLE users"))


def deep_cursor(database: Database, chosen: UserFilter, fraction: float = 0.99) -> UserFilter:
    """The filter with the keyset cursor of the row `fraction` of the way down its ordering."""
    with database.transaction() as db:
        page = find_users(db, chosen)
        total = page.matches
        column = {"last_login": User.last_login_at, "email": User.email}[chosen.sort]
        order = (column.desc(), User.id.desc()) if chosen.order == "desc" else (column, User.id)
        query = select(User).where(User.deleted_at.is_(None)).order_by(*order)
        user = db.scalars(query.offset(int(total * fraction)).limit(1)).one()
        return UserFilter(**{**chosen.__dict__, "after": encode_cursor(user, chosen.sort)})


def offset_page(database: Database, chosen: UserFilter, fraction: float = 0.99) -> Callable:
    """OFFSET paging's deep page, for comparison only: the console does not page this way."""

    def run() -> None:
        with database.transaction() as db:
            count = db.scalar(text("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL"))
            db.scalars(
                select(User)
                .where(User.deleted_at.is_(None))
                .order_by(User.last_login_at.desc(), User.id.desc())
                .offset(int(count * fraction))
                .limit(chosen.per_page)
            ).all()

    return run


def timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    work()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples), statistics.median(samples)


def console_page(database: Database, chosen: UserFilter) -> Callable[[], object]:
    def run() -> object:
        with database.transaction() as db:
            page = find_users(db, chosen)
            return len(page.users), page.matches

    return run


def cases(database: Database) -> dict[str, Callable[[], object]]:
    by_login = UserFilter(sort="last_login", order="desc")
    return {
        "search by email prefix 'kalo'": console_page(database, UserFilter(q="kalo")),
        "search by name prefix 'Grace H'": console_page(database, UserFilter(q="Grace H")),
        "filter tier=ea, by email": console_page(database, UserFilter(tier="ea")),
        "sort by last login, page 1": console_page(database, by_login),
        "sort by last login, deep page (99%)": console_page(
            database, deep_cursor(database, by_login)
        ),
        "tier=ea, by last login, page 1": console_page(
            database, UserFilter(tier="ea", sort="last_login", order="desc")
        ),
        "(OFFSET paging, deep page, not used)": offset_page(database, by_login),
    }


def measure(database: Database, count: int, repeat: int) -> dict[str, tuple[float, float]]:
    started = time.perf_counter()
    fill(database, count)
    print(f"  {count:,} users inserted in {time.perf_counter() - started:.1f} s", flush=True)
    return {name: timed(work, repeat) for name, work in cases(database).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="the large size")
    parser.add_argument("--small", type=int, default=1_000, help="the small size")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per query")
    parser.add_argument("--server-url", default=DEFAULT_SERVER_URL, help="a MariaDB server")
    options = parser.parse_args()

    server = make_url(options.server_url)
    name = f"portal_console_bench_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database=None))
    with admin.begin() as connection:
        connection.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    url = server.set(database=name).render_as_string(hide_password=False)
    database = None
    try:
        upgrade(url)
        database = Database(url)
        with database.engine.connect() as connection:
            version = connection.execute(text("SELECT VERSION()")).scalar()
        print(f"MariaDB {version}, database {name}, median of {options.repeat} runs")
        small = measure(database, options.small, options.repeat)
        large = measure(database, options.users, options.repeat)
        header = f"{'query':40} {options.small:>10,} {options.users:>10,}  ratio"
        print("\n" + header + "\n" + "-" * len(header))
        for case, (_best, median) in small.items():
            big = large[case][1]
            print(f"{case:40} {median:8.2f}ms {big:8.2f}ms  {big / median:5.1f}x")
    finally:
        if database is not None:
            database.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
