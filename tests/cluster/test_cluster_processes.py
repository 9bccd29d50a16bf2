"""Nodes (`kvactor serve --node-port 0`) and a router (`kvactor route`) as separate
processes on loopback: outputs through the router equal a single node's; a node killed
under load; a node that comes back; a router restart; prefix-aware vs random hit rate."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

from cluster_processes import (BIN, REPO, Node, Router, completion, get_json, node_pages, post, stream_completion,
                               wait_for)

PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a big bird",
           "Tom had a red ball", "The sun was hot and"]


def text_of(answer):
    status, body = answer
    assert status == 200, (status, body)
    return body["choices"][0]["text"]


def run_parallel(fn, items):
    results = [None] * len(items)

    def work(i, item):
        try:
            results[i] = fn(item)
        except Exception as e:  # reported by the caller's assertions
            results[i] = e
    threads = [threading.Thread(target=work, args=(i, item)) for i, item in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def all_pages_back(node):
    pages = node_pages(node)["pages"]
    return pages["private"] == 0 and pages["cached_locked"] == 0 and \
        pages["free"] + pages["cached_evictable"] == pages["total"]


class outputs_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = [Node(), Node()]
        cls.router = Router(cls.nodes)

    @classmethod
    def tearDownClass(cls):
        cls.router.stop()
        for n in cls.nodes:
            n.stop()

    def test_greedy_and_seeded_outputs_equal_a_single_nodes(self):
        single = self.nodes[0].url
        for prompt in PROMPTS:
            for sampling in ({"temperature": 0}, {"temperature": 0.8, "seed": 11}, {"temperature": 1.0, "top_k": 20,
                                                                                   "top_p": 0.9, "seed": 3}):
                with self.subTest(prompt=prompt, sampling=sampling):
                    expected = text_of(completion(single, prompt, 40, **sampling))
                    self.assertEqual(text_of(completion(self.router.url, prompt, 40, **sampling)), expected)

    def test_concurrent_requests_are_spread_and_unchanged(self):
        expected = {p: text_of(completion(self.nodes[1].url, p, 30, temperature=0)) for p in PROMPTS}
        before = self.router.cluster()
        got = run_parallel(lambda p: text_of(completion(self.router.url, p, 30, temperature=0)), PROMPTS * 2)
        for p, text in zip(PROMPTS * 2, got):
            self.assertEqual(text, expected[p], p)
        after = self.router.cluster()
        self.assertEqual(after["requests"]["routed"] - before["requests"]["routed"], len(PROMPTS) * 2)
        self.assertTrue(all(n["routed"] > 0 for n in after["nodes"]), after)
        self.assertTrue(all(n["in_flight"] == 0 for n in after["nodes"]), after)

    def test_streamed_text_equals_the_whole_answer(self):
        for prompt in PROMPTS[:3]:
            greedy = text_of(completion(self.nodes[0].url, prompt, 30, temperature=0))
            streamed, error = stream_completion(self.router.url, prompt, 30, temperature=0)
            self.assertIsNone(error)
            self.assertEqual(streamed, greedy)

    def test_bad_input_gets_the_same_error_as_a_node(self):
        for body in ({"prompt": "x", "max_tokens": -1}, {"max_tokens": 4}, {"prompt": "x", "temperature": 5},
                     {"prompt": "x", "max_tokens": 600}):
            node_status, node_body = post(self.nodes[0].url + "/v1/completions", body)
            router_status, router_body = post(self.router.url + "/v1/completions", body)
            self.assertEqual(node_status, 400, node_body)
            self.assertEqual((router_status, router_body), (node_status, node_body), body)

    def test_cluster_view_and_metrics(self):
        text_of(completion(self.router.url, " ".join(PROMPTS), 8, temperature=0))  # two full pages or more
        view = self.router.cluster()
        self.assertEqual(view["policy"], "prefix")
        self.assertEqual(len(view["nodes"]), 2)
        addresses = {n.node_address for n in self.nodes}
        for n in view["nodes"]:
            self.assertIn(n["address"], addresses)
            self.assertEqual(n["state"], "up")
            for key in ("in_flight", "running", "queue_depth", "cached_pages", "hit_rate", "tree_tokens", "pages"):
                self.assertIn(key, n)
        self.assertGreater(sum(n["cached_pages"] for n in view["nodes"]), 0)
        # Prometheus text through the router: the nodes' counters summed.
        with urllib.request.urlopen(self.router.url + "/metrics", timeout=30) as r:
            metrics = r.read().decode()
        self.assertIn("kvactor_requests_total", metrics)
        self.assertIn("kvactor_prefix_cache_queried_tokens_total", metrics)
        # A single node has no cluster view.
        status, body = get_status(self.nodes[0].url + "/v1/inspect/cluster")
        self.assertEqual(status, 404)


class console_test(unittest.TestCase):
    """`kvactor inspect cluster` and the browser console show the router's nodes."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = [Node(), Node()]
        cls.router = Router(cls.nodes)
        for p in PROMPTS[:4]:
            text_of(completion(cls.router.url, " ".join([p] * 6), 8, temperature=0))

    @classmethod
    def tearDownClass(cls):
        cls.router.stop()
        for n in cls.nodes:
            n.stop()

    def test_inspect_cluster_table(self):
        out = subprocess.run([BIN, "inspect", "--url", self.router.url, "cluster"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("2/2 nodes up", out.stdout)
        self.assertIn("routed 4", out.stdout)
        view = self.router.cluster()
        for n in view["nodes"]:
            line = [l for l in out.stdout.splitlines() if l.startswith(n["address"])]
            self.assertEqual(len(line), 1, out.stdout)
            cols = line[0].split()
            self.assertEqual(cols[1], "up")
            self.assertEqual(cols[5], str(n["cached_pages"]))
            self.assertEqual(cols[8], str(n["routed"]))
        single = subprocess.run([BIN, "inspect", "--url", self.nodes[0].url, "cluster"], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(single.returncode, 1)
        self.assertIn("404", single.stderr)

    def test_browser_console_cluster_view(self):
        if not shutil.which("node"):
            self.skipTest("node is not installed")
        here = os.path.dirname(os.path.abspath(__file__))
        for url, extra in ((self.router.url, []), (self.nodes[0].url, ["--expect-no-cluster", "1"])):
            with tempfile.TemporaryDirectory() as d:
                run = subprocess.run(["node", os.path.join(here, "cluster_console_check.js"), "--url", url,
                                      "--out", d, *extra], capture_output=True, text=True, timeout=120)
            if run.returncode == 77:
                self.skipTest(run.stdout.strip())
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)


def get_status(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class node_loss_test(unittest.TestCase):
    def test_node_killed_under_load(self):
        # One sequence per step: a node holds one decoding request and a queue of untouched ones.
        nodes = [Node(["--max-batch", "1"]), Node(["--max-batch", "1"])]
        router = Router(nodes, ["--max-attempts", "3"])
        try:
            prompts = ["%s, number %d" % (PROMPTS[i % len(PROMPTS)], i) for i in range(16)]
            reference = {p: text_of(completion(nodes[1].url, p, 200, temperature=0)) for p in prompts}
            victim, survivor = nodes[0], nodes[1]

            def one(prompt):
                return prompt, stream_completion(router.url, prompt, 200, temperature=0)

            outcome = {}
            worker = threading.Thread(target=lambda: outcome.update(results=run_parallel(one, prompts)))
            worker.start()

            def victim_busy():
                reqs = get_json(victim.url + "/v1/inspect/requests")["requests"]
                decoding = [r for r in reqs if r["phase"] == "decode" and r["generated_tokens"] > 0]
                queued = [r for r in reqs if r["phase"] == "queued"]
                return decoding and len(queued) >= 2
            wait_for(victim_busy, 60, "the victim decoding one request with others queued", interval=0.005)
            victim.kill()
            worker.join(150)
            self.assertFalse(worker.is_alive(), "a request hung after the node was killed")

            lost = 0
            for prompt, result in outcome["results"]:
                self.assertNotIsInstance(result, Exception, prompt)
                text, error = result
                if error is None:
                    self.assertEqual(text, reference[prompt], prompt)
                else:
                    self.assertEqual(error["code"], "NODE_LOST", error)
                    self.assertIn(victim.node_address, error["message"])
                    self.assertTrue(text and reference[prompt].startswith(text), (prompt, text))
                    lost += 1
            view = router.cluster()
            print("killed under load: %d NODE_LOST, %d retried elsewhere" % (lost, view["requests"]["retried"]))
            self.assertEqual(view["requests"]["node_lost"], lost)
            self.assertGreaterEqual(view["requests"]["retried"], 2, view)  # the queued ones moved on
            states = {n["address"]: n["state"] for n in view["nodes"]}
            self.assertNotEqual(states[victim.node_address], "up")
            self.assertEqual(states[survivor.node_address], "up")
            wait_for(lambda: all_pages_back(survivor), 30, "every page of the surviving node back")
            # And the cluster still serves.
            self.assertEqual(text_of(completion(router.url, prompts[0], 200, temperature=0)), reference[prompts[0]])
        finally:
            router.stop()
            for n in nodes:
                n.stop()


class rejoin_test(unittest.TestCase):
    def test_node_rejoins_and_router_restart_keeps_the_caches(self):
        nodes = [Node(), Node()]
        router = Router(nodes)
        try:
            # A long prompt (several full pages) lands on one node and is cached there.
            long_prompt = " ".join(["Once upon a time there was a little girl who loved the sea"] * 4)
            text_of(completion(router.url, long_prompt, 8, temperature=0))
            holder = [n for n in router.cluster()["nodes"] if n["routed"] == 1][0]["address"]

            # The router restarts: it reads the nodes' recent prompts and finds the cache again.
            router.stop()
            router = Router(nodes)
            view = router.cluster()
            trees = {n["address"]: n["tree_tokens"] for n in view["nodes"]}
            self.assertGreater(trees[holder], 0, view)
            status, body = completion(router.url, long_prompt, 8, temperature=0)
            self.assertEqual(status, 200, body)
            self.assertGreaterEqual(body["usage"]["prompt_tokens_details"]["cached_tokens"], 16, body)
            view = router.cluster()
            self.assertEqual([n["routed"] for n in view["nodes"] if n["address"] == holder], [1], view)

            # A node dies and comes back on the same port: the router reconnects and uses it.
            gone = nodes[1]
            port = gone.node_address.split(":")[1]
            gone.kill()
            wait_for(lambda: [n["state"] for n in router.cluster()["nodes"] if n["address"] == gone.node_address]
                     != ["up"], 30, "the router noticing the killed node")
            self.assertEqual(text_of(completion(router.url, PROMPTS[0], 8, temperature=0)),
                             text_of(completion(nodes[0].url, PROMPTS[0], 8, temperature=0)))
            gone.stop()
            nodes[1] = Node(node_port=port)
            router.wait_nodes_up(2)
            back = [n for n in router.cluster()["nodes"] if n["address"] == nodes[1].node_address][0]
            self.assertGreaterEqual(back["connects"], 2)
            self.assertEqual(back["tree_tokens"], 0)  # a restarted node has an empty cache
            before = back["routed"]
            run_parallel(lambda p: text_of(completion(router.url, p, 8, temperature=0)), PROMPTS)
            back = [n for n in router.cluster()["nodes"] if n["address"] == nodes[1].node_address][0]
            self.assertGreater(back["routed"], before)
        finally:
            router.stop()
            for n in nodes:
                n.stop()


class full_node_test(unittest.TestCase):
    def test_queue_full_on_one_node_moves_the_request_to_another(self):
        # Node 0 admits one request and queues one more; the rest of a burst gets QUEUE_FULL
        # there and must be served by node 1 instead of failing.
        nodes = [Node(["--max-batch", "1", "--queue-limit", "1"]), Node()]
        router = Router(nodes, ["--policy", "round-robin", "--max-attempts", "2"])
        try:
            prompts = ["%s, again %d" % (PROMPTS[i % len(PROMPTS)], i) for i in range(12)]
            reference = {p: text_of(completion(nodes[1].url, p, 100, temperature=0)) for p in prompts}
            got = run_parallel(lambda p: completion(router.url, p, 100, temperature=0), prompts)
            for p, answer in zip(prompts, got):
                self.assertNotIsInstance(answer, Exception)
                self.assertEqual(text_of(answer), reference[p], p)
            view = router.cluster()
            full = [n for n in view["nodes"] if n["address"] == nodes[0].node_address][0]
            self.assertGreater(full["moved_away"], 0, view)
            self.assertEqual(view["requests"]["retried"], full["moved_away"])
        finally:
            router.stop()
            for n in nodes:
                n.stop()


class no_node_test(unittest.TestCase):
    def test_router_before_its_node_answers_no_node_then_serves(self):
        import socket
        with socket.socket() as probe:  # a port nobody listens on (yet)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        router = Router(["127.0.0.1:%d" % port], expect_up=0)
        node = None
        try:
            status, body = completion(router.url, PROMPTS[0], 8, temperature=0)
            self.assertEqual(status, 503, body)
            self.assertEqual(body["error"]["code"], "NO_NODE")
            self.assertNotEqual(router.cluster()["nodes"][0]["state"], "up")
            self.assertEqual(get_json(router.url + "/health")["status"], "ok")
            node = Node(node_port=port)
            router.wait_nodes_up(1)
            self.assertEqual(text_of(completion(router.url, PROMPTS[0], 8, temperature=0)),
                             text_of(completion(node.url, PROMPTS[0], 8, temperature=0)))
        finally:
            router.stop()
            if node:
                node.stop()


def open_stream(url, rid, max_tokens=400):
    """Starts a streamed /generate through `url` and returns the response after its first event."""
    body = {"text": "Once upon a time", "rid": rid, "stream": True,
            "sampling_params": {"max_completion_tokens": max_tokens, "temperature": 2.0, "seed": 9}}
    request = urllib.request.Request(url + "/generate", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    response = urllib.request.urlopen(request, timeout=60)
    while not response.readline().startswith(b"data: "):
        pass
    return response


def node_request_phase(node, rid):
    status, body = get_status(node.url + "/v1/inspect/requests/" + rid)
    return body.get("phase") if status == 200 else None


class cancel_test(unittest.TestCase):
    """A request that ends at the router (client gone, router gone) ends on its node too."""

    def test_client_disconnect_cancels_on_the_node(self):
        node = Node(["--max-batch", "1"])
        router = Router([node])
        try:
            response = open_stream(router.url, "leaving-client")
            response.close()  # the client goes away mid-stream
            phase = wait_for(lambda: node_request_phase(node, "leaving-client") in ("cancelled", "done") and
                             node_request_phase(node, "leaving-client"), 30, "the node ending the request")
            self.assertEqual(phase, "cancelled")
            wait_for(lambda: all_pages_back(node), 30, "every page back")
        finally:
            router.stop()
            node.stop()

    def test_router_killed_mid_stream_cancels_on_the_node(self):
        node = Node(["--max-batch", "1"])
        router = Router([node])
        try:
            response = open_stream(router.url, "orphan")
            router.kill()
            response.close()
            phase = wait_for(lambda: node_request_phase(node, "orphan") in ("cancelled", "done") and
                             node_request_phase(node, "orphan"), 30, "the node ending the orphaned request")
            self.assertEqual(phase, "cancelled")
            wait_for(lambda: all_pages_back(node), 30, "every page back")
            # The node still serves a new router.
            router.stop()
            router = Router([node])
            self.assertEqual(text_of(completion(router.url, PROMPTS[0], 8, temperature=0)),
                             text_of(completion(node.url, PROMPTS[0], 8, temperature=0)))
        finally:
            router.stop()
            node.stop()


def loadtest_hit_rate(policy, out_dir):
    nodes = [Node(), Node(), Node()]
    router = Router(nodes, ["--policy", policy, "--seed", "5"])
    try:
        out = os.path.join(out_dir, policy)
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "loadtest.py"), "--url", router.url,
                        "--workload", "shared-prefix", "--groups", "6", "--prompts-per-group", "5",
                        "--system-len", "40", "--question-len", "6", "--output-len", "4", "--concurrency", "1",
                        "--reference", "none", "--seed", "3", "--quiet", "--out", out],
                       check=True, timeout=180, capture_output=True)
        with open(out + ".json") as f:
            report = json.load(f)
        assert report["ok"], report["errors"]
        return report["phases"][0]["metrics_hit_rate"], router.cluster()
    finally:
        router.stop()
        for n in nodes:
            n.stop()


class hit_rate_test(unittest.TestCase):
    def test_prefix_routing_beats_random_on_shared_prefixes(self):
        with tempfile.TemporaryDirectory() as d:
            prefix_rate, prefix_view = loadtest_hit_rate("prefix", d)
            random_rate, _ = loadtest_hit_rate("random", d)
        print("hit rate: prefix-aware %.3f, random %.3f" % (prefix_rate, random_rate))
        self.assertGreater(prefix_rate, random_rate + 0.05)
        self.assertGreater(prefix_view["requests"]["prefix_routed"], 0)
        # Groups spread over the nodes: a prefix shared by every prompt (BOS and a word or
        # two, less than a page) must not pull the whole workload onto one node.
        self.assertGreaterEqual(sum(n["routed"] > 0 for n in prefix_view["nodes"]), 2, prefix_view)


if __name__ == "__main__":
    unittest.main()


class tenants_test(unittest.TestCase):
    """The router authenticates tenants, keys its trees by (tenant, salt, prefix) and forwards
    the namespace: a node matches and publishes each tenant's pages apart (issue 20)."""

    def test_tenants_stay_apart_through_the_router(self):
        keys = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef00",
                "ops": "ops-key-0123456789abcdef000"}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "keys.txt")
            with open(path, "w") as f:
                f.write("alice %s\nbob %s\nops %s admin\n" % (keys["alice"], keys["bob"], keys["ops"]))
            nodes = [Node(), Node()]
            router = Router(nodes, ["--api-keys-file", path], key=keys["ops"])
            try:
                prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside " \
                         "in the park with her friends every day."

                def send(who, **extra):
                    status, body = post(router.url + "/v1/completions",
                                        dict(prompt=prompt, max_tokens=8, temperature=0, **extra), key=keys[who])
                    self.assertEqual(status, 200, body)
                    return body["choices"][0]["text"], body["usage"]["prompt_tokens_details"]["cached_tokens"]

                self.assertEqual(post(router.url + "/v1/completions", {"prompt": prompt})[0], 401)
                first, cached = send("alice")
                self.assertEqual(cached, 0)
                self.assertGreater(send("alice")[1], 0, "alice's second send is routed to her cached prefix")
                text, cached = send("bob")
                self.assertEqual(cached, 0, "bob got cached tokens from alice's prompt through the router")
                self.assertEqual(text, first)
                self.assertEqual(send("alice", cache_salt="s")[1], 0)
                self.assertGreater(send("bob")[1], 0)
                # On the nodes (no keys: the admin view) every first page belongs to tenant 1 or 2,
                # each in its own namespace.
                seen = set()
                for node in nodes:
                    tree = get_json(node.url + "/v1/inspect/cache")["tree"]
                    seen |= {c["ns"] >> 32 for c in tree["children"]}
                self.assertEqual(seen, {1, 2})
            finally:
                router.stop()
                for n in nodes:
                    n.stop()
