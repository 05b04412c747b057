#!/usr/bin/env python3
"""Samples Redis nodes once a second until killed: per node, CPU seconds
(user + sys) and PUBLISH + SPUBLISH calls so far, one line each:
`<unix time> <port> <cpu secs> <published>`. `make bench-scaleout` reads
the lines back to show each shard's message rate and CPU per step."""

import socket
import sys
import time


def info(port, section):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(f"INFO {section}\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            data += s.recv(65536)
        header, rest = data.split(b"\r\n", 1)
        length = int(header[1:])
        while len(rest) < length:
            rest += s.recv(65536)
    fields = {}
    for line in rest[:length].decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k] = v
    return fields


def calls(stats, command):
    raw = stats.get(f"cmdstat_{command}", "")
    for kv in raw.split(","):
        if kv.startswith("calls="):
            return int(kv[6:])
    return 0


ports = [int(p) for p in sys.argv[1].split(",")]
while True:
    now = time.time()
    for port in ports:
        try:
            cpu = info(port, "cpu")
            stats = info(port, "commandstats")
            used = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
            print(f"{now:.3f} {port} {used:.3f} {calls(stats, 'publish') + calls(stats, 'spublish')}", flush=True)
        except OSError:
            pass
    time.sleep(max(0.0, 1.0 - (time.time() - now)))
