#!/usr/bin/env python3
"""Seeds the benchmark database directly: custom services (and, with --connections, connections).

Rows match migrations/*/..._services/up.sql and ..._connections/up.sql column for column. Names are
varied and realistic ("Zoho Desk Tickets EU 0042") so that a search for a vendor fragment such as
"zoho" hits about 1% of the rows. On SQLite the FTS triggers fill services_fts / connections_fts.

  seed.py sqlite  <file>  --services N [--connections M --connection-services K --owner NAME]
  seed.py postgres <url>  ...   (streams CSV into `psql \\copy`)

Prints one line per table: how many rows were written, and how many match each search fragment.
"""

import argparse
import csv
import io
import json
import re
import subprocess
import sqlite3
import sys
import time

# 100 vendors: each is ~1% of the rows. The fragment searched for must occur in exactly one of them
# and in no product or environment word (checked below).
VENDORS = [
    "Zoho", "Salesforce", "HubSpot", "Slack", "Jira", "GitHub", "GitLab", "Okta", "Twilio", "Stripe",
    "Shopify", "Zendesk", "Freshdesk", "ServiceNow", "Datadog", "PagerDuty", "Asana", "Trello", "Notion", "Dropbox",
    "Box", "Mailchimp", "SendGrid", "Intercom", "Xero", "QuickBooks", "NetSuite", "Workday", "BambooHR", "Gusto",
    "DocuSign", "Adobe Sign", "Microsoft Graph", "Azure DevOps", "Google Drive", "Gmail", "Calendly", "Zoom", "Webex",
    "Monday", "ClickUp", "Airtable", "Smartsheet", "Confluence", "Bitbucket", "CircleCI", "Jenkins", "Sentry",
    "New Relic", "Splunk", "Elastic", "Cloudflare", "Fastly", "DigitalOcean", "Linode", "Heroku", "Netlify", "Vercel",
    "Auth0", "OneLogin", "Duo", "LastPass", "Keeper", "Bitwarden", "Atera", "NinjaOne", "ConnectWise", "Kaseya",
    "Datto", "SolarWinds", "Auvik", "Meraki", "Ubiquiti", "Fortinet", "Palo Alto", "SentinelOne", "CrowdStrike",
    "Sophos", "Malwarebytes", "Veeam", "Acronis", "Backblaze", "Wasabi", "Egnyte", "SharePoint", "Teams", "Outlook",
    "Exchange", "Pipedrive", "Freshsales", "Keap", "ActiveCampaign", "Klaviyo", "Marketo", "Pardot", "Segment",
    "Mixpanel", "Amplitude", "Hotjar", "Typeform",
]
PRODUCTS = [
    "Tickets", "Contacts", "Billing", "Invoices", "Assets", "Users", "Reports", "Alerts", "Webhooks", "Calendar",
    "Files", "Chat", "Projects", "Tasks", "Inventory", "Payroll", "Devices", "Backups", "Licenses", "Audit",
]
ENVIRONMENTS = ["Production", "Staging", "Sandbox", "EU", "US", "APAC", "UK", "Canada"]
PURPOSES = ["Sync", "Import", "Export", "Monitoring", "Onboarding", "Escalation", "Nightly", "Reporting"]

NOW = int(time.time())


def snake(text):
    out = []
    for ch in text.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "_":
            out.append("_")
    return "".join(out).strip("_")


def link_name(words, number):
    """A unique snake_case link name of at most 50 characters: the number survives truncation."""
    return f"{snake(words)[:42].rstrip('_')}_{number}"


def service_config(i, vendor):
    kind = i % 20
    host = snake(vendor).replace("_", "")
    if kind < 12:
        param_type = ["header", "query", "form"][i % 3]
        name = "X-Api-Key" if param_type == "header" else "api_key"
        return "api_key", {"type": "api_key", "param_type": param_type,
                           "params": [{"name": name, "display_name": "API Key"}]}
    if kind < 15:
        return "basic", {"type": "basic"}
    return "oauth2", {
        "type": "oauth2", "grant_type": "authorization_code", "client_id": f"client-{i}",
        "authorization_url": f"https://accounts.{host}.example.com/oauth/authorize",
        "token_url": f"https://accounts.{host}.example.com/oauth/token",
        "refresh_url": None, "revoke_url": None, "issuer": None, "client_auth": "basic", "scope_delimiter": " ",
        "token_placement": {"in": "header", "name": "Authorization", "prefix": "Bearer"},
        "extra_auth_params": [["access_type", "offline"]],
        "scopes": [{"scope": "read", "display_name": "Read"}, {"scope": "write", "display_name": "Write"}],
    }


def services(count):
    """Rows in column order of SERVICE_COLUMNS."""
    for i in range(count):
        vendor = VENDORS[i % len(VENDORS)]
        product = PRODUCTS[(i // len(VENDORS)) % len(PRODUCTS)]
        env = ENVIRONMENTS[(i // (len(VENDORS) * len(PRODUCTS))) % len(ENVIRONMENTS)]
        words = f"{vendor} {product} {env}"
        name = f"{words} {i:05d}"
        auth_type, config = service_config(i, vendor)
        host = snake(vendor).replace("_", "")
        at = NOW - (count - i) * 60
        yield (link_name(words, f"{i:05d}"), name, name.lower(), f"{product} API of {vendor} ({env}).", auth_type,
               f"https://api.{host}.example.com/v2", json.dumps(config), at, "admin", at + (i * 7919) % 86400, "admin")


SERVICE_COLUMNS = ("link_name", "name", "name_lower", "description", "auth_type", "api_base_url", "config",
                   "created_at", "created_by", "updated_at", "updated_by")
CONNECTION_COLUMNS = ("link_name", "name", "name_lower", "service_id", "owner_id", "scopes_requested", "status",
                      "created_at", "updated_at")


def connections(count, service_rows, owner_id):
    """`service_rows`: (id, name) of the services the connections spread over, evenly."""
    for i in range(count):
        sid, sname = service_rows[i % len(service_rows)]
        purpose = PURPOSES[(i // len(service_rows)) % len(PURPOSES)]
        words = f"{sname.rsplit(' ', 1)[0]} {purpose}"
        name = f"{words} {i:06d}"
        at = NOW - (count - i) * 6
        yield (link_name(words, f"{i:06d}"), name, name.lower(), sid, owner_id, "[]", "not_connected", at, at)


def check_fragments(fragments):
    for frag in fragments:
        if not re.fullmatch(r"[a-z0-9]{3,20}", frag):
            sys.exit(f"seed.py: a fragment is 3 to 20 lowercase letters or digits, not {frag!r}")
        owners = [v for v in VENDORS if frag in v.lower()]
        others = [w for w in PRODUCTS + ENVIRONMENTS + PURPOSES if frag in w.lower()]
        if len(owners) != 1 or others:
            sys.exit(f"seed.py: fragment {frag!r} must match exactly one vendor and nothing else ({owners}, {others})")


def pick_spread(rows, k):
    """The first k services: they cycle through every vendor, so each vendor keeps its ~1% share."""
    return rows[:k]


def seed_sqlite(path, args):
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA busy_timeout = 30000")
    scalar = lambda sql: db.execute(sql).fetchone()[0]
    with db:
        db.executemany(insert_sql("services", SERVICE_COLUMNS), services(args.services))
    report(scalar, "services", args.fragments)
    if args.connections:
        owner = db.execute("SELECT id FROM users WHERE username = ?", (args.owner,)).fetchone()
        if owner is None:
            sys.exit(f"seed.py: no user {args.owner!r}")
        rows = db.execute("SELECT id, name FROM services ORDER BY id").fetchall()
        with db:
            db.executemany(insert_sql("connections", CONNECTION_COLUMNS),
                           connections(args.connections, pick_spread(rows, args.connection_services), owner[0]))
        report(scalar, "connections", args.fragments)
    # What the app's periodic `PRAGMA optimize` (db::optimize) does as tables grow, done at once after
    # a bulk load — as VACUUM ANALYZE stands in for autovacuum on PostgreSQL.
    db.execute("PRAGMA analysis_limit = 1000")
    db.execute("ANALYZE")
    db.close()


def insert_sql(table, columns):
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def psql(url, sql, stdin=None):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", url, "-c", sql]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True).stdout


def copy_in(url, table, columns, rows):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    psql(url, f"\\copy {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", stdin=buf.getvalue())


def seed_postgres(url, args):
    scalar = lambda sql: psql(url, sql).strip()
    copy_in(url, "services", SERVICE_COLUMNS, services(args.services))
    if args.connections:
        owner = scalar(f"SELECT id FROM users WHERE username = '{args.owner}'")
        if not owner:
            sys.exit(f"seed.py: no user {args.owner!r}")
        lines = psql(url, "SELECT id, name FROM services ORDER BY id").splitlines()
        rows = [(int(i), n) for i, n in (line.split("|", 1) for line in lines)]
        copy_in(url, "connections", CONNECTION_COLUMNS,
                connections(args.connections, pick_spread(rows, args.connection_services), int(owner)))
    # What autovacuum does soon after a bulk load: statistics for the planner, and the visibility map
    # that lets index-only scans skip the table.
    psql(url, "VACUUM ANALYZE")
    report(scalar, "services", args.fragments)
    if args.connections:
        report(scalar, "connections", args.fragments)


def report(scalar, table, fragments):
    """`fragments` are checked to be [a-z0-9] words, so inlining them is safe."""
    total = int(scalar(f"SELECT count(*) FROM {table}"))
    hits = []
    for frag in fragments:
        n = int(scalar(f"SELECT count(*) FROM {table} WHERE name_lower LIKE '%{frag}%' OR link_name LIKE '%{frag}%'"))
        hits.append(f"{frag}={n} ({100.0 * n / max(total, 1):.2f}%)")
    print(f"seeded {table}: {total} rows; search hits: {', '.join(hits) or 'none asked'}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("backend", choices=["sqlite", "postgres"])
    p.add_argument("target", help="SQLite file path, or PostgreSQL URL")
    p.add_argument("--services", type=int, default=10_000)
    p.add_argument("--connections", type=int, default=0)
    p.add_argument("--connection-services", type=int, default=1_000)
    p.add_argument("--owner", default="admin")
    p.add_argument("--fragment", dest="fragments", action="append", default=[])
    args = p.parse_args()
    check_fragments(args.fragments)
    (seed_sqlite if args.backend == "sqlite" else seed_postgres)(args.target, args)


if __name__ == "__main__":
    main()
