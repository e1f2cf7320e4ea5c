"""A test module that misbehaves on purpose under valley, so selftest.sh can show that
cpython.py sees each kind of difference (fail, hang, death) and tells a flake from a real one.
It never looks at what valley does; it only looks at the environment the mode sets.
"""

import atexit
import os
import signal
import time
import unittest

PRELOADED = "libvalley.so" in os.environ.get("LD_PRELOAD", "")
ALL_KINDS = bool(os.environ.get("VALLEY_COALESCE_KINDS"))
DEFAULT_COALESCER = os.environ.get("VALLEY_COALESCE") == "1" and not ALL_KINDS
RECORD_ONLY = PRELOADED and not os.environ.get("VALLEY_COALESCE")
state = {"first_ran": False}


class Canary(unittest.TestCase):
    def test_a_first(self):
        state["first_ran"] = True

    def test_b_fails_under_valley(self):
        self.assertFalse(PRELOADED, "preloaded")

    def test_c_hangs_under_all_kinds(self):
        while ALL_KINDS:
            time.sleep(1)

    def test_d_dies_under_default_coalescer(self):
        if DEFAULT_COALESCER:
            os.kill(os.getpid(), signal.SIGKILL)

    def test_e_order_flake(self):
        # Fails under valley only after test_a_first ran in the same process: a rerun alone
        # passes, so this must come out as a flake, not a difference.
        self.assertFalse(PRELOADED and state["first_ran"], "order-dependent")

    def test_f_skips(self):
        self.skipTest("always")

    def test_g_subtest_fails_under_valley(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertFalse(PRELOADED and i == 1)

    def test_h_order_hang(self):
        # Hangs under record only after test_a_first: never in a rerun alone, however many
        # tries it gets, so it is a flake.
        while RECORD_ONLY and state["first_ran"]:
            time.sleep(1)

    def test_z_last(self):
        # Reached in every mode only if the run goes on past the hang and the death.
        if RECORD_ONLY:
            # A hang after the last test, when the interpreter exits: outside any test.
            atexit.register(time.sleep, 3600)


if __name__ == "__main__":
    unittest.main()
