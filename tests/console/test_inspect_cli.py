"""`kvactor inspect` against the fake server (tests/scripts/fake_kvactor_server.py): the printed
tables carry the same numbers as /v1/inspect/*, and bad flags or an unreachable server give
clear messages with exit status 2 and 1. KVACTOR_BIN names the built kvactor executable."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FAKE = os.path.join(REPO, "tests", "scripts", "fake_kvactor_server.py")
LOADTEST = os.path.join(REPO, "scripts", "loadtest.py")
BIN = os.environ.get("KVACTOR_BIN", os.path.join(REPO, "build", "kvactor"))


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InspectCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise RuntimeError("no kvactor executable at " + BIN)
        cls.server = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--max-lifetime", "120"],
                                      stdout=subprocess.PIPE, text=True)
        cls.url = cls.server.stdout.readline().split()[-1]
        # Some finished requests and a populated trie to print.
        subprocess.run([sys.executable, LOADTEST, "--url", cls.url, "--workload", "shared-prefix",
                        "--groups", "2", "--prompts-per-group", "3", "--output-len", "5",
                        "--concurrency", "2", "--quiet", "--out", os.path.join("/tmp", "inspect-cli-%d" % os.getpid())],
                       check=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(10)
        cls.server.stdout.close()
        for ext in (".json", ".html"):
            path = os.path.join("/tmp", "inspect-cli-%d" % os.getpid()) + ext
            if os.path.exists(path):
                os.remove(path)

    def inspect(self, *args, timeout=30):
        return subprocess.run([BIN, "inspect", *args], capture_output=True, text=True, timeout=timeout)

    def get(self, path):
        return json.load(urllib.request.urlopen(self.url + path, timeout=5))

    @staticmethod
    def rows(text, header_word):
        """Data rows of the table whose header line starts with header_word, split on spaces."""
        lines = text.splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith(header_word + " "))
        out = []
        for line in lines[start + 1:]:
            if not line.strip() or line.isupper():
                break
            out.append(line.split())
        return out

    def test_requests_table_matches_snapshot(self):
        r = self.inspect("--url", self.url, "requests")
        self.assertEqual(r.returncode, 0, r.stderr)
        snap = self.get("/v1/inspect/requests")["requests"]
        rows = {row[0]: row for row in self.rows(r.stdout, "RID")}
        self.assertEqual(len(rows), len(snap))
        self.assertEqual(len(snap), 12)   # 6 prompts alone for reference, then 6 under load
        for req in snap:
            row = rows[req["rid"]]
            self.assertEqual(row[1:8], [req["phase"], str(req["prompt_tokens"]), str(req["generated_tokens"]),
                                        str(req["max_tokens"]), str(req["cached_tokens"]), str(req["pages_held"]),
                                        str(req["locked_pages"])])
            self.assertEqual(row[8], "%.1f" % req["ttft_ms"])
        self.assertIn("REQUESTS (0 live, 12 recent finished)", r.stdout)

    def test_one_request_and_unknown_rid(self):
        rid = self.get("/v1/inspect/requests")["requests"][0]["rid"]
        r = self.inspect("--url", self.url, "requests", rid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.rows(r.stdout, "RID")[0][0], rid)
        r = self.inspect("--url", self.url, "requests", "no-such-rid")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 404", r.stderr)
        self.assertIn("NOT_FOUND", r.stderr)

    def test_cache_view_matches_snapshot(self):
        r = self.inspect("--url", self.url, "cache", "--max-nodes", "500")
        self.assertEqual(r.returncode, 0, r.stderr)
        snap = self.get("/v1/inspect/cache?depth=8&max_nodes=500")
        pages = snap["pages"]
        self.assertEqual(self.rows(r.stdout, "PAGES")[0],
                         [str(pages[k]) for k in ("total", "free", "private", "cached_locked", "cached_evictable")])
        trie = snap["trie"]
        self.assertEqual(self.rows(r.stdout, "TRIE")[0],
                         [str(trie[k]) for k in ("nodes", "cached_pages", "locked_nodes", "max_depth", "hits",
                                                 "evictions")] + [trie["policy"]])
        self.assertIn("invariants ok", r.stdout)
        self.assertIn(snap["page_states"][:64], r.stdout)
        # One printed tree row per dumped node.
        def count(n):
            return len(n["children"]) + sum(count(c) for c in n["children"])
        tree_rows = self.rows(r.stdout, "PAGE")
        self.assertEqual(len(tree_rows), count(snap["tree"]))
        self.assertGreater(len(tree_rows), 2)

    def test_actors_view_and_watch_rates(self):
        r = self.inspect("--url", self.url, "actors", "--watch", "--interval", "0.2", "--count", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        snap = self.get("/v1/inspect/actors")["actors"]
        screens = r.stdout.split("\n----\n")
        self.assertEqual(len(screens), 2)
        first = {row[1]: row for row in self.rows(screens[0], "KIND")}
        second = {row[1]: row for row in self.rows(screens[1], "KIND")}
        self.assertEqual(set(first), {a["id"] for a in snap})
        for a in snap:
            self.assertEqual(first[a["id"]][:5], [a["kind"], a["id"], a["state"], str(a["mailbox_depth"]),
                                                 str(a["messages_handled"])])
            self.assertEqual(first[a["id"]][5], "-")       # no rate without a previous refresh
            self.assertEqual(second[a["id"]][5], "0.0")    # idle server: nothing handled in between

    def test_all_views_by_default(self):
        r = self.inspect("--url", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        for title in ("ACTORS (", "CACHE  page size 16", "REQUESTS ("):
            self.assertIn(title, r.stdout)

    def test_bad_arguments_exit_2_with_a_message(self):
        for args, message in ((["--bogus"], "unknown flag '--bogus'"),
                              (["sideways"], "unknown view 'sideways'"),
                              (["--interval", "1"], "need --watch"),
                              (["--watch", "--interval", "0"], "--interval needs a number"),
                              (["--watch", "--count", "x"], "--count needs an integer"),
                              (["--url"], "--url needs a value"),
                              (["--url", "https://127.0.0.1:1"], "must start with http://"),
                              (["--url", "http://127.0.0.1:70000"], "port in --url")):
            r = self.inspect(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr, args)
            self.assertEqual(r.stdout, "")

    def test_help(self):
        r = self.inspect("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--url", "--watch", "--interval", "--count", "--depth", "--max-nodes", "--timeout"):
            self.assertIn(flag, r.stdout)

    def test_unreachable_server_exits_1(self):
        r = self.inspect("--url", "http://127.0.0.1:%d" % unused_port(), "actors")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach http://127.0.0.1:", r.stderr)
        self.assertIn("refused", r.stderr)

    def test_error_reply_with_a_numeric_code_is_reported(self):
        # Another server's error body: the code is a number, not a string.
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"error": {"code": 503, "message": "warming up"}}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            r = self.inspect("--url", "http://127.0.0.1:%d" % server.server_address[1], "actors", timeout=10)
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(r.returncode, 1)
        self.assertIn("answered HTTP 503: 503: warming up", r.stderr)

    def test_silent_server_times_out(self):
        with socket.socket() as listener:   # accepts connections but never answers
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            r = self.inspect("--url", "http://127.0.0.1:%d" % port, "--timeout", "0.5", "actors", timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("timed out", r.stderr)


if __name__ == "__main__":
    unittest.main()


class InspectRealServerTest(unittest.TestCase):
    """The same tables from the real `kvactor serve` after a little traffic."""

    def test_tables_match_the_real_servers_snapshots(self):
        sys.path.insert(0, os.path.join(REPO, "tests", "scripts"))
        import real_server  # noqa: E402  (shared with the load-test tests)
        ok, why = real_server.serve_available()
        self.assertTrue(ok, why)
        log = os.path.join("/tmp", "inspect-cli-serve-%d.log" % os.getpid())
        server = real_server.RealServer(log)
        try:
            subprocess.run([sys.executable, LOADTEST, "--url", server.url, "--workload", "shared-prefix",
                            "--groups", "2", "--prompts-per-group", "2", "--output-len", "8",
                            "--concurrency", "2", "--quiet", "--out", log + ".report"], check=True, timeout=120)
            r = subprocess.run([BIN, "inspect", "--url", server.url], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            requests = json.load(urllib.request.urlopen(server.url + "/v1/inspect/requests", timeout=5))["requests"]
            cache = json.load(urllib.request.urlopen(server.url + "/v1/inspect/cache", timeout=5))
        finally:
            server.close()
            for suffix in ("", ".report.json", ".report.html"):
                if os.path.exists(log + suffix):
                    os.remove(log + suffix)
        rows = {row[0]: row for row in InspectCommandTest.rows(r.stdout, "RID")}
        self.assertEqual(len(rows), len(requests))
        self.assertEqual(len(requests), 8)
        for req in requests:
            self.assertEqual(rows[req["rid"]][1:8],
                             [req["phase"], str(req["prompt_tokens"]), str(req["generated_tokens"]),
                              str(req["max_tokens"]), str(req["cached_tokens"]), str(req["pages_held"]),
                              str(req["locked_pages"])])
        pages = cache["pages"]
        self.assertEqual(InspectCommandTest.rows(r.stdout, "PAGES")[0],
                         [str(pages[k]) for k in ("total", "free", "private", "cached_locked", "cached_evictable")])
        self.assertIn("invariants ok", r.stdout)
        for kind in ("scheduler", "device", "trie", "page_pool", "gateway"):
            self.assertIn(kind, r.stdout)
