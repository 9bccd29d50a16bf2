"""scripts/soak.py, short, against the real `kvactor serve` on the bundled model: saturated load
for SOAK_SECONDS (default 30), zero mismatches against solo answers, resident memory flat after
the warm-up, zero leaked pages after the drain, a clean exit on SIGTERM, and both report files."""

import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

import real_server  # noqa: E402
import soak  # noqa: E402


class ShortSoak(unittest.TestCase):
    def test_short_soak_holds(self):
        ok, why = real_server.serve_available()
        if not ok:
            raise RuntimeError(why)  # a build without the server is a failure, not a skip
        seconds = os.environ.get("SOAK_SECONDS", "30")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "soak")
            args = soak.parse_args(["--binary", real_server.BIN, "--duration", seconds, "--concurrency", "16",
                                    "--out", out, "--quiet"])
            result = soak.run(args, out=io.StringIO())
            text = open(out + ".md").read()
            self.assertEqual(result["problems"], [], text)
            self.assertTrue(result["ok"], text)
            self.assertGreater(result["load"]["requests"], 50, text)
            self.assertEqual(result["correctness"]["mismatches"], 0, text)
            self.assertEqual(result["correctness"]["checked"], result["load"]["requests"], text)
            self.assertEqual(result["drain"]["leaked_pages"], 0, text)
            if result["rss"]["judged"]:
                self.assertTrue(result["rss"]["flat"], text)
            self.assertGreater(len(result["rss_samples"]), 10, text)
            self.assertEqual(result["server_exit"], 0, text)
            with open(out + ".json") as f:
                self.assertEqual(json.load(f)["ok"], True)

    def test_arguments_are_checked(self):
        with self.assertRaises(SystemExit):
            soak.parse_args(["--duration", "10", "--warmup", "20"])
        with self.assertRaises(SystemExit):
            soak.parse_args(["--url", "http://127.0.0.1:1"])  # --url needs --pid
        with self.assertRaises(SystemExit):
            soak.parse_args(["--concurrency", "0"])

    def test_rss_verdict(self):
        flat = [(t, 10000 + (t % 3)) for t in range(60)]
        self.assertTrue(soak.rss_verdict(flat, 15, 10.0)["flat"])
        growing = [(t, 10000 + 100 * t) for t in range(60)]
        verdict = soak.rss_verdict(growing, 15, 10.0)
        self.assertFalse(verdict["flat"])
        self.assertGreater(verdict["slope_kib_per_min"], 5000)
        self.assertFalse(soak.rss_verdict([(1, 5)], 15, 10.0)["flat"])


if __name__ == "__main__":
    unittest.main()
