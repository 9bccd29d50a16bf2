#!/usr/bin/env python3
"""Serving speed side by side (issue 18): kvactor vs llama.cpp's llama-server on the SAME GGUF
files, driven by the same streaming client (bench/peer_client.py), one server at a time,
alternating kvactor / llama.cpp within each repetition so load drift hits both.

    bench/peer_compare.py [--quick] [--reps N] [--models f32,q8_0,260k]
                          [--workloads shared,distinct] [--levels 1,2,4,...]
                          [--kvactor BIN] [--also NAME=BIN ...] [--out FILE]

Models (under bench/out/peer-compare, ignored; never committed): a random-weight
stories15M-shaped model (dim 288, hidden 768, 6 layers, 6 heads, the 32,000-token Llama 2
vocabulary, max seq 2048) written by bench/random_model, converted by `kvactor convert` to an
F32 and a Q8_0 GGUF; and stories260K as llama.cpp's own converter wrote it
(../shared/models/padded/stories260K-pad256-llama-F32.gguf, the real trained model).
Workloads: "shared" (prompts of a level share their first 100 of 130 tokens) and "distinct"
(no shared prefix). Every request streams, greedy, max_tokens tokens, with ignore_eos and
cache_prompt when the server accepts them (probed once per server and reported).
Mismatches: per level the first --check prompts are sent again alone; an answer that differs
from the one given under concurrency counts.

llama.cpp is built outside the checkout by ../shared/peer/build_llama_cpp.sh (benchmarks only).
--also NAME=BIN adds another kvactor binary (e.g. the build before a change) to the same
alternation, so a before/after comparison comes from one run. Appends a Markdown section to
bench/results/peer.md (or --out); raw JSON lines go to bench/out/peer-compare/results.jsonl.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out", "peer-compare")
SHARED = os.environ.get("KVACTOR_SHARED_DIR", os.path.join(ROOT, "..", "shared"))


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def peer_bin():
    return sh(os.path.join(SHARED, "peer", "build_llama_cpp.sh")).strip().splitlines()[-1]


def make_models(build, wanted):
    os.makedirs(OUT, exist_ok=True)
    files = {}
    src = os.path.join(OUT, "random15m")
    for kind in ("f32", "q8_0"):
        if kind not in wanted:
            continue
        path = os.path.join(OUT, f"15m-{kind}.gguf")
        if not os.path.exists(path):
            if not os.path.exists(os.path.join(src, "model.bin")):
                sh(os.path.join(build, "bench", "random_model"), "--seq", "2048", "--seed", "1", "--out", src,
                   "--tokenizer", os.path.join(SHARED, "models", "llama2-tokenizer.bin"))
            sh(os.path.join(build, "kvactor"), "convert", os.path.join(src, "model.bin"),
               os.path.join(src, "tokenizer.bin"), path, "--type", kind)
        files[kind] = (path, 100, 30000)  # prompt ids drawn from [100, 30000)
    if "260k" in wanted:
        files["260k"] = (os.path.join(SHARED, "models", "padded", "stories260K-pad256-llama-F32.gguf"), 3, 512)
    return files


def wait_up(url, proc, seconds=300):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.3)
    return False


def accepts(url, field):
    body = json.dumps({"prompt": [1, 5, 6], "max_tokens": 1, "temperature": 0, field: True}).encode()
    req = urllib.request.Request(url + "/v1/completions", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - a 400 naming the field
        return False


class Server:
    def __init__(self, name, argv, port, log):
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        if not wait_up(self.url, self.proc):
            self.stop()
            raise RuntimeError(f"{name} did not start: see {log}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def server_argv(name, binary, peer, model, port, slots, peer_threads):
    if name == "llama.cpp":
        # -c: slots x 256 positions (prompt 130 + up to 126 new tokens per slot).
        return [os.path.join(peer, "llama-server"), "-m", model, "-t", str(peer_threads), "-np", str(slots), "-c",
                str(slots * 256), "--no-repack", "--port", str(port), "--host", "127.0.0.1"]
    return [binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port)]


def drive(server, args, workload, low, high, seed):
    cmd = [sys.executable, os.path.join(ROOT, "bench", "peer_client.py"), "--url", server.url, "--concurrency",
           args.levels, "--requests", str(args.requests), "--prompt-len", "130", "--max-tokens",
           str(args.max_tokens), "--shared-prefix", "100" if workload == "shared" else "0", "--check",
           str(args.check), "--low", str(low), "--high", str(high), "--seed", str(seed), "--no-prefill"]
    flags = {}
    for field, flag in (("ignore_eos", "--ignore-eos"), ("cache_prompt", "--cache-prompt")):
        flags[field] = accepts(server.url, field)
        if flags[field]:
            cmd.append(flag)
    out = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["fields"] = flags
    return result


def run(args):
    build = os.path.abspath(args.build)
    peer = peer_bin()
    models = make_models(build, args.models.split(","))
    servers = [("kvactor", os.path.abspath(args.kvactor))] + [tuple(a.split("=", 1)) for a in args.also]
    servers.insert(1, ("llama.cpp", None))
    slots = max(int(c) for c in args.levels.split(","))
    rows, port = [], 18700 + os.getpid() % 500
    jsonl = open(os.path.join(OUT, "results.jsonl"), "a")
    for rep in range(1, args.reps + 1):
        for model in args.models.split(","):
            path, low, high = models[model]
            for workload in args.workloads.split(","):
                seed = 1000 * rep + zlib.crc32((model + workload).encode()) % 1000  # same prompts for every server
                order = servers if rep % 2 else servers[::-1]
                for name, binary in order:
                    port += 1
                    load = open("/proc/loadavg").read().split()[:3]
                    srv = Server(name, server_argv(name, binary, peer, path, port, slots, args.peer_threads), port,
                                 os.path.join(OUT, f"{name}.log"))
                    try:
                        res = drive(srv, args, workload, low, high, seed)
                    finally:
                        srv.stop()
                    row = {"rep": rep, "model": model, "workload": workload, "server": name,
                           "load": " ".join(load), "result": res}
                    print(f"rep {rep} {model} {workload} {name}: " + ", ".join(
                        f"c{l['concurrency']} {l['tok_s']:.0f}" for l in res["levels"]), file=sys.stderr, flush=True)
                    jsonl.write(json.dumps(row) + "\n")
                    jsonl.flush()
                    rows.append(row)
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def table(rows, args, started, load_start):
    names = []
    for r in rows:
        if r["server"] not in names:
            names.append(r["server"])
    others = [n for n in names if n != "llama.cpp"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [f"\n## {started:%Y-%m-%d %H:%M} UTC: {cpu}, {os.cpu_count()} CPUs, load average at start "
             f"{load_start}, at end {' '.join(open('/proc/loadavg').read().split()[:3])}\n",
             f"`bench/peer_compare.py {' '.join(sys.argv[1:])}`: {args.reps} repetitions (server order alternating), "
             f"{args.requests} requests per level (at least the concurrency), 130-token prompts, "
             f"{args.max_tokens} greedy tokens each, one SSE event per token, llama-server -t {args.peer_threads}. tok/s: medians over repetitions; "
             "ratio: median of the per-repetition ratios, [min–max] across repetitions. TTFT/ITL: medians of the "
             "per-run p50/p99 (ms). mism.: answers differing from the same prompt sent alone (all repetitions).\n"]
    fields = {r["server"]: r["result"]["fields"] for r in rows}
    lines.append("Fields accepted (ignore_eos, cache_prompt): " + "; ".join(
        f"{n}: {'+'.join(k for k, v in f.items() if v) or 'neither'}" for n, f in fields.items()) + "\n")
    head = "| model | workload | c | " + " | ".join(f"{n} tok/s" for n in names) + " | " + " | ".join(
        f"{n}/llama.cpp [spread]" for n in others) + " | " + " | ".join(
        f"{n} TTFT p50/p99 | {n} ITL p50/p99 | {n} mism." for n in names) + " |"
    lines += [head, "|" + " --- |" * (head.count("|") - 1)]
    for model in args.models.split(","):
        for workload in args.workloads.split(","):
            for c in (int(x) for x in args.levels.split(",")):
                cell = {}
                for n in names:
                    lv = [l for r in rows if r["server"] == n and r["model"] == model and r["workload"] == workload
                          for l in r["result"]["levels"] if l["concurrency"] == c]
                    reps = [r["rep"] for r in rows if r["server"] == n and r["model"] == model
                            and r["workload"] == workload]
                    cell[n] = (lv, reps)
                peer = {rep: l["tok_s"] for l, rep in zip(*cell["llama.cpp"])}
                parts = [f"{med([l['tok_s'] for l in cell[n][0]]):.0f}" for n in names]
                for n in others:
                    ratios = [l["tok_s"] / peer[rep] for l, rep in zip(*cell[n]) if peer.get(rep)]
                    parts.append(f"{med(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}]" if ratios else "?")
                for n in names:
                    lv = cell[n][0]
                    parts.append(f"{med([l['ttft_p50_ms'] for l in lv]):.0f}/{med([l['ttft_p99_ms'] for l in lv]):.0f}")
                    parts.append(f"{med([l['itl_p50_ms'] for l in lv]):.1f}/{med([l['itl_p99_ms'] for l in lv]):.1f}")
                    errors = sum(len(l["errors"]) for l in lv)
                    parts.append(f"{sum(l['mismatches'] for l in lv)}/{sum(l['checked'] for l in lv)}"
                                 + (f" ({errors} errors)" if errors else ""))
                lines.append(f"| {model} | {workload} | {c} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="levels 1,8,32, 16 requests of 32 tokens, 15M F32 and Q8_0, shared prefix only")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default="f32,q8_0,260k")
    ap.add_argument("--workloads", default="shared,distinct")
    ap.add_argument("--levels", default="1,2,4,8,16,32,64")
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--check", type=int, default=8, help="prompts per level resent alone for the mismatch count")
    ap.add_argument("--build", default=os.environ.get("KVACTOR_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--kvactor", default=None, help="kvactor binary (default BUILD/kvactor)")
    ap.add_argument("--also", action="append", default=[], help="NAME=BIN: another kvactor binary to compare")
    ap.add_argument("--peer-threads", type=int, default=2,
                    help="llama-server -t (2 = both cores; its busy-waiting pool collapses on a loaded machine)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "peer.md"))
    args = ap.parse_args()
    if args.quick:
        args.levels, args.requests, args.max_tokens, args.check = "1,8,32", 16, 32, 4
        args.models, args.workloads = "f32,q8_0", "shared"
    args.kvactor = args.kvactor or os.path.join(args.build, "kvactor")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = " ".join(open("/proc/loadavg").read().split()[:3])
    rows = run(args)
    text = table(rows, args, started, load_start)
    with open(args.out, "a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
