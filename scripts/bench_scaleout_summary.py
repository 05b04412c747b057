#!/usr/bin/env python3
"""The scale-out figures of one `make bench-scaleout` run, from
target/bench/scaleout-*: per topology and round, the fan-out steps (sent,
delivered, p50, p99), the most delivered at p99 <= 10 ms, and per Redis
node (a shard of the cluster) the busiest second's messages and CPU and
the CPU cost of one message, hence the shard's ceiling on one core."""

import os
import re
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "target/bench"


def rows(path):
    text = open(path).read() if os.path.exists(path) else ""
    found = []
    for m in re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", text, re.M):
        found.append((int(m[1]), float(m[2]), float(m[3]), float(m[4]), float(m[5])))
    return found


def shards(path):
    """port -> (busiest second's messages/s, CPU % in that second, CPU µs per message overall)"""
    samples = {}
    if os.path.exists(path):
        for line in open(path):
            t, port, cpu, published = line.split()
            samples.setdefault(port, []).append((float(t), float(cpu), int(published)))
    result = {}
    for port, s in sorted(samples.items()):
        best = (0.0, 0.0)
        cpu_busy = msgs_busy = 0.0
        for (t0, c0, p0), (t1, c1, p1) in zip(s, s[1:]):
            dt = max(t1 - t0, 1e-3)
            rate, cpu = (p1 - p0) / dt, (c1 - c0) / dt * 100
            if rate > best[0]:
                best = (rate, cpu)
            if rate > 1000:
                cpu_busy += c1 - c0
                msgs_busy += p1 - p0
        per_msg = cpu_busy / msgs_busy * 1e6 if msgs_busy else None
        result[port] = (best[0], best[1], per_msg)
    return result


print()
print("== scale-out summary: three kilat nodes, one Redis against a 3-master Redis Cluster")
for topology in ("single", "cluster"):
    for rnd in (1, 2):
        base = os.path.join(out, f"scaleout-{topology}-{rnd}")
        steps = rows(base + ".txt")
        if not steps:
            print(f"-- {topology} Redis, round {rnd}: no output")
            continue
        ok = [r for r in steps if r[4] <= 10.0 and r[2] >= 0.95 * r[1]]
        best = max(ok, key=lambda r: r[2]) if ok else None
        print(f"-- {topology} Redis, round {rnd}: "
              + (f"most delivered at p99 <= 10 ms: {best[2]:,.0f}/s (step {best[0]:,}/s, p99 {best[4]:.2f} ms)"
                 if best else "no step at p99 <= 10 ms"))
        print("   step/s    sent/s   deliv/s   p50 ms   p99 ms")
        for rate, sent, recv, p50, p99 in steps:
            print(f"   {rate:>7,} {sent:>9,.0f} {recv:>9,.0f} {p50:>8.2f} {p99:>8.2f}")
        for port, (rate, cpu, per_msg) in shards(base + ".samples").items():
            ceiling = f"{1e6 / per_msg:,.0f} msg/s per core" if per_msg else "—"
            cost = f"{per_msg:.2f}" if per_msg else "—"
            print(f"   redis :{port}: busiest second {rate:,.0f} msg/s at {cpu:.0f} % CPU; "
                  f"{cost} µs CPU per message -> {ceiling}")
