"""Tenants (issue 20) on the real `kvactor serve` with the bundled stories260K model: keys from
a keys file, isolated prefix caches (cached_tokens never crosses tenants, also under
concurrency), cache_salt, inspection filtered per tenant, the per-tenant in-flight limit,
fair share in admission, and keys-file errors refused at start naming the line."""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import real_server  # noqa: E402

KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef00",
        "ops": "ops-key-0123456789abcdef000"}
STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
         "with her friends. One day, she saw a big red ball under a tree. ")


def call(server, path, body=None, key=None, timeout=120):
    """(status, headers, parsed JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", "Bearer " + KEYS.get(key, key))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, headers, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, dict(e.headers), e.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode("utf-8", "replace")


def completion(server, key, prompt, max_tokens=8, **extra):
    status, _, doc = call(server, "/v1/completions",
                          dict(prompt=prompt, max_tokens=max_tokens, temperature=0, **extra), key)
    assert status == 200, (status, doc)
    return doc["choices"][0]["text"], doc["usage"]["prompt_tokens_details"]["cached_tokens"]


def write_keys(directory, text, name="keys.txt"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class TenantsOnRealServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ok, why = real_server.serve_available()
        if not ok:
            raise RuntimeError(why)
        cls.tmp = tempfile.TemporaryDirectory()
        keys = write_keys(cls.tmp.name, "# test tenants\nalice %s\nbob %s weight=2\nops %s admin\n"
                          % (KEYS["alice"], KEYS["bob"], KEYS["ops"]))
        cls.server = real_server.RealServer(os.path.join(cls.tmp.name, "server.log"),
                                            ["--api-keys-file", keys, "--max-batch", "4"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        with open(os.path.join(cls.tmp.name, "server.log")) as f:
            log = f.read()
        for key in KEYS.values():
            assert key not in log, "a key was logged"
        cls.tmp.cleanup()

    def test_unknown_or_missing_key_is_401_and_open_endpoints_stay_open(self):
        self.assertEqual(call(self.server, "/v1/completions", {"prompt": "x"})[0], 401)
        self.assertEqual(call(self.server, "/v1/completions", {"prompt": "x"}, "not-a-key-0123456789")[0], 401)
        self.assertEqual(call(self.server, "/v1/inspect/requests", key="wrong-key-0123456789abc")[0], 401)
        for path in ("/health", "/v1/models", "/metrics"):
            self.assertEqual(call(self.server, path)[0], 200, path)

    def test_caches_are_isolated_under_concurrency(self):
        # Distinct from the first token: a tenant's prompts share no pages among themselves.
        prompts = ["Story %d. %s The cat and the dog were friends %d." % (i, STORY, i) for i in range(6)]
        # alice warms every prompt, then alice and bob send them all at once, many times.
        for p in prompts:
            completion(self.server, "alice", p)
        jobs = [("alice", p) for p in prompts for _ in range(3)] + [("bob", p) for p in prompts]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda j: (j, completion(self.server, j[0], j[1])), jobs))
        for (who, p), (text, cached) in results:
            if who == "alice":
                self.assertGreater(cached, 0, "alice's own prompt is cached for alice")
            else:
                self.assertEqual(cached, 0, "bob got cached tokens from alice's prompt")
        texts = {}
        for (who, p), (text, _) in results:
            texts.setdefault(p, set()).add(text)
        for p, seen in texts.items():
            self.assertEqual(len(seen), 1, "the same greedy prompt answered differently: %r" % seen)
        # bob's own second send hits bob's cache.
        self.assertGreater(completion(self.server, "bob", prompts[0])[1], 0)

    def test_cache_salt_narrows_within_a_tenant_only(self):
        p = STORY + "The salt story: a bird sang on the roof all morning long."
        text, _ = completion(self.server, "alice", p)
        self.assertGreater(completion(self.server, "alice", p)[1], 0)
        salted_text, cached = completion(self.server, "alice", p, cache_salt="s1")
        self.assertEqual(cached, 0, "a new salt starts an empty namespace")
        self.assertEqual(salted_text, text)
        self.assertGreater(completion(self.server, "alice", p, cache_salt="s1")[1], 0)
        self.assertEqual(completion(self.server, "alice", p, cache_salt="s2")[1], 0)
        self.assertEqual(completion(self.server, "bob", p, cache_salt="s1")[1], 0, "a salt crossed tenants")
        # /generate and chat take the salt too: /generate publishes in (alice, g), completions match it.
        q = STORY + "The generate story: a frog jumped into the pond."
        status, _, _ = call(self.server, "/generate",
                            {"text": q, "sampling_params": {"max_completion_tokens": 4, "temperature": 0},
                             "cache_salt": "g"}, "alice")
        self.assertEqual(status, 200)
        self.assertGreater(completion(self.server, "alice", q, cache_salt="g")[1], 0)
        self.assertEqual(completion(self.server, "alice", q, cache_salt="h")[1], 0)
        chat = {"messages": [{"role": "user", "content": p}], "max_tokens": 4, "temperature": 0,
                "cache_salt": "c"}
        self.assertEqual(call(self.server, "/v1/chat/completions", chat, "alice")[0], 200)
        status, _, doc = call(self.server, "/v1/chat/completions", chat, "alice")
        self.assertEqual(status, 200)
        self.assertGreater(doc["usage"]["prompt_tokens_details"]["cached_tokens"], 0)
        status, _, doc = call(self.server, "/v1/chat/completions", dict(chat, cache_salt=5), "alice")
        self.assertEqual(status, 400)
        self.assertIn("cache_salt", doc["error"]["message"])

    def test_inspection_shows_a_tenant_only_its_own(self):
        completion(self.server, "alice", STORY + "alice inspects.")
        completion(self.server, "bob", STORY + "bob inspects.")
        for who, tenant_id in (("alice", 1), ("bob", 2)):
            status, _, doc = call(self.server, "/v1/inspect/requests", key=who)
            self.assertEqual(status, 200)
            self.assertTrue(doc["requests"])
            self.assertEqual({r["tenant"] for r in doc["requests"]}, {tenant_id})
            status, _, cache = call(self.server, "/v1/inspect/cache", key=who)
            self.assertEqual(status, 200)
            self.assertTrue(cache["tree"]["children"])
            self.assertEqual({c["ns"] >> 32 for c in cache["tree"]["children"]}, {tenant_id})
            self.assertEqual([t["tenant"] for t in cache["tenants"]], [who])
            self.assertNotIn("page_states", cache)
            self.assertEqual(call(self.server, "/v1/inspect/actors", key=who)[0], 403)
        status, _, doc = call(self.server, "/v1/inspect/requests", key="ops")
        self.assertTrue({1, 2} <= {r["tenant"] for r in doc["requests"]})
        bobs = [r["rid"] for r in doc["requests"] if r["tenant"] == 2]
        self.assertEqual(call(self.server, "/v1/inspect/requests/" + bobs[0], key="alice")[0], 404)
        self.assertEqual(call(self.server, "/v1/inspect/requests/" + bobs[0], key="bob")[0], 200)
        status, _, cache = call(self.server, "/v1/inspect/cache", key="ops")
        self.assertTrue({"alice", "bob"} <= {t["tenant"] for t in cache["tenants"]})
        self.assertIn("page_states", cache)
        self.assertEqual(call(self.server, "/v1/inspect/actors", key="ops")[0], 200)
        metrics = call(self.server, "/metrics")[2]
        self.assertRegex(metrics, r'kvactor_tenant_cache_hit_tokens_total\{tenant="alice"\} [1-9]')
        self.assertIn('kvactor_tenant_requests_total{tenant="bob"}', metrics)


class FairShareAndLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.keys = write_keys(cls.tmp.name, "alice %s\nbob %s\nops %s admin\n"
                              % (KEYS["alice"], KEYS["bob"], KEYS["ops"]))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_one_request_of_b_is_not_starved_by_200_of_a(self):
        server = real_server.RealServer(os.path.join(self.tmp.name, "fair.log"),
                                        ["--api-keys-file", self.keys, "--max-batch", "1"])
        try:
            prompts = ["Once upon a time %d" % (i % 10) for i in range(200)]
            b_prompt = "Bob had a little boat"
            alone = {p: completion(server, "ops", p, max_tokens=32)[0] for p in set(prompts) | {b_prompt}}
            done, lock = [], threading.Lock()

            def send(who, p):
                text = completion(server, who, p, max_tokens=32)[0]
                with lock:
                    done.append(who)
                return who, p, text

            with concurrent.futures.ThreadPoolExecutor(201) as pool:
                futures = [pool.submit(send, "alice", p) for p in prompts]
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:  # until alice's requests fill the queue
                    reqs = call(server, "/v1/inspect/requests", key="ops")[2]["requests"]
                    if sum(1 for r in reqs if r.get("tenant") == 1 and r.get("phase") == "queued") >= 100:
                        break
                    time.sleep(0.02)
                with lock:
                    a_done_before = len(done)
                futures.append(pool.submit(send, "bob", b_prompt))
                results = [f.result() for f in futures]
            for who, p, text in results:
                self.assertEqual(text, alone[p], "%s's answer differs from its alone answer" % who)
            b_index = done.index("bob")
            # Bound: B is admitted at the next admission round (fair share): the one running
            # request of A (max_batch 1) finishes before it; 8 leaves room for answers that
            # were on their way when B was sent.
            a_between = b_index - a_done_before
            self.assertLessEqual(a_between, 8, "B waited behind %d of A's requests" % a_between)
            self.assertGreater(len(done) - b_index - 1, 50, "the queue was not full of A's requests")
        finally:
            server.close()

    def test_per_tenant_in_flight_limit_is_429_and_off_by_default(self):
        server = real_server.RealServer(os.path.join(self.tmp.name, "limit.log"),
                                        ["--api-keys-file", self.keys, "--max-requests-per-tenant", "1",
                                         "--max-batch", "1"])
        try:
            big = {"text": ["Once upon a time %d" % i for i in range(64)],
                   "sampling_params": {"max_completion_tokens": 200, "temperature": 0}}
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                batch = pool.submit(call, server, "/generate", big, "alice")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not batch.done():
                    reqs = call(server, "/v1/inspect/requests", key="ops")[2]["requests"]
                    if any(r["tenant"] == 1 and r["phase"] in ("queued", "prefill", "decode") for r in reqs):
                        break
                    time.sleep(0.01)
                status, headers, doc = call(server, "/v1/completions", {"prompt": "x", "max_tokens": 2}, "alice")
                still_running = not batch.done()
                bob = call(server, "/v1/completions", {"prompt": "x", "max_tokens": 2}, "bob")[0]
                self.assertEqual(batch.result()[0], 200)
            self.assertTrue(still_running, "the batch ended before the limit could be tested")
            self.assertEqual(status, 429)
            self.assertEqual(doc["error"]["code"], "TOO_MANY_REQUESTS")
            self.assertIn("max_requests_per_tenant", doc["error"]["message"])
            self.assertIn("Retry-After", headers)
            self.assertEqual(bob, 200, "another tenant is not limited by alice's requests")
            self.assertEqual(call(server, "/v1/completions", {"prompt": "x", "max_tokens": 2}, "alice")[0], 200)
        finally:
            server.close()


class KeysFileErrors(unittest.TestCase):
    def start_error(self, args):
        models = real_server.MODELS
        proc = subprocess.run([real_server.BIN, "serve", "--model", os.path.join(models, "stories260K.bin"),
                               "--tokenizer", os.path.join(models, "tok512.bin"), "--port", "0", *args],
                              cwd=real_server.REPO, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc.stderr

    def test_bad_keys_files_are_refused_at_start_naming_the_line(self):
        with tempfile.TemporaryDirectory() as d:
            a, b = KEYS["alice"], KEYS["bob"]
            self.assertIn("cannot read", self.start_error(["--api-keys-file", os.path.join(d, "missing.txt")]))
            self.assertIn("cannot read", self.start_error(["--api-keys-file", d]))  # a directory
            if os.geteuid() != 0:
                locked = write_keys(d, "alice %s\n" % a, "locked.txt")
                os.chmod(locked, 0)
                self.assertIn("cannot read", self.start_error(["--api-keys-file", locked]))
            err = self.start_error(["--api-keys-file", write_keys(d, "alice %s\n# x\nbob %s\n" % (a, a), "dup.txt")])
            self.assertIn("line 3", err)
            self.assertIn("same key", err)
            self.assertNotIn(a, err)
            err = self.start_error(["--api-keys-file", write_keys(d, "alice %s\nalice %s\n" % (a, b), "name.txt")])
            self.assertIn("line 2", err)
            err = self.start_error(["--api-keys-file", write_keys(d, "alice %s\nbob\n" % a, "format.txt")])
            self.assertIn("line 2", err)
            err = self.start_error(["--api-keys-file", write_keys(d, '{"alice": "%s",\n "bob": 7}' % a, "j.json")])
            self.assertIn("line 2", err)
            self.assertIn("bob", err)


if __name__ == "__main__":
    unittest.main()
