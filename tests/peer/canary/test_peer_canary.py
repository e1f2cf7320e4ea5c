"""A test module that misbehaves on purpose under valley, so selftest.sh can show that
cpython.py sees each kind of difference (fail, hang, death) and tells a flake from a real one.
It never looks at what valley does; it only looks at the environment the mode sets.
unittest runs the classes in name order: Canary, ClassContext, Middle, OrderDependent.
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
state = {"middle_ran": False}


class Canary(unittest.TestCase):
    def test_b_fails_under_valley(self):
        self.assertFalse(PRELOADED, "preloaded")

    def test_c_hangs_under_all_kinds(self):
        while ALL_KINDS:
            time.sleep(1)

    def test_d_dies_under_default_coalescer(self):
        if DEFAULT_COALESCER:
            os.kill(os.getpid(), signal.SIGKILL)

    def test_f_skips(self):
        self.skipTest("always")

    def test_g_subtest_fails_under_valley(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertFalse(PRELOADED and i == 1)

    def test_z_last(self):
        # Reached in every mode only if the run goes on past the hang and the death.
        if RECORD_ONLY:
            # A hang after the last test, when the interpreter exits: outside any test.
            atexit.register(time.sleep, 3600)


class ClassContext(unittest.TestCase):
    """Fails under record only after a classmate ran, as test_socket's shutdown tests hang far
    more often with their class than alone: the rerun runs the class, so this stays real."""

    classmate_ran = False

    def test_1_classmate(self):
        type(self).classmate_ran = True

    def test_2_fails_after_classmate(self):
        self.assertFalse(RECORD_ONLY and self.classmate_ran, "after a classmate")


class Middle(unittest.TestCase):
    def test_sets_state(self):
        state["middle_ran"] = True


class OrderDependent(unittest.TestCase):
    """Misbehaves only after Middle ran in the same process. cpython.py reruns a difference
    with its class alone, which never has Middle before it: these must come out as flakes."""

    def test_e_order_flake(self):
        self.assertFalse(PRELOADED and state["middle_ran"], "order-dependent")

    def test_h_order_hang(self):
        # A hang under valley alone gets three tries; none of them hangs.
        while ALL_KINDS and state["middle_ran"]:
            time.sleep(1)


if __name__ == "__main__":
    unittest.main()
