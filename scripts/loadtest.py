#!/usr/bin/env python3
"""Load test for a kvactor server on this machine (Python 3 standard library only).

Workloads: fixed prompt, shared-prefix groups, multi-turn chat, random prompts.
Arrivals: closed-loop concurrency sweep (--concurrency 1,2,4,8) or Poisson (--rate R).
Every response is greedy and is compared with the same prompt's response sent alone
(--reference before|after); a mismatch is a failure (exit status 1).
Reports throughput, TTFT/TPOT/ITL/E2E percentiles, the prefix-cache hit rate of this run
(from usage.cached_tokens and from /metrics deltas), and goodput under --slo-* limits,
as JSON and a self-contained HTML report.

Targets loopback only (127.0.0.0/8, localhost, ::1). Bounded by --max-requests and
--max-duration. Exit status: 0 pass, 1 mismatches or failed requests, 2 bad arguments.

Example:
  scripts/loadtest.py --url http://127.0.0.1:8000 --workload shared-prefix \\
      --groups 4 --prompts-per-group 8 --concurrency 1,2,4,8 --out bench/out/loadtest
"""

import argparse
import datetime
import json
import math
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loadtest_client as client  # noqa: E402
import loadtest_report as report_html  # noqa: E402
import loadtest_stats as stats  # noqa: E402
import loadtest_workloads as workloads  # noqa: E402

MAX_INFLIGHT = 256


def positive_int(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %s" % text)
    return v


def non_negative_int(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % text)
    return v


def positive_float(text):
    v = float(text)
    # "inf" is no limit at all: as a timeout it overflows socket.settimeout inside a
    # request thread instead of failing here.
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError("must be a finite number > 0, got %s" % text)
    return v


def concurrency_list(text):
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected a list like 1,2,4,8, got %r" % text) from None
    if not levels or any(c < 1 or c > MAX_INFLIGHT for c in levels):
        raise argparse.ArgumentTypeError("levels must be between 1 and %d" % MAX_INFLIGHT)
    return levels


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="loadtest.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000", help="server (loopback only)")
    ap.add_argument("--workload", choices=workloads.WORKLOADS, default="shared-prefix")
    ap.add_argument("--num-prompts", type=positive_int, default=16, help="fixed and random workloads")
    ap.add_argument("--groups", type=positive_int, default=4, help="shared-prefix: groups")
    ap.add_argument("--prompts-per-group", type=positive_int, default=4,
                    help="shared-prefix: prompts per group")
    ap.add_argument("--system-len", type=non_negative_int, default=48,
                    help="words in the shared system prompt (fixed/random: added to --question-len)")
    ap.add_argument("--question-len", type=positive_int, default=12, help="words per question/turn")
    ap.add_argument("--output-len", type=positive_int, default=24, help="max_tokens per request")
    ap.add_argument("--conversations", type=positive_int, default=4, help="multi-turn: chats")
    ap.add_argument("--turns", type=positive_int, default=3, help="multi-turn: turns per chat")
    ap.add_argument("--arrival", choices=("sweep", "poisson"), default="sweep")
    ap.add_argument("--concurrency", type=concurrency_list, default=[1, 2, 4, 8],
                    help="sweep: closed-loop concurrency levels, each runs the whole workload")
    ap.add_argument("--phase-duration", type=positive_float, default=None,
                    help="sweep: keep each level busy for this many seconds, repeating the "
                         "workload (default: send the workload once per level)")
    ap.add_argument("--rate", type=positive_float, default=4.0,
                    help="poisson: conversations started per second")
    ap.add_argument("--reference", choices=("before", "after", "none"), default="before",
                    help="when to send each distinct prompt alone for the correctness check "
                         "(before warms the cache; after measures a cold-cache hit rate)")
    ap.add_argument("--slo-ttft-ms", type=positive_float, default=None, help="goodput TTFT limit")
    ap.add_argument("--slo-tpot-ms", type=positive_float, default=None, help="goodput TPOT limit")
    ap.add_argument("--max-requests", type=positive_int, default=2000,
                    help="hard cap on requests sent in the whole run")
    ap.add_argument("--max-duration", type=positive_float, default=300.0,
                    help="hard cap on the run's wall time, seconds")
    ap.add_argument("--request-timeout", type=positive_float, default=120.0, help="seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="loadtest", help="writes OUT.json and OUT.html")
    ap.add_argument("--quiet", action="store_true")
    return ap.parse_args(argv)


class RunLimits:
    """Shared request budget and deadline: every loop asks before sending."""

    def __init__(self, max_requests, max_duration_s):
        self.lock = threading.Lock()
        self.left = max_requests
        self.deadline = time.monotonic() + max_duration_s
        self.exhausted = None

    def take(self):
        with self.lock:
            if time.monotonic() >= self.deadline:
                self.exhausted = self.exhausted or "max-duration reached"
                return False
            if self.left <= 0:
                self.exhausted = self.exhausted or "max-requests reached"
                return False
            self.left -= 1
            return True

    def time_left(self):
        return max(0.0, self.deadline - time.monotonic())


class Runner:
    def __init__(self, args, host, port, limits):
        self.args, self.host, self.port, self.limits = args, host, port, limits

    def one(self, prompt):
        timeout = min(self.args.request_timeout, max(self.limits.time_left(), 1.0))
        return client.stream_completion(self.host, self.port, prompt, self.args.output_len, timeout)

    def conversation(self, index, turns):
        """Turns in order, each prompt extended by the previous replies; stops at a failure."""
        records, replies = [], []
        for t in range(len(turns)):
            if not self.limits.take():
                break
            rec = self.one(workloads.prompt_for_turn(turns, replies, t))
            rec["conversation"], rec["turn"] = index, t
            records.append(rec)
            if rec["error"]:
                break
            replies.append(rec["text"])
        return records

    def sequential(self, conversations):
        out = []
        for i, conv in enumerate(conversations):
            out.extend(self.conversation(i, conv))
        return out

    def closed_loop(self, conversations, concurrency, duration_s=None):
        """`concurrency` workers; each takes the next conversation as soon as it is done.
        Without duration_s the workload runs once; with it, the workload repeats in order
        until duration_s has passed (then running conversations finish)."""
        lock = threading.Lock()
        next_index = [0]
        stop_at = None if duration_s is None else time.monotonic() + duration_s
        out = []

        def worker():
            while True:
                with lock:
                    i = next_index[0]
                    if stop_at is None and i >= len(conversations):
                        return
                    if stop_at is not None and time.monotonic() >= stop_at:
                        return
                    next_index[0] += 1
                recs = self.conversation(i % len(conversations), conversations[i % len(conversations)])
                with lock:
                    out.extend(recs)
                if not recs:
                    return  # budget or deadline exhausted

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
        for th in threads:
            th.start()
        self._join(threads)
        return out

    def poisson(self, conversations, rate, rng):
        """Conversations start at exponential inter-arrival times (mean 1/rate)."""
        lock = threading.Lock()
        out, threads = [], []
        next_start = time.monotonic()
        for i, conv in enumerate(conversations):
            next_start += rng.expovariate(rate)
            delay = next_start - time.monotonic()
            if delay > self.limits.time_left():
                self.limits.exhausted = self.limits.exhausted or "max-duration reached"
                break
            if delay > 0:
                time.sleep(delay)
            while sum(th.is_alive() for th in threads) >= MAX_INFLIGHT:
                time.sleep(0.005)

            def start(i=i, conv=conv):
                recs = self.conversation(i, conv)
                with lock:
                    out.extend(recs)

            th = threading.Thread(target=start, daemon=True)
            th.start()
            threads.append(th)
        self._join(threads)
        return out

    def _join(self, threads):
        # Requests time out by themselves; this bound only guards against a stuck thread.
        stop = time.monotonic() + self.limits.time_left() + self.args.request_timeout + 5
        for th in threads:
            th.join(max(0.0, stop - time.monotonic()))


def verify(records, reference):
    """Compare each successful response with the alone response for the same prompt."""
    checked, unverified, mismatches = 0, 0, []
    for rec in records:
        if rec["error"]:
            continue
        expected = reference.get(rec["prompt"])
        if expected is None:
            unverified += 1
            continue
        checked += 1
        if rec["text"] != expected:
            mismatches.append({"prompt": rec["prompt"], "expected": expected, "got": rec["text"],
                               "phase": rec.get("phase")})
    return {"checked": checked, "unverified": unverified, "mismatches": mismatches}


def compact(rec):
    """Per-request line in the JSON report (times relative to the request's send)."""
    return {"phase": rec.get("phase"), "conversation": rec.get("conversation"),
            "turn": rec.get("turn"), "error": rec["error"],
            "ttft_ms": None if stats.ttft(rec) is None else round(stats.ttft(rec) * 1000, 3),
            "e2e_ms": round(stats.e2e(rec) * 1000, 3),
            "prompt_tokens": rec["prompt_tokens"], "completion_tokens": rec["completion_tokens"],
            "tokens_streamed": len(rec["token_times"]), "cached_tokens": rec["cached_tokens"]}


def run(args, out=sys.stdout):
    host, port = client.loopback_target(args.url)
    limits = RunLimits(args.max_requests, args.max_duration)
    runner = Runner(args, host, port, limits)
    conversations = workloads.build(args)
    rng = random.Random(args.seed)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    errors, reference, phases, load_records = [], {}, [], []

    def log(msg):
        if not args.quiet:
            print(msg, file=out, flush=True)

    if args.reference == "before":
        distinct = workloads.distinct(conversations)
        log("reference: %d distinct conversations, each alone" % len(distinct))
        for rec in runner.sequential(distinct):
            if rec["error"]:
                errors.append("reference: " + rec["error"])
            else:
                reference[rec["prompt"]] = rec["text"]

    if args.arrival == "sweep":
        plan = [("concurrency %d" % c, {"concurrency": c}) for c in args.concurrency]
    else:
        plan = [("poisson %.3g/s" % args.rate, {"rate": args.rate})]
    for label, params in plan:
        if limits.exhausted:
            break
        before = client.scrape_metrics(host, port)
        if "concurrency" in params:
            recs = runner.closed_loop(conversations, params["concurrency"], args.phase_duration)
        else:
            recs = runner.poisson(conversations, params["rate"], rng)
        after = client.scrape_metrics(host, port)
        for r in recs:
            r["phase"] = label
        hit_b, queried_b = client.cache_counters(before)
        hit_a, queried_a = client.cache_counters(after)
        metrics_hit_rate = None
        if None not in (hit_b, queried_b, hit_a, queried_a):
            metrics_hit_rate = stats.hit_rate(hit_a - hit_b, queried_a - queried_b)
        summary = stats.summarize(recs,
                                  None if args.slo_ttft_ms is None else args.slo_ttft_ms / 1000.0,
                                  None if args.slo_tpot_ms is None else args.slo_tpot_ms / 1000.0)
        phases.append(dict(params, label=label, summary=summary, metrics_hit_rate=metrics_hit_rate,
                           metrics_available=after is not None, timeline=stats.timeline(recs)))
        errors.extend("%s: %s" % (label, r["error"]) for r in recs if r["error"])
        load_records.extend(recs)
        log("%-16s %4d req %3d fail  %7.2f req/s %8.1f tok/s  TTFT p50 %s ms  E2E p50 %s ms  "
            "hit usage %s metrics %s" % (
                label, summary["requests"], summary["failed"], summary["request_throughput"],
                summary["output_token_throughput"], _ms(summary["ttft_ms"]["p50"]),
                _ms(summary["e2e_ms"]["p50"]), _pct(summary["usage_hit_rate"]),
                _pct(metrics_hit_rate)))

    if args.reference == "after":
        prompts = list(dict.fromkeys(r["prompt"] for r in load_records if not r["error"]))
        log("reference: %d distinct prompts, each alone" % len(prompts))
        for prompt in prompts:
            if not limits.take():
                break
            rec = runner.one(prompt)
            if rec["error"]:
                errors.append("reference: " + rec["error"])
            else:
                reference[prompt] = rec["text"]

    correctness = verify(load_records, reference) if args.reference != "none" else \
        {"checked": 0, "unverified": len(load_records), "mismatches": []}
    if limits.exhausted:
        log("stopped early: " + limits.exhausted)
    ok = not errors and not correctness["mismatches"] and bool(load_records)
    if not load_records:
        errors.append("no load requests were sent (%s)" % (limits.exhausted or "empty workload"))
    report = {
        "ok": ok, "started": started,
        "config": {k: v for k, v in vars(args).items()},
        "limits_hit": limits.exhausted,
        "phases": phases, "correctness": correctness, "errors": errors,
        "records": [compact(r) for r in load_records],
    }
    report["config"]["slo_ttft_ms"] = args.slo_ttft_ms
    report["config"]["slo_tpot_ms"] = args.slo_tpot_ms
    log("correctness: %d compared, %d mismatches, %d unverified; %d errors -> %s" % (
        correctness["checked"], len(correctness["mismatches"]), correctness["unverified"],
        len(errors), "PASS" if ok else "FAIL"))
    return report


def _ms(v):
    return "-" if v is None else "%.1f" % v


def _pct(v):
    return "-" if v is None else "%.1f%%" % (v * 100)


def write_outputs(report, prefix):
    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(prefix + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(prefix + ".html", "w") as f:
        f.write(report_html.render(report))
    return prefix + ".json", prefix + ".html"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        client.loopback_target(args.url)
    except client.TargetRefused as e:
        print("loadtest.py: " + str(e), file=sys.stderr)
        return 2
    report = run(args)
    json_path, html_path = write_outputs(report, args.out)
    if not args.quiet:
        print("wrote %s and %s" % (json_path, html_path))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
