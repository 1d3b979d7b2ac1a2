#!/usr/bin/env python3
"""Seeds a database for bench/scale.sh: owners, services and up to millions of connections, fast.

  seed_scale.py sqlite   <file> --connections N [--services 10000] [--owners 100] [--fragment zoho]
  seed_scale.py postgres <url>  ...

The database must hold the app's schema and its first admin (start the app on it once). Adds
`--owners - 1` users who cannot sign in (so that with the admin there are `--owners` owners), the
services of seed.py (same names: the fragment `zoho` is one vendor of 100), and N connections made
by one INSERT … SELECT over a number series (a recursive CTE on SQLite, generate_series on
PostgreSQL) in one transaction.

Connection i belongs to owner (i / 100) mod owners. Its service: every fourth connection goes to one
of the first 25 services, the others spread over all services evenly (i mod services), so most
services have a few connections and 25 "popular" ones have at least 100 at 10,000 connections,
enough for a full page of a service's connections at every size. Names are "<service words>
<purpose> <i>"; the vendor (1 of 100), the owner and the purpose vary independently.

Bulk-loading through the per-row triggers that keep the counters (and, on SQLite, the FTS5 index)
would cost more than the insert itself; they are set aside for the one statement and their work is
done once after it, with the same result: FTS `rebuild`, counters recomputed with GROUP BY, the
names version bumped. The planner's statistics are refreshed at the end (ANALYZE / VACUUM ANALYZE),
as the app's maintenance and autovacuum would.

Prints the rows written, the search fragment's hits, and the seconds each step took.
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed  # noqa: E402  (the services, names and helpers of bench/run.sh's seeder)

POPULAR = 25


def connection_select(dialect, services, owners, first_service, first_owner, now, count):
    """The SELECT that makes connection i of `seq(i)`, in seed.CONNECTION_COLUMNS order."""
    number = "printf('%07d', i)" if dialect == "sqlite" else "lpad(i::text, 7, '0')"
    words = "substr(s.name, 1, length(s.name) - 6) || ' ' || p.word"
    service = f"(CASE WHEN i % 4 = 0 THEN (i / 4) % {POPULAR} ELSE i % {services} END)"
    return f"""
        SELECT rtrim(substr(lower(replace({words}, ' ', '_')), 1, 42), '_') || '_' || {number},
               {words} || ' ' || {number},
               lower({words} || ' ' || {number}),
               s.id, {first_owner} + (i / 100) % {owners}, '[]', 'not_connected',
               {now} - ({count} - i) * 3, {now} - ({count} - i) * 3
        FROM seq
        JOIN services s ON s.id = {first_service} + {service}
        JOIN bench_purposes p ON p.k = (i / 7) % {len(seed.PURPOSES)}
    """


PURPOSE_ROWS = list(enumerate(seed.PURPOSES))


def timed(label, timings, fn, *args):
    t = time.monotonic()
    out = fn(*args)
    timings.append(f"{label} {time.monotonic() - t:.1f}s")
    return out


def contiguous(ids, what):
    """The first id, after checking the ids are first..first+len-1 (the SELECT adds offsets to it)."""
    if not ids or ids[-1] - ids[0] + 1 != len(ids):
        sys.exit(f"seed_scale.py: the {what} ids are not contiguous; seed a fresh database")
    return ids[0]


def owner_rows(count, now):
    for k in range(1, count):
        yield (f"owner_{k:03d}", "!", "technician", False, 0, now, now)


USER_COLUMNS = ("username", "password_hash", "role", "disabled", "failed_logins", "created_at", "updated_at")


def seed_sqlite(path, args):
    timings = []
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB for the index builds
    now = seed.NOW

    def base():
        db.execute("BEGIN IMMEDIATE")
        db.executemany(seed.insert_sql("users", USER_COLUMNS), owner_rows(args.owners, now))
        db.executemany(seed.insert_sql("services", seed.SERVICE_COLUMNS), seed.services(args.services))
        db.execute("COMMIT")

    timed("owners+services", timings, base)
    owners = contiguous([r[0] for r in db.execute("SELECT id FROM users ORDER BY id")], "user")
    services = contiguous([r[0] for r in db.execute("SELECT id FROM services ORDER BY id")], "service")

    def load():
        db.execute("BEGIN IMMEDIATE")
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'connections' "
            "AND sql LIKE '%AFTER INSERT ON connections%'"
        ).fetchall()
        for name, _ in triggers:
            db.execute(f'DROP TRIGGER "{name}"')
        # An index built once from sorted rows is faster than one kept through a million inserts in
        # random order.
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'connections' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        db.execute("CREATE TEMP TABLE bench_purposes (k INTEGER PRIMARY KEY, word TEXT NOT NULL)")
        db.executemany("INSERT INTO bench_purposes VALUES (?, ?)", PURPOSE_ROWS)
        select = connection_select("sqlite", args.services, args.owners, services, owners, now, args.connections)
        db.execute(
            f"WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {args.connections}) "
            f"INSERT INTO connections ({', '.join(seed.CONNECTION_COLUMNS)}) {select}"
        )
        t = time.monotonic()
        for _, sql in indexes:
            db.execute(sql)
        timings.append(f"(of which indexes {time.monotonic() - t:.1f}s)")
        t = time.monotonic()
        db.execute("INSERT INTO connections_fts (connections_fts) VALUES ('rebuild')")
        timings.append(f"(of which FTS rebuild {time.monotonic() - t:.1f}s)")
        recount(db)
        for _, sql in triggers:
            db.execute(sql)
        db.execute("COMMIT")

    timed("connections", timings, load)
    # What the app's periodic `PRAGMA optimize` (db::optimize) does as tables grow, done at once.
    timed("analyze", timings, db.executescript, "PRAGMA analysis_limit = 1000; ANALYZE;")
    timed("checkpoint", timings, db.execute, "PRAGMA wal_checkpoint(TRUNCATE)")
    report(lambda sql: db.execute(sql).fetchone()[0], args)
    db.close()
    print("seed timings: " + ", ".join(timings), flush=True)


RECOUNT = [
    "DELETE FROM connection_counts",
    "INSERT INTO connection_counts (owner_id, n) SELECT owner_id, COUNT(*) FROM connections GROUP BY owner_id",
    "UPDATE services SET connection_count = "
    "(SELECT COUNT(*) FROM connections WHERE connections.service_id = services.id)",
    "UPDATE connection_names_version SET v = v + 1 WHERE id = 1",
]


def recount(db):
    """What the per-row triggers would have done: the counters, and the name index's version."""
    for sql in RECOUNT:
        db.execute(sql)


def seed_postgres(url, args):
    timings = []
    scalar = lambda sql: seed.psql(url, sql).strip()  # noqa: E731
    now = seed.NOW

    def base():
        seed.copy_in(url, "users", USER_COLUMNS, owner_rows(args.owners, now))
        seed.copy_in(url, "services", seed.SERVICE_COLUMNS, seed.services(args.services))

    timed("owners+services", timings, base)
    owners = contiguous([int(x) for x in scalar("SELECT id FROM users ORDER BY id").split()], "user")
    services = contiguous([int(x) for x in scalar("SELECT id FROM services ORDER BY id").split()], "service")
    select = connection_select("postgres", args.services, args.owners, services, owners, now, args.connections)
    purposes = ", ".join(f"({k}, '{w}')" for k, w in PURPOSE_ROWS)
    # session_replication_role = replica: no trigger fires (nor foreign-key check: the SELECT joins
    # the rows it refers to), for this transaction only.
    # The indexes that no constraint owns are built again after the insert, as on SQLite (a GIN
    # trigram index built at once is many times faster than one kept through the inserts).
    indexes = seed.psql(
        url,
        "SELECT indexname || chr(9) || indexdef FROM pg_indexes i WHERE tablename = 'connections' "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    ).splitlines()
    indexes = [line.split("\t", 1) for line in indexes if line]
    script = f"""
        BEGIN;
        SET LOCAL session_replication_role = replica;
        SET LOCAL maintenance_work_mem = '256MB';
        {''.join(f'DROP INDEX "{name}"; ' for name, _ in indexes)}
        CREATE TEMP TABLE bench_purposes (k INT PRIMARY KEY, word TEXT NOT NULL) ON COMMIT DROP;
        INSERT INTO bench_purposes VALUES {purposes};
        INSERT INTO connections ({', '.join(seed.CONNECTION_COLUMNS)})
        WITH seq AS (SELECT generate_series(0, {args.connections - 1}) AS i) {select};
        {''.join(f'{sql}; ' for _, sql in indexes)}
        {'; '.join(RECOUNT)};
        COMMIT;
    """
    timed("connections", timings, psql_script, url, script)
    timed("vacuum analyze", timings, seed.psql, url, "VACUUM ANALYZE")
    report(scalar, args)
    print("seed timings: " + ", ".join(timings), flush=True)


def psql_script(url, script):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-f", "-"]
    done = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"seed_scale.py: psql failed: {done.stderr.strip()}")


def report(scalar, args):
    seed.report(scalar, "services", args.fragments)
    seed.report(scalar, "connections", args.fragments)
    users = int(scalar("SELECT count(*) FROM users"))
    busiest = int(scalar("SELECT max(connection_count) FROM services"))
    quietest = int(scalar("SELECT min(connection_count) FROM services"))
    print(f"owners: {users}; connections per service: {quietest} to {busiest}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("backend", choices=["sqlite", "postgres"])
    p.add_argument("target", help="SQLite file path, or PostgreSQL URL")
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--services", type=int, default=10_000)
    p.add_argument("--owners", type=int, default=100)
    p.add_argument("--fragment", dest="fragments", action="append", default=[])
    args = p.parse_args()
    if args.services < POPULAR or args.owners < 1 or args.connections < 1:
        sys.exit(f"seed_scale.py: at least {POPULAR} services, one owner and one connection")
    seed.check_fragments(args.fragments)
    (seed_sqlite if args.backend == "sqlite" else seed_postgres)(args.target, args)


if __name__ == "__main__":
    main()
