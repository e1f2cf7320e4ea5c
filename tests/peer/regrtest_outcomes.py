"""CPython's regrtest, with every test's start and outcome appended to a file as it happens.

Usage: python3.11 regrtest_outcomes.py OUTCOMES_FILE TEST_TIMEOUT MODULE_TIMEOUT [regrtest args...]

cpython.py runs this under the mode being checked (bare, or with libvalley.so preloaded).
Each line of OUTCOMES_FILE is a JSON array [event, test id, monotonic time, detail]:
event is "start", "stop", "pass", "fail", "skip", "xfail", "xpass" or "subfail".
A test that has a "start" and no "stop" was running when the process ended: the hang or the
crash. The file is opened, written and closed for every record, so a record survives a kill
that comes right after it, and no fd of ours stays open for a test to close or reuse. Records
from forked children (multiprocessing, os.fork tests) are left out by pid.
"""

import faulthandler
import json
import os
import sys
import time

from test.support import testresult

_path = None
_test_timeout = _deadline = 0.0
_pid = os.getpid()


def _arm(seconds):
    if os.getpid() == _pid:
        faulthandler.dump_traceback_later(max(1.0, seconds), exit=True)


def _record(event, test, detail=""):
    if os.getpid() != _pid:
        return
    try:
        test_id = test.id()
    except Exception:
        test_id = str(test)
    line = json.dumps([event, test_id, time.monotonic(), detail]) + "\n"
    fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line.encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)


def _hook(name, event, detail_of=None, then=None):
    original = getattr(testresult.RegressionTestResult, name)

    def hooked(self, test, *args):
        _record(event, test, detail_of(*args) if detail_of else "")
        result = original(self, test, *args)
        if then:
            then()
        return result

    setattr(testresult.RegressionTestResult, name, hooked)


def _error_summary(err):
    exc_type, exc_value = err[0], err[1]
    name = getattr(exc_type, "__name__", str(exc_type))
    return f"{name}: {exc_value}"[:300]


def _install():
    _hook("startTest", "start",
          then=lambda: _arm(min(_test_timeout, _deadline - time.monotonic())))
    _hook("stopTest", "stop", then=lambda: _arm(_deadline - time.monotonic()))
    _hook("addSuccess", "pass")
    _hook("addError", "fail", _error_summary)
    _hook("addFailure", "fail", _error_summary)
    _hook("addSkip", "skip", lambda reason: str(reason)[:300])
    _hook("addExpectedFailure", "xfail", lambda err: "")
    _hook("addUnexpectedSuccess", "xpass")
    original_sub = testresult.RegressionTestResult.addSubTest

    def add_sub_test(self, test, subtest, err):
        # A failed subtest fails its test; unittest reports nothing else for the parent then.
        if err is not None:
            _record("subfail", test, f"{subtest.id()}: {_error_summary(err)}")
        return original_sub(self, test, subtest, err)

    testresult.RegressionTestResult.addSubTest = add_sub_test


# multiprocessing's spawn and forkserver children import this file again as __mp_main__ (it is
# the main script): they must get neither the hooks nor a second regrtest.
if __name__ == "__main__":
    _path = sys.argv.pop(1)
    _test_timeout = float(sys.argv.pop(1))
    _deadline = time.monotonic() + float(sys.argv.pop(1))
    _install()
    from test.libregrtest import main

    _arm(_deadline - time.monotonic())
    main()
