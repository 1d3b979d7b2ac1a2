#!/usr/bin/env python3
"""Seeds the refresh-storm benchmark (bench/storm.sh): COUNT OAuth2 connections, connected, spread
round-robin over the given services, whose access tokens all expire within WINDOW seconds from
WINDOW_START — as on the day a provider issued them all together, an hour before.

The tokens are sealed as the app seals them (src/crypto.rs: version 1, key id, 96-bit nonce,
AES-256-GCM over the plaintext with the associated data "connections/v1", table, column and row id),
under the key the app runs with, and name their own expiry for bench/storm_upstream.mjs:
access "at.<expiry ms>.<random>", refresh "rt.<expiry ms>.<random>".

  storm_seed.py sqlite   <file> --key KID:BASE64 --services a,b,c --count N --window-start UNIX \
                         --window SECS --origin http://127.0.0.1:PORT [--prefix storm] [--owner admin]
  storm_seed.py postgres <url>  ...   (through psql)

Prints how many connections it wrote and the first and last expiry.
"""

import argparse
import base64
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AAD_PREFIX = b"connections/v1\0"
COLUMNS = ("link_name", "name", "name_lower", "service_id", "owner_id", "scopes_requested", "status",
           "connected_at", "expires_at", "token_version", "entrusted_origins", "created_at", "updated_at")


def keyring(spec):
    kid, _, key = spec.partition(":")
    raw = base64.b64decode(key + "=" * (-len(key) % 4))
    if not kid or len(raw) != 32:
        sys.exit("storm_seed.py: --key is KID:BASE64 of 32 bytes")
    return kid.encode(), AESGCM(raw)


def seal(key, column, row_id, plaintext):
    kid, cipher = key
    aad = AAD_PREFIX + b"connections\0" + column.encode() + b"\0" + str(row_id).encode()
    nonce = os.urandom(12)
    return bytes([1, len(kid)]) + kid + nonce + cipher.encrypt(nonce, plaintext.encode(), aad)


def rows(args, service_ids, owner_id):
    """Connection rows (without tokens) in COLUMNS order, and each one's expiry."""
    now = int(time.time())
    origin = args.origin
    entrusted = json.dumps({"api": origin, "token": origin, "refresh": origin}, separators=(",", ":"))
    for i in range(args.count):
        sid = service_ids[i % len(service_ids)]
        expires = args.window_start + (i * args.window) // args.count
        name = f"Storm {i:05d}"
        yield (f"{args.prefix}_{i}", name, name.lower(), sid, owner_id, "[]", "connected",
               expires - 3600, expires, 1, entrusted, now, now), expires


def tokens(expires):
    rand = base64.urlsafe_b64encode(os.urandom(12)).decode().rstrip("=")
    return f"at.{expires * 1000}.{rand}", f"rt.{expires * 1000}.{rand}r"


def seed_sqlite(args, key):
    db = sqlite3.connect(args.target, timeout=30)
    db.execute("PRAGMA busy_timeout = 30000")
    owner = db.execute("SELECT id FROM users WHERE username = ?", (args.owner,)).fetchone()
    links = args.services.split(",")
    ids = [db.execute("SELECT id FROM services WHERE link_name = ?", (s,)).fetchone() for s in links]
    if owner is None or None in ids:
        sys.exit(f"storm_seed.py: no user {args.owner!r} or no service among {links}")
    made = list(rows(args, [i[0] for i in ids], owner[0]))
    with db:
        db.executemany(f"INSERT INTO connections ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       [r for r, _ in made])
        by_link = dict(db.execute("SELECT link_name, id FROM connections").fetchall())
        sealed = []
        for r, expires in made:
            row_id = by_link[r[0]]
            access, refresh = tokens(expires)
            sealed.append((seal(key, "access_token", row_id, access), seal(key, "refresh_token", row_id, refresh),
                           row_id))
        db.executemany("UPDATE connections SET access_token = ?, refresh_token = ? WHERE id = ?", sealed)
    db.execute("ANALYZE")
    db.close()
    return made


def psql(url, sql, stdin=None):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", url, "-c", sql]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True).stdout


def copy_in(url, table, columns, data):
    buf = io.StringIO()
    csv.writer(buf).writerows(data)
    psql(url, f"\\copy {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", stdin=buf.getvalue())


def seed_postgres(args, key):
    url = args.target
    owner = psql(url, f"SELECT id FROM users WHERE username = '{args.owner}'").strip()
    links = args.services.split(",")
    ids = [psql(url, f"SELECT id FROM services WHERE link_name = '{s}'").strip() for s in links]
    if not owner or "" in ids:
        sys.exit(f"storm_seed.py: no user {args.owner!r} or no service among {links}")
    made = list(rows(args, [int(i) for i in ids], int(owner)))
    copy_in(url, "connections", COLUMNS, [r for r, _ in made])
    by_link = dict(line.split("|") for line in psql(url, "SELECT link_name, id FROM connections").splitlines())
    sealed = []
    for r, expires in made:
        row_id = int(by_link[r[0]])
        access, refresh = tokens(expires)
        sealed.append((row_id, "\\x" + seal(key, "access_token", row_id, access).hex(),
                       "\\x" + seal(key, "refresh_token", row_id, refresh).hex()))
    psql(url, "CREATE TABLE storm_seed_tokens (id BIGINT PRIMARY KEY, access BYTEA, refresh BYTEA)")
    copy_in(url, "storm_seed_tokens", ("id", "access", "refresh"), sealed)
    psql(url, "UPDATE connections c SET access_token = t.access, refresh_token = t.refresh "
              "FROM storm_seed_tokens t WHERE c.id = t.id")
    psql(url, "DROP TABLE storm_seed_tokens")
    psql(url, "VACUUM ANALYZE connections")
    return made


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("backend", choices=["sqlite", "postgres"])
    p.add_argument("target", help="SQLite file path, or PostgreSQL URL")
    p.add_argument("--key", required=True)
    p.add_argument("--services", required=True, help="link names, comma-separated")
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--window-start", type=int, required=True)
    p.add_argument("--window", type=int, default=120)
    p.add_argument("--origin", required=True)
    p.add_argument("--prefix", default="storm")
    p.add_argument("--owner", default="admin")
    args = p.parse_args()
    key = keyring(args.key)
    made = (seed_sqlite if args.backend == "sqlite" else seed_postgres)(args, key)
    print(f"seeded {len(made)} connections over {len(args.services.split(','))} services; "
          f"tokens expire from {made[0][1]} to {made[-1][1]}", flush=True)


if __name__ == "__main__":
    main()
