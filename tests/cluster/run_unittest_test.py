"""The ctest runner for the cluster scenarios: a skipped test makes the run exit 77 (ctest
Skipped), a failure exits 1, all passed exits 0. Regression: a missing node/chromium used
to be reported as Passed."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = """
import unittest
class with_skip(unittest.TestCase):
    def test_ran(self): pass
    def test_needs_node(self): self.skipTest("node is not installed")
class all_pass(unittest.TestCase):
    def test_ran(self): pass
class with_failure(unittest.TestCase):
    def test_skipped(self): self.skipTest("chromium is not installed")
    def test_fails(self): self.fail("broken")
"""


class runner_exit_codes_test(unittest.TestCase):
    def run_target(self, target):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "fake_scenarios.py"), "w") as f:
                f.write(FAKE)
            return subprocess.run([sys.executable, os.path.join(HERE, "run_unittest.py"), "fake_scenarios." + target],
                                  cwd=d, capture_output=True, text=True, timeout=60)

    def test_a_skip_is_reported_as_skipped(self):
        run = self.run_target("with_skip")
        self.assertEqual(run.returncode, 77, run.stdout + run.stderr)
        self.assertIn("node is not installed", run.stdout)

    def test_all_passed_is_zero(self):
        self.assertEqual(self.run_target("all_pass").returncode, 0)

    def test_a_failure_beats_a_skip(self):
        self.assertEqual(self.run_target("with_failure").returncode, 1)


if __name__ == "__main__":
    unittest.main()
