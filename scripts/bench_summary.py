#!/usr/bin/env python3
"""The end of `make bench`: every figure of this run beside its peer or
bound, with the ratio and the target, read from the outputs the run saved
in target/bench/. Prints one table; a figure whose output is missing says so."""

import glob
import os
import re
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "target/bench"


def read(name):
    path = os.path.join(out, name)
    return open(path).read() if os.path.exists(path) else ""


def num(pattern, text, group=1):
    m = re.search(pattern, text)
    return float(m.group(group)) if m else None


def fanout_rows(text):
    """rate -> (sent/s, recv/s, p50, p99)"""
    rows = {}
    for m in re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", text, re.M):
        rate, sent, recv, p50, p99 = int(m[1]), float(m[2]), float(m[3]), float(m[4]), float(m[5])
        rows[rate] = (sent, recv, p50, p99)
    return rows


def fmt(v, unit="", digits=1):
    return "—" if v is None else f"{v:,.{digits}f}{unit}"


lines = []


def row(figure, ours, peer, ratio, target, met):
    lines.append((figure, ours, peer, ratio, target, met))


# Redis bound
bound = num(r"([\d.]+) requests per second", read("redis.txt"))

# fan-out: kilat against Bun, per rate, both rounds
for topology, title in (("one", "one node"), ("two", "two nodes via Redis")):
    runs = {t: [fanout_rows(read(f"fanout-{topology}-{t}-{r}.txt")) for r in (1, 2)] for t in ("kilat", "bun")}
    rates = sorted(set().union(*[set(rows) for rs in runs.values() for rows in rs]))
    for rate in rates:
        # each run's p99 at this rate, or None where that run had saturated before it
        k = [rs.get(rate) for rs in runs["kilat"]]
        b = [rs.get(rate) for rs in runs["bun"]]
        show = lambda xs: " / ".join("sat." if x is None else f"{x[3]:.2f}" for x in xs) + " ms"
        kp = [x[3] for x in k if x]
        bp = [x[3] for x in b if x]
        if len(kp) < len(k) or len(bp) < len(b) or not kp or not bp:
            ratio, met = "—", ("no" if len(kp) < len(k) and len(bp) == len(b) else "—")
        else:
            r = (sum(kp) / len(kp)) / (sum(bp) / len(bp))
            ratio = f"{r:.2f}×"
            met = "yes" if max(kp) <= min(bp) else ("on the mean" if r <= 1 else "no")
        row(f"fan-out {title}, {rate:,}/s: p99", show(k), show(b), ratio, "≤ Bun", met)
    for target in ("kilat", "bun"):
        best = []
        for r in (1, 2):
            m = re.search(r"best sustained .*?: (\d+) frames/s at p50 ([\d.]+) ms, p99 ([\d.]+) ms",
                          read(f"fanout-{topology}-{target}-{r}.txt"))
            if m:
                best.append(int(m[1]))
        lines.append((f"fan-out {title}: most delivered (≥95 %), {target}",
                      " / ".join(f"{b:,}/s" for b in best) or "—",
                      "Redis " + fmt(bound, "/s", 0) if bound else "—",
                      f"{max(best) / bound:.2f}×" if best and bound else "—", "(reported)", ""))

# idle sockets
for path in sorted((p for p in glob.glob(os.path.join(out, "idle-*.txt")) if "spread" not in p),
                   key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0)):
    text = open(path).read()
    n = re.sub(r"\D", "", os.path.basename(path))
    per = num(r"([\d.]+) KiB per idle authenticated socket", text)
    row(f"idle authenticated /ws socket, {int(n):,} open", fmt(per, " KiB", 2), "Centrifugo ~11 KB*",
        f"{per / 8:.2f}× target" if per else "—", "≤ 8 KiB", "yes" if per and per <= 8 else "no")

spread = read("idle-spread.txt")
opened = [int(m) for m in re.findall(r"idle /ws sockets on node B: (\d+) opened", spread)]
deltas = [int(b) - int(a) for a, b in re.findall(r"RSS (\d+) KiB -> (\d+) KiB", spread)]
if opened:
    per = sum(deltas) / sum(opened)
    row(f"idle /ws sockets, {sum(opened):,} over {len(opened)} nodes", f"{per:.2f} KiB each ({sum(deltas) / 1024:,.0f} MiB)",
        "Centrifugo ~11 KB*", f"{per / 8:.2f}× target", "≤ 8 KiB", "yes" if per <= 8 else "no")

# dispatch
p99s = []
for run in range(1, 6):
    text = read(f"dispatch-10-{run}.txt")
    m = re.search(r"booking request -> offer frame: p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", text)
    if m:
        p99s.append(float(m[2]))
met = sum(1 for p in p99s if p <= 10)
row("dispatch, 10k runners, 10/s: request → offer p99 (5 runs)", " / ".join(f"{p:.1f}" for p in p99s) + " ms", "—",
    "—", "≤ 10 ms in 5 of 5", f"{met} of {len(p99s)}")
m = re.search(r"booking request -> offer frame: p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", read("dispatch-50.txt"))
if m:
    row("dispatch, 10k runners, 50/s: request → offer", f"p50 {m[1]} ms, p99 {m[2]} ms", "—", "—", "(reported)", "")

# REST against pgbench
tps = [num(r"tps = ([\d.]+)", read(f"pgbench-{i}.txt")) for i in (1, 2)]
ref = [t for t in tps if t]
mean_tps = sum(ref) / len(ref) if ref else None
for name, title in (("rest-nginx", "two nodes via nginx, dispatch on"), ("rest-one", "one node, dispatch on"),
                    ("rest-nodispatch", "one node, dispatch off")):
    text = read(f"{name}.txt")
    for phase in ("create", "accept"):
        m = re.search(rf"{phase}\s+\d+ in [\d.]+s =\s+(\d+)/s\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms", text)
        if not m:
            continue
        rate = float(m[1])
        peer = " / ".join(f"{t:,.0f}" for t in ref) + " tps" if ref else "—"
        ratio = rate / mean_tps if mean_tps else None
        row(f"REST {phase}, {title}", f"{rate:,.0f}/s (p99 {float(m[3]):.0f} ms)",
            "TPC-B " + peer, fmt(ratio, "×", 2), "≥ 0.50×" if phase == "create" else "(reported)",
            ("yes" if ratio and ratio >= 0.5 else "no") if phase == "create" else "")
st = read("statements.txt").strip().splitlines()
if st:
    row("PostgreSQL work per booking create", st[0].strip().split(" (")[0].split(": ", 1)[-1],
        "TPC-B: 7 statements in 1 transaction",
        "—", "—", "")
cost = read("rest-cost.txt")
tcp = num(r"pgbench TPC-B, TCP 127\.0\.0\.1\s+(\d+)/s", cost)
unix = num(r"pgbench TPC-B, Unix socket\s+(\d+)/s", cost)
if tcp and unix:
    row("pgbench TPC-B over TCP loopback (kilat's transport)", f"{tcp:,.0f} tps", f"Unix socket {unix:,.0f} tps",
        fmt(tcp / unix, "×", 2), "(reported)", "")
m = re.search(r"kilat booking create\s+(\d+)/s\s+WAL\s+(\d+) B\s+PostgreSQL CPU\s+([\d.]+) ms\s+kilat CPU\s+([\d.]+) ms", cost)
b = re.search(r"pgbench TPC-B, TCP 127\.0\.0\.1\s+\d+/s\s+WAL\s+(\d+) B\s+PostgreSQL CPU\s+([\d.]+) ms", cost)
if m and b:
    row("one create, dispatch off: WAL", f"{float(m[2]):,.0f} B", f"TPC-B {float(b[1]):,.0f} B",
        fmt(float(m[2]) / float(b[1]), "×", 1), "(reported)", "")
    row("one create, dispatch off: PostgreSQL CPU", f"{m[3]} ms", f"TPC-B {b[2]} ms",
        fmt(float(m[3]) / float(b[2]), "×", 1), "(reported)", "")
    row("one create, dispatch off: kilat CPU", f"{m[4]} ms", "TPC-B client: not counted", "—", "(reported)", "")
rows_re = r"rows written\s+([\d.]+)\s+transactions\s+([\d.]+)"
b = re.search(r"pgbench TPC-B, TCP 127\.0\.0\.1.*?" + rows_re, cost)
for label, text in (("dispatch off", cost), ("dispatch on, one node", read("rest-cost-dispatch.txt"))):
    m = re.search(r"kilat booking create\s+(\d+)/s.*?PostgreSQL CPU\s+([\d.]+) ms.*?" + rows_re, text)
    if m and b:
        row(f"one create, {label}: rows written (PostgreSQL CPU)", f"{m[3]} ({m[2]} ms)",
            f"TPC-B {b[1]}", fmt(float(m[3]) / float(b[1]), "×", 1), "(reported)", "")
m = re.search(r"pgbench 7 x SELECT 1, TCP\s+\d+/s\s+PostgreSQL CPU\s+([\d.]+) ms a statement", cost)
if m:
    row("a statement that does nothing: PostgreSQL CPU", f"{float(m[1]) * 1000:.0f} µs", "—", "—", "(reported)", "")

widths = [max(len(str(r[i])) for r in lines + [("figure", "kilat", "peer / bound", "ratio", "target", "met")])
          for i in range(6)]
header = ("figure", "kilat", "peer / bound", "ratio", "target", "met")
for r in [header] + lines:
    print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
print("  * Centrifugo's published figure, not measured here; TPC-B: pgbench, 16 clients, before and after the REST runs;")
print("    ratios against Bun use the mean of the two alternating runs; sat.: that run had saturated at a lower rate")
