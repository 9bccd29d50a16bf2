#!/usr/bin/env python3
"""Memory per idle keep-alive connection of a running `kvactor serve` (issue 22).

Opens COUNT connections to 127.0.0.1:PORT from source addresses 127.0.0.2, 127.0.0.3, ...
(PER_ADDRESS each, under the server's max_connections_per_client), sends one GET /health on
each and reads its answer, so every connection has served a request and is idle. Reads the
server's VmRSS (/proc/PID/status) before and after, and times a completion on a fresh
connection while they are all held. Standard library only.

  build/kvactor serve --port 8123 --max-connections 20000 &
  bench/idle_connections.py --port 8123 --pid $! --count 15000
"""
import argparse
import json
import resource
import socket
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--per-address", type=int, default=250)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    url = f"http://127.0.0.1:{args.port}"
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0}).encode()

    def completion():
        t0 = time.monotonic()
        req = urllib.request.Request(url + "/v1/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = json.load(r)["choices"][0]["text"]
        return text, (time.monotonic() - t0) * 1000

    alone, alone_ms = completion()
    before = rss_kib(args.pid)
    held = []
    t0 = time.monotonic()
    for i in range(args.count):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i // args.per_address}", 0))
        s.connect(("127.0.0.1", args.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"ok" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError(f"connection {i} closed by the server")
            got += chunk
        held.append(s)
    opened_s = time.monotonic() - t0
    time.sleep(1.0)
    after = rss_kib(args.pid)
    text, ms = completion()
    print(json.dumps({
        "idle_connections": len(held),
        "open_seconds": round(opened_s, 2),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "bytes_per_idle_connection": round((after - before) * 1024 / len(held)),
        "completion_alone_ms": round(alone_ms, 1),
        "completion_with_idle_ms": round(ms, 1),
        "same_answer": text == alone,
    }, indent=1))


if __name__ == "__main__":
    main()
