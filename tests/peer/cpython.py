"""Peer check: CPython 3.11's own test suite, bare and under valley, compared test by test.

Run through cpython.sh, which installs Debian's test suite and starts this file with Debian's
/usr/bin/python3.11. Every module of a list runs once per mode:

  bare          no preload
  record        LD_PRELOAD=libvalley.so VALLEY_DIR=<temp dir>
  coalesce      record + VALLEY_COALESCE=1 (regular files only)
  coalesce-all  coalesce + VALLEY_COALESCE_KINDS=file,pipe,fifo,tcp,unix-stream

Each run is regrtest (`-m test -v`) under `timeout -k`, with per-test outcomes written by
regrtest_outcomes.py. A test running when its module timed out or died is marked hang/died,
and the module runs again without it, so the tests after it still get an outcome. Every test
whose outcome under a valley mode differs from bare runs once more, alone, in bare and in that
mode; a difference that is still there is real and makes the exit status 1. One that goes away
is reported as a flake. Exit status 2 means the check itself could not run.
"""

import argparse
import collections
import concurrent.futures
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

PYTHON = "/usr/bin/python3.11"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WRAPPER = os.path.join(HERE, "regrtest_outcomes.py")
ALL_KINDS = "file,pipe,fifo,tcp,unix-stream"
MODES = ("bare", "record", "coalesce", "coalesce-all")
KILL_AFTER = 10  # seconds between timeout's SIGTERM and its SIGKILL


def grace(timeout):
    """How much earlier than timeout(1) regrtest's own faulthandler timeout fires."""
    return max(5, min(30, timeout // 10))

RUN_TAG = "CPYTHON_PEER_RUN"  # marks every process of a run, to find leftovers

# Outcomes, worst first where one test reports several (subtests, repeated ids).
PASS, FAIL, SKIP, HANG, DIED, ABSENT = "pass", "fail", "skip", "hang", "died", "absent"
OUTSIDE = "(outside any test)"  # a hang or death between tests, in a fixture or at exit


def outcome(run, tid):
    return run.outcomes.get(tid, "ok" if tid == OUTSIDE else ABSENT)


def mode_env(mode, lib, valley_dir):
    if mode == "bare":
        return {}
    env = {"LD_PRELOAD": lib, "VALLEY_DIR": valley_dir}
    if mode in ("coalesce", "coalesce-all"):
        env["VALLEY_COALESCE"] = "1"
    if mode == "coalesce-all":
        env["VALLEY_COALESCE_KINDS"] = ALL_KINDS
    return env


@dataclasses.dataclass
class Spec:
    """One line of a list: module, timeout in seconds, regrtest -u/-m/-i options, and -t: the
    timeout of one test (default 60 s)."""

    module: str
    timeout: int
    use: list
    match: list
    ignore: list
    test_timeout: int = 60

    def regrtest_args(self, with_match=True):
        args = []
        for u in self.use:
            args += ["-u", u]
        if with_match:
            for m in self.match:
                args += ["-m", m]
        for i in self.ignore:
            args += ["-i", i]
        return args


def read_list(path):
    specs = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            words = shlex.split(line, comments=True)
            if not words:
                continue
            where = f"{path}:{lineno}"
            if len(words) < 2 or not words[1].isdigit():
                raise SystemExit(f"cpython-peer: {where}: expected MODULE TIMEOUT [options]")
            spec = Spec(words[0], int(words[1]), [], [], [])
            rest = words[2:]
            if len(rest) % 2:
                raise SystemExit(f"cpython-peer: {where}: each option takes a value")
            for opt, value in zip(rest[::2], rest[1::2]):
                if opt == "-t" and value.isdigit():
                    spec.test_timeout = int(value)
                    continue
                target = {"-u": spec.use, "-m": spec.match, "-i": spec.ignore}.get(opt)
                if target is None:
                    raise SystemExit(f"cpython-peer: {where}: unknown option {opt} (-u, -m, -i, -t)")
                target.append(value)
            specs.append(spec)
    return specs


@dataclasses.dataclass
class Run:
    """What one regrtest process (plus its continuations) left behind."""

    outcomes: dict  # test id -> outcome
    details: dict  # test id -> first failure/skip/hang detail
    durations: dict  # test id -> seconds
    seconds: float
    status: str  # "done", "timeout", "died"
    result: str  # regrtest's "Tests result:" line, or what ended the run
    logs: list
    valley_lines: int  # lines the shim printed (valley: ...)
    stuck: list  # tests running when the last run ended


def kill_leftovers(pgid, token):
    """SIGKILL what a run left behind: its process group (timeout(1) leads one), and every
    process still carrying the run's tag (daemons that left the group). A process whose main
    thread has exited shows its environment only through its remaining threads."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    needle = f"{RUN_TAG}={token}".encode() + b"\0"
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/environ", "rb") as f:
                    if needle in f.read():
                        os.kill(int(pid), signal.SIGKILL)
                        break
            except OSError:
                pass


class Runner:
    def __init__(self, args):
        self.args = args
        self.lib = os.path.join(args.build, "lib", "libvalley.so")
        self.counter = 0
        self.lock = threading.Lock()

    def base_env(self, tmp):
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOME": os.path.join(tmp, "home"),
            "TMPDIR": os.path.join(tmp, "tmp"),
        }
        os.makedirs(env["HOME"])
        os.makedirs(env["TMPDIR"])
        return env

    def run_once(self, spec, mode, extra, timeout, label):
        with self.lock:
            self.counter += 1
            n = self.counter
        name = f"{n:04d}-{spec.module}-{mode}-{label}"
        rundir = os.path.join(self.args.out, "runs", name)
        os.makedirs(rundir)
        tmp = tempfile.mkdtemp(prefix="run.", dir=self.args.out)
        env = self.base_env(tmp)
        valley_dir = os.path.join(tmp, "valley")
        env.update(mode_env(mode, self.lib, valley_dir))
        token = f"{os.getpid()}.{n}"
        env[RUN_TAG] = token
        outcomes_path = os.path.join(rundir, "outcomes.jsonl")
        log_path = os.path.join(rundir, "log")
        testdir = ["--testdir", self.args.testdir] if self.args.testdir else []
        cmd = ["timeout", "-k", str(KILL_AFTER), str(timeout + grace(timeout)), PYTHON, WRAPPER,
               outcomes_path, str(spec.test_timeout), str(timeout), "-v", *testdir, *extra,
               spec.module]
        with open(os.path.join(rundir, "command"), "w") as f:
            f.write(" ".join(shlex.quote(w) for w in
                             [f"{k}={v}" for k, v in sorted(env.items())] + cmd) + "\n")
        start = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=env["TMPDIR"], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
            proc_pid = proc.pid  # timeout(1) makes its own process group: this is its id
            proc.wait()
        seconds = time.monotonic() - start
        kill_leftovers(proc_pid, token)
        if not self.args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.collect(outcomes_path, log_path, proc.returncode, seconds, timeout)

    def collect(self, outcomes_path, log_path, rc, seconds, timeout):
        events = collections.defaultdict(list)
        details, durations, started, running = {}, collections.defaultdict(float), {}, set()
        try:
            with open(outcomes_path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                ev, tid, t, detail = json.loads(line)
            except ValueError:
                continue  # a torn last line
            if ev == "start":
                started[tid] = t
                running.add(tid)
            elif ev == "stop":
                running.discard(tid)
                if tid in started:
                    durations[tid] += t - started[tid]
            else:
                events[tid].append(ev)
                if detail and ev != "pass":
                    details.setdefault(tid, detail)
        with open(log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        m = re.search(r"^(?:== )?Tests result: (.*?)(?: ==)?$", log, re.M)
        # regrtest's faulthandler banner; it follows the hung test's "... " on the same line.
        faulthandler_timeout = re.search(r"Timeout \(\d+:\d\d:\d\d(?:\.\d+)?\)!$", log, re.M)
        if rc < 0:
            rc = 128 - rc  # timeout(1) passes the child's death on by dying of the same signal
        if faulthandler_timeout or rc in (124, 128 + 9) and seconds >= timeout:
            status, result = "timeout", f"timed out after {seconds:.0f} s"
        elif m:
            status, result = "done", m.group(1)
        else:
            status = "died"
            result = f"died: signal {rc - 128}" if rc > 128 else f"died: exit {rc}, no result"
        outcomes = {}
        for tid, evs in events.items():
            if {"fail", "subfail", "xpass"} & set(evs):
                outcomes[tid] = FAIL
            elif {"pass", "xfail"} & set(evs):
                outcomes[tid] = PASS
            elif "skip" in evs:
                outcomes[tid] = SKIP
        for tid in started:
            if tid in running:
                outcomes[tid] = HANG if status == "timeout" else DIED
                before = f" (it had reported: {details[tid]})" if tid in details else ""
                details[tid] = result + before
            elif tid not in outcomes:
                outcomes[tid] = FAIL
                details.setdefault(tid, "ran without reporting an outcome")
        valley_lines = len(re.findall(r"^valley: ", log, re.M))
        return Run(outcomes, details, dict(durations), seconds, status, result, [log_path],
                   valley_lines, sorted(running))

    def run(self, spec, mode, label="run", match=None, timeout=None):
        """Runs spec in mode; after a hang or death inside a test, goes on without it."""
        timeout = timeout or spec.timeout
        if match is None:
            base = spec.regrtest_args()
        else:
            base = spec.regrtest_args(with_match=False)
            for pattern in match:
                base += ["-m", pattern]
        total = last = self.run_once(spec, mode, base, timeout, label)
        for attempt in range(self.args.continue_after):
            if last.status == "done" or not last.stuck:
                break
            if total.seconds > 2 * timeout:
                break  # a module that hangs test after test: what it reached is enough
            ignore_path = os.path.join(self.args.out, "runs",
                                       f"ignore-{spec.module}-{mode}-{label}-{attempt}")
            with open(ignore_path, "w", encoding="utf-8") as f:
                # Plain ids only: a bracket or star would make regrtest read them as globs.
                f.write("".join(t + "\n" for t in sorted(total.outcomes)
                                if re.fullmatch(r"[\w.]+", t)))
            last = self.run_once(spec, mode, base + ["--ignorefile", ignore_path], timeout,
                                 f"{label}-cont{attempt + 1}")
            for tid, o in last.outcomes.items():
                total.outcomes.setdefault(tid, o)
                if tid in last.details:
                    total.details.setdefault(tid, last.details[tid])
            for tid, d in last.durations.items():
                total.durations.setdefault(tid, d)
            total.seconds += last.seconds
            total.status, total.result = last.status, last.result
            total.logs += last.logs
            total.valley_lines += last.valley_lines
        if last.status != "done" and not last.stuck:
            total.outcomes[OUTSIDE] = HANG if last.status == "timeout" else DIED
            total.details[OUTSIDE] = last.result
        return total


def rerun_pattern(tid):
    """A regrtest -m pattern that runs the class of the test (or fixture) this id names.

    The class, not the test alone: test_socket's shutdown tests hung under the all-kinds
    coalescer in 2 of 3 runs of their class and in 0 of 4 runs alone."""
    m = re.match(r"^(\S+) \((.+)\)$", tid)
    if m and "." not in m.group(1):
        return m.group(2) + ".*"  # setUpClass (module.Class), setUpModule (module)
    test = m.group(1) if m else tid  # a subtest's test, or the test
    return test.rsplit(".", 1)[0] + ".*"


def counts(run):
    c = collections.Counter(o for t, o in run.outcomes.items() if t != OUTSIDE)
    return f"{c[PASS]}/{c[FAIL]}/{c[SKIP]}/{c[HANG] + c[DIED]}"


def repro_command(spec, mode, tid, build_rel, testdir):
    env = mode_env(mode, f"$PWD/{build_rel}/lib/libvalley.so", "$(mktemp -d)")
    words = [f"{k}={v}" for k, v in env.items()]
    words += ["timeout", "-k", str(KILL_AFTER), str(spec.timeout), PYTHON, "-m", "test", "-v",
              "--timeout", str(spec.test_timeout)]
    if testdir:
        words += ["--testdir", testdir]
    words += spec.regrtest_args(with_match=False)
    words.append(spec.module)
    if tid != OUTSIDE:
        words += ["-m", shlex.quote(rerun_pattern(tid))]
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(prog="tests/peer/cpython.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the full list (full.list)")
    ap.add_argument("--list", help="another list file (default: ci.list)")
    ap.add_argument("--only", help="comma-separated modules of the list to run")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, of " +
                    ", ".join(MODES) + " (bare is always run)")
    ap.add_argument("--build", default=os.environ.get("VALLEY_BUILD_DIR",
                                                      os.path.join(ROOT, "build")))
    ap.add_argument("--out", help="directory for logs and results (default: a new temp dir)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="runs at once (default 1)")
    ap.add_argument("--timeout-scale", type=float, default=1.0)
    ap.add_argument("--continue-after", type=int, default=20,
                    help="runs of a module going on past hung/dead tests, at most (default 20; "
                    "they stop too when they took twice the module's timeout)")
    ap.add_argument("--no-rerun", action="store_true", help="report differences as found")
    ap.add_argument("--hang-reruns", type=int, default=3,
                    help="tries for a test that hung or died only under valley (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs and valley traces")
    ap.add_argument("--testdir", help="regrtest --testdir: test modules from DIR, not the "
                    "stdlib's (the self-test's canary)")
    args = ap.parse_args()

    list_path = args.list or os.path.join(HERE, "full.list" if args.full else "ci.list")
    specs = read_list(list_path)
    if args.only:
        wanted = args.only.split(",")
        specs = [s for s in specs if s.module in wanted]
        missing = set(wanted) - {s.module for s in specs}
        if missing:
            raise SystemExit(f"cpython-peer: not in {list_path}: {', '.join(sorted(missing))}")
    for s in specs:
        s.timeout = max(1, int(s.timeout * args.timeout_scale))
        s.test_timeout = max(1, int(s.test_timeout * args.timeout_scale))
    modes = ["bare"] + [m for m in args.modes.split(",") if m and m != "bare"]
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"cpython-peer: unknown mode {m} (one of {', '.join(MODES)})")
    args.build = os.path.abspath(args.build)
    if args.testdir:
        args.testdir = os.path.abspath(args.testdir)
    if len(modes) > 1 and not os.path.isfile(os.path.join(args.build, "lib", "libvalley.so")):
        raise SystemExit(f"cpython-peer: no lib/libvalley.so in {args.build}: build first")
    args.out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="valley-peer."))
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)
    build_rel = os.path.relpath(args.build, ROOT)
    print(f"cpython-peer: {len(specs)} modules x {len(modes)} modes ({', '.join(modes)}); "
          f"logs in {args.out}", flush=True)

    runner = Runner(args)
    results = {}  # (module, mode) -> Run
    print_lock = threading.Lock()

    def job(spec, mode):
        r = runner.run(spec, mode)
        with print_lock:
            print(f"  {spec.module:40} {mode:13} {r.seconds:7.1f} s  p/f/s/h {counts(r):>16}"
                  f"  {r.result}" + (f"  [{r.valley_lines} valley: lines]"
                                     if r.valley_lines else ""), flush=True)
        return spec.module, mode, r

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # Mode by mode: runs at once are then of different modules, which matters for tests
        # that use fixed names (test_socket's abstract unix address, for one).
        for module, mode, r in pool.map(lambda sm: job(*sm),
                                        [(s, m) for m in modes for s in specs]):
            results[module, mode] = r

    # Differences from bare, then one more run of each, alone, in bare and in that mode.
    by_name = {s.module: s for s in specs}
    differences = []  # dicts
    unreached = {}  # (module, mode) -> tests of bare a valley run never got to, hangs aside
    for s in specs:
        bare = results[s.module, "bare"]
        for mode in modes[1:]:
            r = results[s.module, mode]
            for tid in sorted(set(bare.outcomes) | set(r.outcomes)):
                ob, om = outcome(bare, tid), outcome(r, tid)
                if om == ABSENT and r.status != "done":
                    unreached.setdefault((s.module, mode), []).append(tid)
                    continue
                if ob != om:
                    differences.append(dict(module=s.module, mode=mode, test=tid, bare=ob,
                                            valley=om, detail=r.details.get(tid, ""),
                                            bare_detail=bare.details.get(tid, "")))

    groups = collections.defaultdict(list)
    for d in differences:
        groups[d["module"], d["mode"], d["test"] == OUTSIDE].append(d)

    def rerun_group(key):
        """Reruns one module's differences in bare and in the valley mode: (bare run, [valley
        runs]). A test that hung or died under valley and not in its rerun gets up to
        --hang-reruns tries in all: a deadlock that needs a particular interleaving is real
        even when it shows once in three runs, and a passing try costs little."""
        module, mode, whole = key
        spec, ds = by_name[module], groups[key]
        if whole:
            patterns, t = None, spec.timeout
        else:
            patterns = sorted({rerun_pattern(d["test"]) for d in ds})
            prefixes = tuple(p[:-1] for p in patterns)  # "module.Class."
            known = sum(max(results[module, m].durations.get(x, 0) for m in ("bare", mode))
                        for x in results[module, "bare"].durations if x.startswith(prefixes))
            t = min(spec.timeout, int(60 + 3 * known))
        label = "rerun-module" if whole else "rerun"
        rb = runner.run(spec, "bare", label=label, match=patterns, timeout=t)
        rms = [runner.run(spec, mode, label=label, match=patterns, timeout=t)]
        for attempt in range(1, args.hang_reruns):
            again = [d["test"] for d in ds if d["valley"] in (HANG, DIED) and
                     all(outcome(r, d["test"]) == outcome(rb, d["test"]) for r in rms)]
            if not again or whole:
                break
            rms.append(runner.run(spec, mode, label=f"{label}{attempt + 1}", timeout=t,
                                  match=sorted({rerun_pattern(x) for x in again})))
        return key, rb, rms

    reruns = {}
    if groups and not args.no_rerun:
        print(f"cpython-peer: {len(differences)} differences; rerunning them", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for key, rb, rms in pool.map(rerun_group, list(groups)):
                reruns[key] = rb, rms
    for d in differences:
        key = d["module"], d["mode"], d["test"] == OUTSIDE
        if key not in reruns:
            d["rerun"], d["verdict"] = None, "not rerun"
            continue
        rb, rms = reruns[key]
        # Later tries ran only the tests still in doubt: a test is judged on the tries it had.
        tries = [outcome(r, d["test"]) for r in rms[:1]] + \
                [outcome(r, d["test"]) for r in rms[1:] if outcome(r, d["test"]) != ABSENT]
        d["rerun"] = [outcome(rb, d["test"])] + tries
        d["rerun_detail"] = next((r.details[d["test"]] for r in rms if d["test"] in r.details), "")
        d["verdict"] = "differs" if any(x != d["rerun"][0] for x in tries) else "flake"
        d["repro"] = repro_command(by_name[d["module"]], d["mode"], d["test"], build_rel,
                                   args.testdir and os.path.relpath(args.testdir, ROOT))
    total_seconds = time.monotonic() - started

    # Report.
    lines = []
    head = ["module", "tests"] + modes + [f"s {m}" for m in modes]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    mode_totals = collections.Counter()
    for s in specs:
        bare = results[s.module, "bare"]
        n = len([t for t in bare.outcomes if t != OUTSIDE])
        cells = [s.module, str(n)]
        for m in modes:
            r = results[s.module, m]
            note = "" if r.status == "done" else f" ({r.status})"
            cells.append(counts(r) + note)
        for m in modes:
            cells.append(f"{results[s.module, m].seconds:.0f}")
            mode_totals[m] += results[s.module, m].seconds
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| total | | " + " | ".join("" for _ in modes) + " | " +
                 " | ".join(f"{mode_totals[m]:.0f}" for m in modes) + " |")
    lines.append("")
    lines.append("cells: passed/failed/skipped/hung-or-died tests; s: seconds per mode, "
                 "continuations after a hang included; reruns not included")
    lines.append(f"wall time, reruns included: {total_seconds:.0f} s")
    real = [d for d in differences if d.get("verdict") in ("differs", "not rerun")]
    flakes = [d for d in differences if d.get("verdict") == "flake"]
    lines.append("")
    lines.append(f"differences from bare: {len(real)} confirmed, {len(flakes)} flaky")
    for (module, mode), tids in sorted(unreached.items()):
        r = results[module, mode]
        lines.append(f"- [not reached] {mode} {module}: {len(tids)} tests of bare's never ran: "
                     f"the module still hung or died after {len(r.logs)} runs "
                     f"({r.seconds:.0f} s)")
    for d in real + flakes:
        rer = "" if not d.get("rerun") else f"; rerun bare {d['rerun'][0]}, {d['mode']} " \
                                            f"{', '.join(d['rerun'][1:])}"
        lines.append(f"- [{d['verdict']}] {d['mode']} {d['test']}: bare {d['bare']}, "
                     f"{d['mode']} {d['valley']}{rer}")
        if d["detail"]:
            lines.append(f"    {d['mode']}: {d['detail']}")
        if d["bare_detail"]:
            lines.append(f"    bare: {d['bare_detail']}")
        if d.get("repro"):
            lines.append(f"    reproduce: {d['repro']}")
    report = "\n".join(lines)
    print(report)
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(report + "\n")
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"modes": modes, "list": list_path, "seconds": total_seconds,
                   "modules": {f"{k[0]} {k[1]}": dataclasses.asdict(v)
                               for k, v in results.items()},
                   "differences": differences,
                   "unreached": {f"{k[0]} {k[1]}": v for k, v in unreached.items()}},
                  f, indent=1)
    print(f"cpython-peer: results in {args.out}/summary.md and results.json")
    return 1 if real or unreached else 0


if __name__ == "__main__":
    sys.exit(main())
