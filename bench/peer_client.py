#!/usr/bin/env python3
"""One streaming OpenAI-style client for side-by-side runs of kvactor and llama.cpp's server.

Sends the same token-id prompts to whichever server is at --url (POST /v1/completions,
"prompt": [ids...], temperature 0, stream true) and measures, per concurrency level:
generated tokens/s over the level's wall time, TTFT p50/p99, inter-token latency p50, and
prefill tokens/s (prompt tokens over TTFT, requests sent one at a time, every prompt new
to the server). Each SSE event with a choice counts as one generated token (both servers
send one event per token). Prompts are seeded random ids in [--low, --high), distinct per
level and repetition, so no level reuses another's cached prefix. --shared-prefix N makes
the prompts of a level share their first N tokens; --check N resends N prompts per level
alone and counts answers that differ from those given under concurrency.

Prints one JSON object on the last line of stdout. Python 3 standard library only;
loopback targets only.
"""

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse


def percentile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100.0 * (len(s) - 1)))))
    return s[k]


EXTRA = {}  # fields added to every request body (--ignore-eos, --cache-prompt)


def stream_one(host, port, prompt, max_tokens, timeout):
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True, **EXTRA})
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    stamps, text = [], []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            break
        event = json.loads(payload)
        if event.get("choices"):
            stamps.append(time.perf_counter())
            text.append(event["choices"][0].get("text") or "")
    conn.close()
    if not stamps:
        raise RuntimeError("no token events")
    return {"ttft": stamps[0] - start, "tokens": len(stamps),
            "itl": [b - a for a, b in zip(stamps, stamps[1:])], "end": stamps[-1],
            "text": "".join(text)}


def run_level(host, port, prompts, concurrency, max_tokens, timeout):
    results, errors = [], []
    lock = threading.Lock()
    queue = list(enumerate(prompts))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, prompt = queue.pop(0)
            try:
                r = stream_one(host, port, prompt, max_tokens, timeout)
                r["index"] = index
                with lock:
                    results.append(r)
            except Exception as e:  # noqa: BLE001 - reported, counted as a failure
                with lock:
                    errors.append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    tokens = sum(r["tokens"] for r in results)
    itl = [x for r in results for x in r["itl"]]
    return {"concurrency": concurrency, "requests": len(results), "errors": errors, "tokens": tokens,
            "wall_s": wall, "tok_s": tokens / wall if wall > 0 else 0.0,
            "ttft_p50_ms": 1000 * percentile([r["ttft"] for r in results], 50),
            "ttft_p99_ms": 1000 * percentile([r["ttft"] for r in results], 99),
            "itl_p50_ms": 1000 * percentile(itl, 50) if itl else float("nan"),
            "itl_p99_ms": 1000 * percentile(itl, 99) if itl else float("nan"),
            "answers": {r["index"]: r["text"] for r in results}}


def count_mismatches(host, port, prompts, level, check, max_tokens, timeout):
    """Sends the level's first `check` prompts again one at a time (alone) and counts the
    answers that differ from those given under concurrency."""
    checked = mismatched = 0
    for i, p in enumerate(prompts[:check]):
        if i not in level["answers"]:
            continue
        alone = stream_one(host, port, p, max_tokens, timeout)["text"]
        checked += 1
        mismatched += alone != level["answers"][i]
    return checked, mismatched


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--concurrency", default="1,8,16")
    ap.add_argument("--requests", type=int, default=8, help="requests per level")
    ap.add_argument("--prompt-len", type=int, default=130)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--prefill-requests", type=int, default=3)
    ap.add_argument("--low", type=int, default=100, help="smallest token id used in prompts")
    ap.add_argument("--high", type=int, default=30000, help="one past the largest token id used")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--shared-prefix", type=int, default=0,
                    help="the first N prompt tokens are the same in every prompt of a level")
    ap.add_argument("--check", type=int, default=0,
                    help="per level, resend the first N prompts alone and count differing answers")
    ap.add_argument("--ignore-eos", action="store_true", help='send "ignore_eos": true')
    ap.add_argument("--cache-prompt", action="store_true", help='send "cache_prompt": true')
    ap.add_argument("--no-prefill", action="store_true", help="skip the prefill measurement")
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1") and not (u.hostname or "").startswith("127."):
        sys.exit("peer_client: loopback targets only")
    levels = [int(c) for c in args.concurrency.split(",") if c]
    rng = random.Random(args.seed)

    if args.ignore_eos:
        EXTRA["ignore_eos"] = True
    if args.cache_prompt:
        EXTRA["cache_prompt"] = True

    def prompts(n):
        shared = [rng.randrange(args.low, args.high) for _ in range(min(args.shared_prefix, args.prompt_len))]
        return [shared + [rng.randrange(args.low, args.high) for _ in range(args.prompt_len - len(shared))]
                for _ in range(n)]

    # Warm-up: one short request (page faults of a fresh mapping, thread start-up).
    stream_one(u.hostname, u.port, prompts(1)[0][:8], 2, args.timeout)
    out = {"url": args.url, "prompt_len": args.prompt_len, "max_tokens": args.max_tokens, "levels": []}
    prefill = []
    for p in ([] if args.no_prefill else prompts(args.prefill_requests)):
        r = stream_one(u.hostname, u.port, p, 1, args.timeout)
        prefill.append(args.prompt_len / r["ttft"])
    out["prefill_tok_s"] = statistics.median(prefill) if prefill else float("nan")
    for c in levels:
        level_prompts = prompts(max(args.requests, c))
        level = run_level(u.hostname, u.port, level_prompts, c, args.max_tokens, args.timeout)
        level["checked"], level["mismatches"] = count_mismatches(
            u.hostname, u.port, level_prompts, level, args.check, args.max_tokens, args.timeout)
        del level["answers"]
        print(f"concurrency {c:3d}: {level['tok_s']:8.2f} tok/s  TTFT p50 {level['ttft_p50_ms']:.0f} ms  "
              f"ITL p50 {level['itl_p50_ms']:.1f} ms  errors {len(level['errors'])}  "
              f"mismatches {level['mismatches']}/{level['checked']}", file=sys.stderr, flush=True)
        out["levels"].append(level)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
