#!/usr/bin/env python3
"""Writes bench/results-storm[-postgres].md from what bench/storm.sh collected in WORK:

  stats.json    the provider's counters (bench/storm_upstream.mjs /stats) after the storm
  steady.hist   wrk latency histograms ("microseconds count" lines) of the steady slices
  slices.tsv    one line per slice measured from the storm's first token request on:
                "number start_ms end_ms requests_per_s not_ok wrk_problems", its histogram in
                slice-<number>.hist
  steady.tsv    the same for the steady slices

Latencies are merged over slices before taking percentiles, so each p99 is that of every invoke in
the slices it covers; the median of the slices' own p99s is given beside it, as a stall of the
machine (wrk timeouts, counted) sways a merged p99 more. A slice is "during a pass" when it overlaps a burst of renewals (the provider's
view of a background pass: renewals less than 3 s apart).

  storm_report.py WORK RESULT   (the run's description in the environment, see bench/storm.sh)
"""

import json
import os
import sys


def histogram(path):
    merged = {}
    if os.path.exists(path):
        for line in open(path):
            value, count = map(int, line.split())
            merged[value] = merged.get(value, 0) + count
    return merged


def merge(*hists):
    out = {}
    for h in hists:
        for value, count in h.items():
            out[value] = out.get(value, 0) + count
    return out


def percentile(hist, p):
    total = sum(hist.values())
    if total == 0:
        return float("nan")
    rank, seen = p / 100 * total, 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value / 1000
    return max(hist) / 1000


def slices(work, name):
    rows = []
    path = os.path.join(work, f"{name}.tsv")
    for line in open(path) if os.path.exists(path) else []:
        number, start, end, rps, not_ok, problems = line.split()
        rows.append({"n": int(number), "start": int(start), "end": int(end), "rps": float(rps),
                     "not_ok": int(not_ok), "problems": problems,
                     "hist": histogram(os.path.join(work, f"{name}-{number}.hist"))})
    return rows


def median(values):
    values = sorted(values)
    return values[(len(values) - 1) // 2] if values else float("nan")


def row(label, rows, hist):
    """A line of the invokes table."""
    problems = ", ".join(f"{r['n']}: {r['problems'].replace('_', ' ')}" for r in rows if r["problems"] != "-")
    return (f"| {label} | {len(rows)} | {sum(r['rps'] for r in rows) / max(len(rows), 1):.0f} | "
            f"{percentile(hist, 50):.2f} | {percentile(hist, 99):.2f} | "
            f"{median([percentile(r['hist'], 99) for r in rows]):.2f} | {sum(r['not_ok'] for r in rows)} | "
            f"{problems or '—'} |")


def main():
    work, result = sys.argv[1], sys.argv[2]
    env = os.environ
    stats = json.load(open(os.path.join(work, "stats.json")))
    steady = slices(work, "steady")
    storm = slices(work, "slice")
    bursts = stats["bursts"]
    first = stats["first_request_ms"]
    steady_hist = merge(*(s["hist"] for s in steady))
    in_pass = [s for s in storm if any(s["start"] < b[1] and b[0] < s["end"] for b in bursts)]
    pass_hist = merge(*(s["hist"] for s in in_pass))
    storm_hist = merge(*(s["hist"] for s in storm))
    p99_steady, p99_pass = percentile(steady_hist, 99), percentile(pass_hist, 99)
    worst = max(in_pass, key=lambda s: percentile(s["hist"], 99)) if in_pass else None
    ratio = p99_pass / p99_steady
    ratio_median = median([percentile(r["hist"], 99) for r in in_pass]) / median(
        [percentile(r["hist"], 99) for r in steady])
    clients = stats["clients"]
    peak = max(c["peak"] for c in clients.values())
    lines = [
        f"# Refresh storm benchmark results: {env['BACKEND']}",
        "",
        f"`bench/storm.sh{' --postgres' if env['BACKEND'] == 'postgres' else ''}` on {env['DATE']}, {env['REVISION']}; "
        f"{env['CORES']} cores shared with other engineers' builds (load average before: {env['LOAD_BEFORE']}; "
        f"at the storm's start: {env['LOAD_STORM']}; after: {env['LOAD_AFTER']}). The app runs with its defaults: "
        "refresh margin 60 s (the background pass looks 120 s ahead), a pass every 30 s, 4 token requests in flight "
        f"per service. {int(env['COUNT']):,} connections over {env['SERVICES']} services, their access tokens "
        f"(issued an hour before) expiring evenly within the same {env['WINDOW']} s. The provider (Node "
        f"{env['NODE']}, `bench/storm_upstream.mjs`) answers a token request after {env['DELAY_MS']} ms and lets "
        f"the first service's client make {env['LIMIT']} a second (then 429 with `Retry-After: 1`). Invokes: wrk "
        f"-t2 -c8 on {env['INVOKED']} (one connection per service, tokens from the middle of the window), in "
        f"{env['SLICE']} s slices: {len(steady)} before the storm (steady) and from the storm's first token "
        "request until its last renewal; all over loopback.",
        "",
        "## The storm",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        f"| duration: first token request to last renewal | {(stats['last_refresh_ms'] - first) / 1000:.1f} s | — |",
        f"| tokens renewed | {stats['refreshed']:,} of {int(env['COUNT']):,} | all |",
        f"| renewed after their access token had expired | {stats['refreshed_late']} | 0 |",
        f"| least time a token had left when renewed | {stats['min_headroom_ms'] / 1000:.1f} s | > 0 |",
        f"| connections not renewed, or not connected, afterwards (database) | {env['NOT_RENEWED']} | 0 |",
        f"| refresh tokens presented twice | {stats['reused']} | 0 |",
        f"| token requests answered 429 | {stats['throttled']} | — |",
        "",
        "Bursts of renewals (the background passes, as the provider saw them; a pass every 30 s takes every",
        "token that entered the 120 s lookahead since the last one):",
        "",
        "| burst | starts at | renewals | lasts | renewals/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for i, (start, end, n) in enumerate(bursts, 1):
        lasted = (end - start) / 1000
        rate = f"{n / lasted:.0f}" if lasted >= 1 else "—"
        lines.append(f"| {i} | {(start - first) / 1000:.1f} s | {n:,} | {lasted:.1f} s | {rate} |")
    lines += [
        "",
        "| service | token requests | renewed | 429s | requests 0.1–1 s after a 429 | peak in flight |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in range(int(env["SERVICES"])):
        c = clients.get(f"storm-client-{k}", {})
        note = f" (limited to {env['LIMIT']}/s)" if k == 0 else ""
        lines.append(f"| storm_service_{k}{note} | {c.get('requests', 0):,} | {c.get('refreshed', 0):,} | "
                     f"{c.get('throttled', 0)} | {c.get('early', 0)} | {c.get('peak', 0)} |")
    lines += [
        "",
        "## Invokes",
        "",
        "| slices | count | requests/s (mean) | p50 ms | p99 ms | median of the slices' p99 ms | answers not 200 | wrk problems (slice: what) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        row("steady", steady, steady_hist),
        row("during a pass", in_pass, pass_hist),
        row("the whole storm", storm, storm_hist),
    ]
    if worst:
        lines += ["", f"The worst slice during a pass (number {worst['n']}, from "
                      f"{(worst['start'] - first) / 1000:.1f} s) had p99 {percentile(worst['hist'], 99):.2f} ms."]
    yes = lambda ok: "yes" if ok else "NO"
    lines += [
        "",
        "## Targets",
        "",
        "| check | value | target | met |",
        "|---|---:|---:|---|",
        f"| invoke p99 during the passes / steady p99 | {ratio:.2f} | ≤ 2 | {yes(ratio <= 2)} |",
        f"| the same, medians of the slices' p99 | {ratio_median:.2f} | ≤ 2 | {yes(ratio_median <= 2)} |",
        f"| invokes the upstream refused for an expired token | {stats['ping_expired']} | 0 | {yes(stats['ping_expired'] == 0)} |",
        f"| renewals after expiry | {stats['refreshed_late']} | 0 | {yes(stats['refreshed_late'] == 0)} |",
        f"| peak token requests in flight, any service | {peak} | ≤ 4 | {yes(peak <= 4)} |",
        f"| requests 0.1–1 s after a 429 (pause not honoured) | {sum(c['early'] for c in clients.values())} | 0 | "
        f"{yes(sum(c['early'] for c in clients.values()) == 0)} |",
    ]
    open(result, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
