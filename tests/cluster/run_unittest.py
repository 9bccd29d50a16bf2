"""Runs one unittest target for ctest: exit 0 when every test ran and passed, 1 on a
failure or error, and 77 (ctest's SKIP_RETURN_CODE) when nothing failed but a test was
skipped (node or chromium missing), so ctest reports Skipped instead of Passed."""

import os
import sys
import unittest


def main(argv):
    if len(argv) != 2:
        print("usage: run_unittest.py <module.test_class>", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())  # as `python -m unittest` does
    suite = unittest.defaultTestLoader.loadTestsFromName(argv[1])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.skipped:
        for test, why in result.skipped:
            print(f"SKIPPED {test.id()}: {why}")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
