"""scripts/loadtest.py against the real `kvactor serve` on the bundled stories260K model:
greedy answers under concurrent load equal the answers to the same prompts sent alone, and
shared prefixes hit the cache."""

import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

import loadtest  # noqa: E402
import real_server  # noqa: E402


class LoadTestAgainstRealServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ok, why = real_server.serve_available()
        if not ok:
            raise RuntimeError(why)   # a build without the server is a failure, not a skip
        cls.tmp = tempfile.TemporaryDirectory()
        cls.server = real_server.RealServer(os.path.join(cls.tmp.name, "server.log"))

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.cleanup()

    def run_loadtest(self, *argv):
        out = os.path.join(self.tmp.name, "report")
        args = loadtest.parse_args(["--url", self.server.url, "--out", out, "--max-duration", "120", *argv])
        buf = io.StringIO()
        report = loadtest.run(args, out=buf)
        loadtest.write_outputs(report, out)
        return report, buf.getvalue()

    def test_shared_prefix_sweep_is_correct_and_hits_the_cache(self):
        report, text = self.run_loadtest("--workload", "shared-prefix", "--groups", "3",
                                         "--prompts-per-group", "4", "--system-len", "40",
                                         "--question-len", "8", "--output-len", "32",
                                         "--concurrency", "1,4,8", "--reference", "after")
        self.assertEqual(report["errors"], [], text)
        self.assertEqual(report["correctness"]["mismatches"], [], text)
        self.assertTrue(report["ok"], text)
        self.assertEqual(report["correctness"]["checked"], 36)
        first = report["phases"][0]
        # Cold cache: prompts of a group share their system prompt's full pages.
        self.assertGreater(first["summary"]["usage_hit_rate"], 0.1, text)
        # One streamed event per generated token, as usage counts them.
        for r in report["records"]:
            self.assertEqual(r["tokens_streamed"], r["completion_tokens"], r)
        for p in report["phases"]:
            self.assertGreater(p["summary"]["output_token_throughput"], 0)
            if p["metrics_hit_rate"] is not None:
                self.assertAlmostEqual(p["metrics_hit_rate"], p["summary"]["usage_hit_rate"], places=6)

    def test_multi_turn_poisson_is_correct(self):
        report, text = self.run_loadtest("--workload", "multi-turn", "--conversations", "4", "--turns", "3",
                                         "--system-len", "20", "--question-len", "6", "--output-len", "16",
                                         "--arrival", "poisson", "--rate", "20")
        self.assertTrue(report["ok"], text)
        self.assertEqual(report["correctness"]["checked"], 12)
        later_turns = [r for r in report["records"] if r["turn"] > 0]
        self.assertTrue(all(r["cached_tokens"] > 0 for r in later_turns), report["records"])


if __name__ == "__main__":
    unittest.main()
