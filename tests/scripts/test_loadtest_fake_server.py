"""scripts/loadtest.py end to end against the fake server (tests/scripts/fake_kvactor_server.py):
reports are written, cache hit rates come from usage and /metrics deltas, limits hold, and a
server whose answers change under concurrency makes the run fail."""

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

import loadtest  # noqa: E402

FAKE = os.path.join(HERE, "fake_kvactor_server.py")


class FakeServer:
    def __init__(self, *extra):
        self.proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--max-lifetime", "120", *extra],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError("fake server did not start: " + line)
        self.url = line.split()[-1]

    def metric(self, name):
        text = urllib.request.urlopen(self.url + "/metrics", timeout=5).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


class LoadTestAgainstFakeServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "report")

    def tearDown(self):
        self.tmp.cleanup()

    def run_loadtest(self, server, *argv):
        args = loadtest.parse_args(["--url", server.url, "--out", self.out, "--output-len", "6", *argv])
        buf = io.StringIO()
        report = loadtest.run(args, out=buf)
        loadtest.write_outputs(report, self.out)
        return report, buf.getvalue()

    def test_shared_prefix_sweep_passes_and_reports_this_runs_hit_rate(self):
        server = FakeServer()
        try:
            # Traffic before the run must not count towards this run's hit rate.
            self.run_loadtest(server, "--workload", "fixed", "--num-prompts", "3", "--concurrency", "1")
            report, text = self.run_loadtest(
                server, "--workload", "shared-prefix", "--groups", "2", "--prompts-per-group", "3",
                "--system-len", "40", "--question-len", "4", "--concurrency", "1,3", "--reference", "after")
        finally:
            server.close()
        self.assertTrue(report["ok"], text)
        self.assertEqual([p["concurrency"] for p in report["phases"]], [1, 3])
        self.assertEqual(report["correctness"]["checked"], 12)
        self.assertEqual(report["correctness"]["mismatches"], [])
        first, second = report["phases"]
        for p in report["phases"]:
            s = p["summary"]
            self.assertEqual((s["requests"], s["failed"]), (6, 0))
            self.assertEqual(s["completion_tokens"], 36)
            self.assertGreater(s["ttft_ms"]["p50"], 0)
            self.assertGreater(s["output_token_throughput"], 0)
            # Cumulative counters would include the earlier fixed-prompt run; deltas must not.
            self.assertAlmostEqual(p["metrics_hit_rate"], s["usage_hit_rate"], places=9)
        # First phase, cold cache: groups share their system prompt, so some but not all hit.
        self.assertGreater(first["summary"]["usage_hit_rate"], 0.2)
        self.assertLess(first["summary"]["usage_hit_rate"], 0.95)
        # Second phase repeats the same prompts: nearly everything is cached.
        self.assertGreater(second["summary"]["usage_hit_rate"], first["summary"]["usage_hit_rate"])
        with open(self.out + ".json") as f:
            self.assertTrue(json.load(f)["ok"])
        with open(self.out + ".html") as f:
            page = f.read()
        self.assertIn("<svg", page)
        self.assertIn('id="verdict">PASS', page)

    def test_multi_turn_poisson(self):
        server = FakeServer()
        try:
            report, text = self.run_loadtest(server, "--workload", "multi-turn", "--conversations", "3",
                                             "--turns", "3", "--arrival", "poisson", "--rate", "50")
        finally:
            server.close()
        self.assertTrue(report["ok"], text)
        self.assertEqual(report["phases"][0]["summary"]["requests"], 9)
        self.assertEqual(report["correctness"]["checked"], 9)
        # Turn 2 and 3 extend turn 1's prompt: their prefix pages hit the cache.
        turns = [r for r in report["records"] if r["turn"] > 0]
        self.assertTrue(all(r["cached_tokens"] > 0 for r in turns))

    def test_wrong_answers_under_concurrency_fail_the_run(self):
        server = FakeServer("--corrupt-when-concurrent", "--token-delay-ms", "5")
        try:
            report, _ = self.run_loadtest(server, "--workload", "random", "--num-prompts", "8",
                                          "--concurrency", "4", "--quiet")
        finally:
            server.close()
        self.assertFalse(report["ok"])
        self.assertGreater(len(report["correctness"]["mismatches"]), 0)
        with open(self.out + ".html") as f:
            self.assertIn('id="verdict">FAIL', f.read())
        m = report["correctness"]["mismatches"][0]
        self.assertNotEqual(m["expected"], m["got"])

    def test_request_budget_is_a_hard_limit(self):
        server = FakeServer()
        try:
            before = server.metric("kvactor_prompt_tokens_total")
            t0 = time.monotonic()
            report, text = self.run_loadtest(server, "--workload", "random", "--num-prompts", "50",
                                             "--concurrency", "4", "--max-requests", "7", "--reference", "none")
            after_requests = server.metric('kvactor_requests_total{outcome="finished"}')
        finally:
            server.close()
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(report["phases"][0]["summary"]["requests"], 7)
        self.assertEqual(after_requests, 7)
        self.assertEqual(before, 0)
        self.assertEqual(report["limits_hit"], "max-requests reached")
        self.assertIn("stopped early", text)

    def test_phase_duration_repeats_the_workload_for_that_long(self):
        server = FakeServer()
        try:
            t0 = time.monotonic()
            report, text = self.run_loadtest(server, "--workload", "fixed", "--num-prompts", "2",
                                             "--concurrency", "2", "--phase-duration", "1.0")
            elapsed = time.monotonic() - t0
        finally:
            server.close()
        self.assertTrue(report["ok"], text)
        s = report["phases"][0]["summary"]
        # Two prompts of 6 tokens take ~15 ms each on the fake: a second of it repeats many times.
        self.assertGreater(s["requests"], 10)
        self.assertGreaterEqual(s["duration_s"], 1.0)
        self.assertLess(elapsed, 10)
        self.assertEqual(report["correctness"]["checked"], s["requests"])

    def test_one_streamed_completion(self):
        import loadtest_client as client
        server = FakeServer()
        try:
            host, port = client.loopback_target(server.url)
            rec = client.stream_completion(host, port, "Once upon a time", 6, 10.0)
        finally:
            server.close()
        self.assertIsNone(rec["error"])
        self.assertEqual(rec["completion_tokens"], 6)
        self.assertEqual(len(rec["token_times"]), 6)   # the empty finish chunk is no token
        self.assertEqual(len(rec["text"].split()), 6)
        self.assertEqual(rec["finish_reason"], "length")
        self.assertEqual(rec["prompt_tokens"], len("Once upon a time") + 1)
        self.assertLessEqual(rec["send"], rec["first"])
        self.assertLessEqual(rec["first"], rec["end"])

    def test_unreachable_server_is_a_failure_not_a_crash(self):
        args = loadtest.parse_args(["--url", "http://127.0.0.1:9", "--out", self.out, "--workload", "fixed",
                                    "--num-prompts", "2", "--concurrency", "1", "--quiet",
                                    "--request-timeout", "2"])
        report = loadtest.run(args, out=io.StringIO())
        self.assertFalse(report["ok"])
        self.assertTrue(any("ConnectionRefused" in e for e in report["errors"]), report["errors"])


if __name__ == "__main__":
    unittest.main()
