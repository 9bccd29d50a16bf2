#!/usr/bin/env python3
"""A test double of `kvactor serve` for the load-test and inspector tests only.

It speaks the same HTTP contract as the real server (http/API.md): streamed and
plain POST /v1/completions with usage.prompt_tokens_details.cached_tokens,
GET /metrics (Prometheus text), GET /v1/inspect/{actors,cache,requests,requests/<rid>}
and the console's static files under /console. Completions are a deterministic
function of the prompt (so greedy-correctness checks pass), and a toy prefix cache
over 16-byte pages gives real cache hits, page states and a trie to inspect.

`--corrupt-when-concurrent` changes the answer of a request that overlaps another
one: it lets tests prove the load test notices wrong answers.

Bound to loopback only; stops by itself after --max-lifetime seconds.
"""

import argparse
import hashlib
import json
import mimetypes
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_SIZE = 16
WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "to", "big",
         "red", "ball", "she", "he", "was", "happy", "sun", "tree", "dog"]
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def now_ms():
    return time.time() * 1000.0


def tokenize(text):
    """Toy tokenizer: BOS (1) then one token per byte (byte + 3, as llama2.c's byte fallback)."""
    return [1] + [b + 3 for b in text.encode("utf-8")]


def completion_words(prompt, count, salt=""):
    digest = hashlib.sha256((salt + prompt).encode("utf-8")).digest()
    return [(" " if i else "") + WORDS[digest[i % len(digest)] % len(WORDS)] for i in range(count)]


class TrieNode:
    def __init__(self, page, key, parent):
        self.page, self.key, self.parent = page, key, parent
        self.children = {}
        self.lock_count = 0
        self.hit_count = 0
        self.created_ms = now_ms()
        self.last_access_ms = self.created_ms


class FakeEngine:
    """All state under one lock: the double is about the wire format, not concurrency."""

    def __init__(self, total_pages, token_delay_s, corrupt_when_concurrent):
        self.lock = threading.Lock()
        self.total_pages = total_pages
        self.token_delay_s = token_delay_s
        self.corrupt_when_concurrent = corrupt_when_concurrent
        self.page_state = ["f"] * total_pages  # f, p, or c (cached; L/e derived from locks)
        self.page_node = {}
        self.root = TrieNode(-1, (), None)
        self.live = {}           # rid -> request record
        self.finished = []       # newest first, bounded
        self.next_rid = 0
        self.messages = {"gateway": 0, "page_pool": 0, "trie": 0, "scheduler": 0, "device-0": 0}
        self.counters = {"finished": 0, "cancelled": 0, "failed": 0, "rejected": 0,
                         "prompt_tokens": 0, "generated_tokens": 0,
                         "cache_queried_tokens": 0, "cache_hit_tokens": 0, "evictions": 0}
        self.hist = {"ttft": [], "e2e": [], "itl": []}
        self.trie_hits = 0

    # --- cache -------------------------------------------------------------------------------
    def _alloc_page(self):
        for i, s in enumerate(self.page_state):
            if s == "f":
                self.page_state[i] = "p"
                self.messages["page_pool"] += 1
                return i
        return self._evict_one() if self._evict_one_possible() else None

    def _evict_one_possible(self):
        return any(n.lock_count == 0 and not n.children for n in self.page_node.values())

    def _evict_one(self):
        leaves = [n for n in self.page_node.values() if n.lock_count == 0 and not n.children]
        victim = min(leaves, key=lambda n: n.last_access_ms)
        del victim.parent.children[victim.key]
        del self.page_node[victim.page]
        self.counters["evictions"] += 1
        self.page_state[victim.page] = "p"
        return victim.page

    def start(self, prompt, max_tokens):
        with self.lock:
            tokens = tokenize(prompt)
            rid = "fake-%d" % self.next_rid
            self.next_rid += 1
            node, path = self.root, []
            full_pages = len(tokens) // PAGE_SIZE
            for i in range(full_pages):
                key = tuple(tokens[i * PAGE_SIZE:(i + 1) * PAGE_SIZE])
                child = node.children.get(key)
                if child is None:
                    break
                child.lock_count += 1
                child.hit_count += 1
                child.last_access_ms = now_ms()
                path.append(child)
                node = child
            cached = len(path) * PAGE_SIZE
            self.trie_hits += len(path)
            private = []
            needed = -(-(len(tokens) + max_tokens) // PAGE_SIZE) - len(path)
            for _ in range(max(needed, 0)):
                page = self._alloc_page()
                if page is not None:
                    private.append(page)
            rec = {"rid": rid, "phase": "prefill", "tokens": tokens, "path": path,
                   "private": private, "prompt_tokens": len(tokens), "generated_tokens": 0,
                   "max_tokens": max_tokens, "cached_tokens": cached, "ttft_ms": None,
                   "start_ms": now_ms(), "end_ms": None, "preemptions": 0, "prompt": prompt}
            self.live[rid] = rec
            concurrent = len(self.live) > 1
            self.counters["prompt_tokens"] += len(tokens)
            self.counters["cache_queried_tokens"] += len(tokens)
            self.counters["cache_hit_tokens"] += cached
            self.messages["gateway"] += 1
            self.messages["trie"] += 1
            self.messages["scheduler"] += 1
            return rec, concurrent

    def token_emitted(self, rec):
        with self.lock:
            if rec["ttft_ms"] is None:
                rec["ttft_ms"] = now_ms() - rec["start_ms"]
                self.hist["ttft"].append(rec["ttft_ms"] / 1000.0)
                rec["phase"] = "decode"
            else:
                self.hist["itl"].append(self.token_delay_s)
            rec["generated_tokens"] += 1
            self.counters["generated_tokens"] += 1
            self.messages["device-0"] += 1
            self.messages["scheduler"] += 1

    def finish(self, rec):
        with self.lock:
            rec["phase"] = "done"
            rec["end_ms"] = now_ms()
            self.hist["e2e"].append((rec["end_ms"] - rec["start_ms"]) / 1000.0)
            for n in rec["path"]:
                n.lock_count -= 1
            # Publish the prompt's full pages beyond the matched path, like the real trie.
            tokens = rec["tokens"]
            node = rec["path"][-1] if rec["path"] else self.root
            private = list(rec["private"])
            for i in range(len(rec["path"]), len(tokens) // PAGE_SIZE):
                key = tuple(tokens[i * PAGE_SIZE:(i + 1) * PAGE_SIZE])
                if key in node.children or not private:
                    break
                page = private.pop(0)
                child = TrieNode(page, key, node)
                node.children[key] = child
                self.page_node[page] = child
                self.page_state[page] = "c"
                node = child
            for page in private:
                self.page_state[page] = "f"
            rec["private"], rec["path"] = [], []
            del self.live[rec["rid"]]
            self.finished.insert(0, rec)
            del self.finished[64:]
            self.counters["finished"] += 1
            self.messages["gateway"] += 1
            self.messages["trie"] += 1
            self.messages["page_pool"] += 1

    # --- snapshots (shapes from http/API.md) ---------------------------------------------------
    def _page_chars(self):
        out = []
        for i, s in enumerate(self.page_state):
            if s == "c":
                out.append("L" if self.page_node[i].lock_count > 0 else "e")
            else:
                out.append(s)
        return "".join(out)

    def _pages(self, chars):
        return {"total": self.total_pages, "free": chars.count("f"), "private": chars.count("p"),
                "cached_locked": chars.count("L"), "cached_evictable": chars.count("e")}

    def _request_json(self, rec):
        held = len(rec["private"]) + len(rec["path"])
        age_end = rec["end_ms"] if rec["end_ms"] is not None else now_ms()
        return {"rid": rec["rid"], "phase": rec["phase"], "prompt_tokens": rec["prompt_tokens"],
                "generated_tokens": rec["generated_tokens"], "max_tokens": rec["max_tokens"],
                "cached_tokens": rec["cached_tokens"], "pages_held": held,
                "locked_pages": len(rec["path"]),
                "ttft_ms": None if rec["ttft_ms"] is None else round(rec["ttft_ms"], 3),
                "age_ms": round(age_end - rec["start_ms"], 3), "preemptions": rec["preemptions"]}

    def actors(self):
        with self.lock:
            chars = self._page_chars()
            pages = self._pages(chars)
            locked = sum(1 for n in self.page_node.values() if n.lock_count > 0)
            running = [r for r in self.live.values()]
            actors = [
                {"kind": "gateway", "id": "gateway", "state": "running",
                 "messages_handled": self.messages["gateway"], "mailbox_depth": 0, "details": {}},
                {"kind": "page_pool", "id": "page_pool", "state": "running",
                 "messages_handled": self.messages["page_pool"], "mailbox_depth": 0,
                 "details": {"free": pages["free"], "allocated": self.total_pages - pages["free"]}},
                {"kind": "trie", "id": "trie", "state": "running",
                 "messages_handled": self.messages["trie"], "mailbox_depth": 0,
                 "details": {"nodes": len(self.page_node), "cached_pages": len(self.page_node),
                             "locked_nodes": locked}},
                {"kind": "scheduler", "id": "scheduler", "state": "stepping" if running else "idle",
                 "messages_handled": self.messages["scheduler"], "mailbox_depth": len(running),
                 "details": {"queued": 0, "running": len(running), "steps": self.messages["scheduler"],
                             "batch": [{"rid": r["rid"], "tokens": 1, "phase": r["phase"]}
                                       for r in running]}},
                {"kind": "device", "id": "device-0", "state": "stepping" if running else "idle",
                 "messages_handled": self.messages["device-0"], "mailbox_depth": 0,
                 "details": {"backend": "fake", "steps": self.messages["device-0"],
                             "tokens": self.counters["generated_tokens"], "last_step_ms": 0.1}},
            ]
            for r in running:
                actors.append({"kind": "request", "id": r["rid"], "state": "running",
                               "messages_handled": r["generated_tokens"] + 1, "mailbox_depth": 0,
                               "details": {"phase": r["phase"]}})
            return {"time_ms": int(now_ms()), "actors": actors}

    def cache(self, depth, max_nodes):
        with self.lock:
            chars = self._page_chars()
            budget = [max_nodes]
            truncated = [False]
            max_depth = [0]

            def below(n):
                return len(n.children) + sum(below(c) for c in n.children.values())

            def depth_of(n, d):
                max_depth[0] = max(max_depth[0], d)
                for c in n.children.values():
                    depth_of(c, d + 1)

            def dump(n, d):
                out = {"page": n.page, "tokens": len(n.key), "lock_count": n.lock_count,
                       "hit_count": n.hit_count,
                       "age_ms": 0 if n.page < 0 else round(now_ms() - n.last_access_ms, 1),
                       "pages_below": below(n), "children": []}
                if n.page >= 0:
                    out["first_tokens"] = list(n.key[:3])
                for c in sorted(n.children.values(), key=lambda c: c.page):
                    if d >= depth or budget[0] <= 0:
                        truncated[0] = True
                        break
                    budget[0] -= 1
                    out["children"].append(dump(c, d + 1))
                return out

            depth_of(self.root, 0)
            tree = dump(self.root, 0)
            tree["truncated"] = truncated[0]
            pages = self._pages(chars)
            locked = sum(1 for n in self.page_node.values() if n.lock_count > 0)
            return {"page_size": PAGE_SIZE, "pages": pages, "page_states": chars,
                    "trie": {"nodes": len(self.page_node), "cached_pages": len(self.page_node),
                             "locked_nodes": locked, "max_depth": max_depth[0],
                             "hits": self.trie_hits, "evictions": self.counters["evictions"],
                             "policy": "lru"},
                    "invariants_ok": sum(pages[k] for k in pages if k != "total") == self.total_pages,
                    "tree": tree}

    def requests(self):
        with self.lock:
            live = sorted(self.live.values(), key=lambda r: -r["start_ms"])
            return {"requests": [self._request_json(r) for r in live + self.finished]}

    def request(self, rid):
        with self.lock:
            rec = self.live.get(rid) or next((r for r in self.finished if r["rid"] == rid), None)
            return None if rec is None else self._request_json(rec)

    def metrics_text(self):
        with self.lock:
            c = self.counters
            pages = self._pages(self._page_chars())
            lines = [
                "# TYPE kvactor_requests_total counter",
                'kvactor_requests_total{outcome="finished"} %d' % c["finished"],
                'kvactor_requests_total{outcome="cancelled"} %d' % c["cancelled"],
                'kvactor_requests_total{outcome="failed"} %d' % c["failed"],
                'kvactor_requests_total{outcome="rejected"} %d' % c["rejected"],
                "# TYPE kvactor_queue_depth gauge", "kvactor_queue_depth 0",
                "# TYPE kvactor_running_requests gauge",
                "kvactor_running_requests %d" % len(self.live),
            ]
            # Names as the real server's http/server_metrics.cpp writes them.
            for name, metric in (("prompt_tokens", "prompt_tokens"),
                                 ("generated_tokens", "generated_tokens"),
                                 ("cache_queried_tokens", "prefix_cache_queried_tokens"),
                                 ("cache_hit_tokens", "prefix_cache_hit_tokens"),
                                 ("evictions", "evictions")):
                lines += ["# TYPE kvactor_%s_total counter" % metric,
                          "kvactor_%s_total %d" % (metric, c[name])]
            lines.append("# TYPE kvactor_pages gauge")
            for state in ("total", "free", "private", "cached_locked", "cached_evictable"):
                lines.append('kvactor_pages{state="%s"} %d' % (state, pages[state]))
            for name, values in (("time_to_first_token", self.hist["ttft"]),
                                 ("inter_token_latency", self.hist["itl"]),
                                 ("e2e_request_latency", self.hist["e2e"])):
                metric = "kvactor_%s_seconds" % name
                lines.append("# TYPE %s histogram" % metric)
                for le in (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5):
                    lines.append('%s_bucket{le="%g"} %d' % (metric, le, sum(v <= le for v in values)))
                lines.append('%s_bucket{le="+Inf"} %d' % (metric, len(values)))
                lines.append("%s_sum %.6f" % (metric, sum(values)))
                lines.append("%s_count %d" % (metric, len(values)))
            return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None
    console_dir = os.path.join(REPO_ROOT, "console")

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _send(self, status, body, ctype="application/json"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj))

    def _error(self, status, code, message):
        self._json(status, {"error": {"code": code, "message": message}})

    def do_GET(self):
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        eng = self.engine
        if path == "/health":
            return self._json(200, {"status": "ok"})
        if path == "/metrics":
            return self._send(200, eng.metrics_text(), "text/plain; version=0.0.4")
        if path == "/v1/inspect/actors":
            return self._json(200, eng.actors())
        if path == "/v1/inspect/cache":
            try:
                depth = int(params.get("depth", 8))
                max_nodes = int(params.get("max_nodes", 256))
            except ValueError:
                return self._error(400, "BAD_REQUEST", "depth and max_nodes must be integers")
            return self._json(200, eng.cache(depth, max_nodes))
        if path == "/v1/inspect/requests":
            return self._json(200, eng.requests())
        m = re.fullmatch(r"/v1/inspect/requests/([A-Za-z0-9_.-]+)", path)
        if m:
            rec = eng.request(m.group(1))
            if rec is None:
                return self._error(404, "NOT_FOUND", "no request " + m.group(1))
            return self._json(200, rec)
        if path in ("/console", "/console/"):
            path = "/console/index.html"
        if path.startswith("/console/"):
            name = path[len("/console/"):]
            if "/" in name or name.startswith("."):
                return self._error(404, "NOT_FOUND", "no such file")
            full = os.path.join(self.console_dir, name)
            if not os.path.isfile(full):
                return self._error(404, "NOT_FOUND", "no such file")
            with open(full, "rb") as f:
                return self._send(200, f.read(), mimetypes.guess_type(full)[0] or "text/plain")
        return self._error(404, "NOT_FOUND", "no route " + path)

    def do_POST(self):
        if self.path != "/v1/completions":
            return self._error(404, "NOT_FOUND", "no route " + self.path)
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            prompt = body["prompt"]
            max_tokens = int(body.get("max_tokens", 16))
            if not isinstance(prompt, str) or max_tokens < 1:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self._error(400, "BAD_REQUEST", "prompt (string) and max_tokens >= 1 required")
        eng = self.engine
        rec, concurrent = eng.start(prompt, max_tokens)
        salt = "corrupt" if (concurrent and eng.corrupt_when_concurrent) else ""
        words = completion_words(prompt, max_tokens, salt)
        usage = {"prompt_tokens": rec["prompt_tokens"], "completion_tokens": len(words),
                 "total_tokens": rec["prompt_tokens"] + len(words),
                 "prompt_tokens_details": {"cached_tokens": rec["cached_tokens"]}}
        if not body.get("stream"):
            for _ in words:
                time.sleep(eng.token_delay_s)
                eng.token_emitted(rec)
            eng.finish(rec)
            return self._json(200, {"id": rec["rid"], "object": "text_completion",
                                    "choices": [{"index": 0, "text": "".join(words),
                                                 "finish_reason": "length"}],
                                    "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj):
            data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        for w in words:
            time.sleep(eng.token_delay_s)
            eng.token_emitted(rec)
            event({"id": rec["rid"], "object": "text_completion",
                   "choices": [{"index": 0, "text": w, "finish_reason": None}]})
        eng.finish(rec)
        # Like the real server: the finish reason comes in its own empty-text chunk.
        event({"id": rec["rid"], "object": "text_completion",
               "choices": [{"index": 0, "text": "", "finish_reason": "length"}]})
        event({"id": rec["rid"], "object": "text_completion", "choices": [], "usage": usage})
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients close streams right after [DONE]; a reset then is normal, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    ap.add_argument("--pages", type=int, default=256)
    ap.add_argument("--token-delay-ms", type=float, default=2.0)
    ap.add_argument("--corrupt-when-concurrent", action="store_true")
    ap.add_argument("--max-lifetime", type=float, default=600.0, help="seconds before exiting")
    args = ap.parse_args(argv)
    Handler.engine = FakeEngine(args.pages, args.token_delay_ms / 1000.0, args.corrupt_when_concurrent)
    server = QuietServer(("127.0.0.1", args.port), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    lifetime = threading.Timer(args.max_lifetime, server.shutdown)
    lifetime.daemon = True
    lifetime.start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
