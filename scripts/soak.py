#!/usr/bin/env python3
"""Soak test: the load test at saturation for a set time while the server's memory is watched.

Starts `kvactor serve` on the bundled model (or watches one you started: --url and --pid),
runs scripts/loadtest.py's closed loop at --concurrency for --duration seconds (every answer
compared with the same prompt sent alone), samples the server's resident memory (VmRSS from
/proc/<pid>/status) every --sample-interval seconds, then waits for the engine to go idle and
checks that every KV page came back.

Pass criteria (all must hold; exit 1 otherwise):
  - zero mismatches against the solo answers and zero failed requests;
  - memory flat (not judged when the server is built with a sanitizer): after the warm-up (the first --warmup seconds: the solo reference pass and the
    start of the load) the resident set never
    exceeds the warm-up peak by more than --rss-growth-limit percent (default 10 %);
  - zero leaked pages after the drain (/metrics: private == 0, cached_locked == 0,
    free + cached_evictable == total; /v1/inspect/cache: invariants_ok);
  - a server this script started exits 0 on SIGTERM.

Writes OUT.json (every number and the RSS samples) and OUT.md (a short summary).

Examples:
  scripts/soak.py --duration 45 --out build/soak/ci              # what CI runs
  scripts/soak.py --duration 600 --out bench/results/soak-10min  # long, on demand
"""

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import loadtest  # noqa: E402
import loadtest_client as client  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, ".."))
MODELS = os.environ.get("KVACTOR_MODELS_DIR", os.path.join(REPO, "..", "shared", "models"))


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="soak.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--duration", type=loadtest.positive_float, default=45.0,
                    help="seconds of saturated load")
    ap.add_argument("--warmup", type=loadtest.positive_float, default=None,
                    help="seconds from the first sample (the solo reference pass, then load) "
                         "before memory must stay flat (default: 25%% of --duration, at least 5 s)")
    ap.add_argument("--rss-growth-limit", type=loadtest.positive_float, default=10.0,
                    help="percent the resident set may exceed its warm-up peak")
    ap.add_argument("--concurrency", type=int, default=24, help="closed-loop clients")
    ap.add_argument("--sample-interval", type=loadtest.positive_float, default=1.0,
                    help="seconds between VmRSS samples")
    ap.add_argument("--binary", default=os.environ.get("KVACTOR_BIN", os.path.join(REPO, "build", "kvactor")),
                    help="kvactor executable to start (ignored with --url)")
    ap.add_argument("--num-pages", type=loadtest.positive_int, default=256,
                    help="KV pages of the started server: small, so eviction runs all the time")
    ap.add_argument("--url", default=None, help="watch a running server instead (needs --pid)")
    ap.add_argument("--pid", type=int, default=None, help="its process id, for VmRSS")
    ap.add_argument("--workload", default="shared-prefix", choices=("shared-prefix", "random", "multi-turn"))
    ap.add_argument("--groups", type=loadtest.positive_int, default=12)
    ap.add_argument("--prompts-per-group", type=loadtest.positive_int, default=6)
    ap.add_argument("--output-len", type=loadtest.positive_int, default=32)
    ap.add_argument("--out", default="soak", help="writes OUT.json and OUT.md")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if (args.url is None) != (args.pid is None):
        ap.error("--url and --pid go together")
    if not 1 <= args.concurrency <= loadtest.MAX_INFLIGHT:
        ap.error("--concurrency must be between 1 and %d" % loadtest.MAX_INFLIGHT)
    if args.warmup is None:
        args.warmup = max(5.0, args.duration / 4)
    if args.warmup >= args.duration:
        ap.error("--warmup must be shorter than --duration")
    return args


def sanitizer_of(binary):
    """'address' or 'thread' when the executable was built with that sanitizer, else None.
    Their allocators hold freed memory back (ASan's quarantine), so RSS then grows by design."""
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"__asan_init" in data:
        return "address"
    if b"__tsan_init" in data:
        return "thread"
    return None


def rss_kib(pid):
    """VmRSS of pid in KiB, or None when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    def __init__(self, pid, interval):
        self.pid, self.interval = pid, interval
        self.samples = []  # (seconds since start, KiB)
        self.stop_event = threading.Event()
        self.start_time = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_event.is_set():
            v = rss_kib(self.pid)
            if v is not None:
                self.samples.append((round(time.monotonic() - self.start_time, 2), v))
            self.stop_event.wait(self.interval)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, log_path):
    port = unused_port()
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [args.binary, "serve", "--model", os.path.join(MODELS, "stories260K.bin"),
         "--tokenizer", os.path.join(MODELS, "tok512.bin"), "--host", "127.0.0.1",
         "--port", str(port), "--num-pages", str(args.num_pages)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("kvactor serve exited with %s (log: %s)" % (proc.returncode, log_path))
        try:
            urllib.request.urlopen(url + "/health", timeout=2).read()
            return proc, log, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("kvactor serve not healthy after 30 s (log: %s)" % log_path)


def get_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8"))


def drained_pages(host, port, url, timeout_s=30.0):
    """Waits until no request runs or waits, then returns the page counts and the check."""
    deadline = time.monotonic() + timeout_s
    pages = {}
    while True:
        m = client.scrape_metrics(host, port) or {}
        pages = {state: m.get('kvactor_pages{state="%s"}' % state)
                 for state in ("total", "free", "private", "cached_locked", "cached_evictable")}
        idle = m.get("kvactor_running_requests") == 0 and m.get("kvactor_queue_depth") == 0
        if idle and pages["private"] == 0 and pages["cached_locked"] == 0:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    cache = get_json(url + "/v1/inspect/cache?depth=0&max_nodes=1")
    leaked = None
    if None not in pages.values():
        leaked = int(pages["total"] - pages["free"] - pages["cached_evictable"])
    return {"pages": pages, "leaked_pages": leaked, "invariants_ok": cache.get("invariants_ok")}


def rss_verdict(samples, warmup_s, limit_pct):
    """Warm-up peak vs the peak after it; growth within limit_pct means flat."""
    warm = [kib for t, kib in samples if t < warmup_s]
    after = [(t, kib) for t, kib in samples if t >= warmup_s]
    if not warm or not after:
        return {"flat": False, "why": "too few samples"}
    warm_peak = max(warm)
    after_peak = max(kib for _, kib in after)
    growth = 100.0 * (after_peak - warm_peak) / warm_peak
    # Slope of a least-squares line through the post-warm-up samples, in KiB per minute.
    ts = [t for t, _ in after]
    ks = [kib for _, kib in after]
    slope = 0.0
    if len(after) > 1 and max(ts) > min(ts):
        mt, mk = statistics.mean(ts), statistics.mean(ks)
        slope = sum((t - mt) * (k - mk) for t, k in after) / sum((t - mt) ** 2 for t in ts) * 60
    return {"flat": growth <= limit_pct, "warmup_peak_kib": warm_peak, "after_warmup_peak_kib": after_peak,
            "after_warmup_last_kib": after[-1][1], "growth_pct": round(growth, 3),
            "limit_pct": limit_pct, "slope_kib_per_min": round(slope, 1), "samples_after_warmup": len(after)}


def machine():
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count()}


def markdown(report):
    r, c, d, s = report["rss"], report["correctness"], report["drain"], report["load"]
    lines = [
        "# Soak: %s" % ("PASS" if report["ok"] else "FAIL"),
        "",
        "Started %s on %s (%s cores); %.0f s at concurrency %d, workload %s, %d KV pages." % (
            report["started"], report["machine"]["cpu"], report["machine"]["cores"],
            report["config"]["duration"], report["config"]["concurrency"], report["config"]["workload"],
            report["config"]["num_pages"]),
        "",
        "| what | value |",
        "| --- | --- |",
        "| requests (load phase) | %d, %d failed |" % (s["requests"], s["failed"]),
        "| throughput | %.1f req/s, %.0f tokens/s |" % (s["request_throughput"], s["output_token_throughput"]),
        "| TTFT p50 / p99 | %s / %s ms |" % (s["ttft_p50_ms"], s["ttft_p99_ms"]),
        "| compared with solo answers | %d, %d mismatches |" % (c["checked"], c["mismatches"]),
        "| RSS warm-up peak | %.1f MiB |" % (r.get("warmup_peak_kib", 0) / 1024),
        "| RSS peak after warm-up | %.1f MiB (%+.2f %%, limit %.0f %%) |" % (
            r.get("after_warmup_peak_kib", 0) / 1024, r.get("growth_pct", 0), r.get("limit_pct", 0)),
        "| RSS slope after warm-up | %.1f KiB/min |" % r.get("slope_kib_per_min", 0),
        "| RSS judged | %s |" % ("yes" if r.get("judged", True) else "no: " + r.get("not_judged_because", "")),
        "| pages after drain | %s |" % json.dumps(d["pages"]),
        "| leaked pages | %s |" % d["leaked_pages"],
        "| cache invariants | %s |" % d["invariants_ok"],
        "| server exit status on SIGTERM | %s |" % report["server_exit"],
    ]
    if report["problems"]:
        lines += ["", "Problems:", ""] + ["- " + p for p in report["problems"]]
    return "\n".join(lines) + "\n"


def run(args, out=sys.stdout):
    def log(msg):
        if not args.quiet:
            print(msg, file=out, flush=True)

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    proc, server_log = None, None
    if args.url is None:
        proc, server_log, url = start_server(args, args.out + ".server.log")
        pid = proc.pid
    else:
        url, pid = args.url, args.pid
    try:
        return soak_with_server(args, proc, server_log, url, pid, started, log, out)
    finally:
        if proc is not None and proc.poll() is None:  # an exception on the way: never leave it running
            proc.kill()
            proc.wait(10)


def soak_with_server(args, proc, server_log, url, pid, started, log, out):
    host, port = client.loopback_target(url)
    problems = []
    sampler = RssSampler(pid, args.sample_interval)
    sampler.start()
    try:
        load_args = loadtest.parse_args([
            "--url", url, "--workload", args.workload, "--groups", str(args.groups),
            "--prompts-per-group", str(args.prompts_per_group), "--num-prompts", str(args.groups * args.prompts_per_group),
            "--conversations", str(args.groups), "--output-len", str(args.output_len),
            "--concurrency", str(args.concurrency), "--phase-duration", str(args.duration),
            "--max-duration", str(args.duration * 2 + 120), "--max-requests", str(10 ** 8),
            "--reference", "before", "--quiet"])
        reference_started = time.monotonic()
        log("soak: reference pass, then %.0f s at concurrency %d against %s (pid %d)" % (
            args.duration, args.concurrency, url, pid))
        report = loadtest.run(load_args, out=out)
    finally:
        sampler.stop()  # memory is judged over the load; the drain checks below allocate too
    log("soak: load done after %.0f s; draining" % (time.monotonic() - reference_started))
    drain = drained_pages(host, port, url)
    server_exit = None
    if proc is not None:
        proc.send_signal(signal.SIGTERM)
        try:
            server_exit = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            server_exit = "killed after 60 s"
        server_log.close()

    phase = report["phases"][0]["summary"] if report["phases"] else {}
    load = {"requests": phase.get("requests", 0), "failed": phase.get("failed", 0),
            "request_throughput": phase.get("request_throughput", 0.0),
            "output_token_throughput": phase.get("output_token_throughput", 0.0),
            "ttft_p50_ms": loadtest._ms(phase.get("ttft_ms", {}).get("p50")),
            "ttft_p99_ms": loadtest._ms(phase.get("ttft_ms", {}).get("p99"))}
    correctness = {"checked": report["correctness"]["checked"],
                   "mismatches": len(report["correctness"]["mismatches"]),
                   "examples": report["correctness"]["mismatches"][:5]}
    rss = rss_verdict(sampler.samples, args.warmup, args.rss_growth_limit)

    if report["errors"]:
        problems.append("%d request errors, e.g. %s" % (len(report["errors"]), report["errors"][0]))
    if correctness["mismatches"]:
        problems.append("%d answers differ from their solo answers" % correctness["mismatches"])
    if load["requests"] == 0:
        problems.append("no load was sent")
    sanitizer = sanitizer_of(args.binary) if proc is not None else None
    rss["judged"] = sanitizer is None
    if sanitizer:
        rss["not_judged_because"] = "the server is built with the %s sanitizer" % sanitizer
    if not rss["flat"] and rss["judged"]:
        problems.append("resident memory not flat: %s" % json.dumps(rss))
    if drain["leaked_pages"] != 0 or drain["pages"].get("private") != 0 or drain["pages"].get("cached_locked") != 0:
        problems.append("pages not all back after the drain: %s" % json.dumps(drain["pages"]))
    if drain["invariants_ok"] is not True:
        problems.append("/v1/inspect/cache reports invariants_ok = %s" % drain["invariants_ok"])
    if proc is not None and server_exit != 0:
        problems.append("the server exited with %s on SIGTERM" % server_exit)

    result = {
        "ok": not problems, "started": started, "machine": machine(),
        "config": {"duration": args.duration, "warmup": args.warmup, "concurrency": args.concurrency,
                   "workload": args.workload, "groups": args.groups, "prompts_per_group": args.prompts_per_group,
                   "output_len": args.output_len, "num_pages": args.num_pages if proc else None,
                   "rss_growth_limit_pct": args.rss_growth_limit, "sample_interval": args.sample_interval},
        "load": load, "correctness": correctness, "rss": rss, "drain": drain, "server_exit": server_exit,
        "rss_samples": sampler.samples, "problems": problems,
    }
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(markdown(result))
    log(markdown(result))
    return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.url is not None:
        try:
            client.loopback_target(args.url)
        except client.TargetRefused as e:
            print("soak.py: " + str(e), file=sys.stderr)
            return 2
    elif not os.access(args.binary, os.X_OK):
        print("soak.py: no kvactor executable at %s (use --binary)" % args.binary, file=sys.stderr)
        return 2
    result = run(args)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
