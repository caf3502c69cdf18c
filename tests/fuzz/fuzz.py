"""Differential fuzzer: random workflows on `wfr` and on ddeutil-workflow 0.0.86.

    fuzz.py run [--seed S] [-n N] [--jobs J] [--keep DIR] [--no-minimize]
        N cases from seed S (default: a fresh seed, printed); prints the table of classes.
    fuzz.py show SEED INDEX [DIR]
        writes one case (conf/wf.yml, params.json) and prints both engines' contexts.
    fuzz.py check
        the fixed-seed batch of `cargo test` (30 cases): fails when a case's classes differ from
        tests/fuzz/expected.json (WFC_FUZZ_UPDATE=1 rewrites it).
    fuzz.py classes
        prints the table of known classes, with their repros.

Run it with the reference engine's Python (scripts/setup-tests installs it in
~/.cache/wfc-test/oracle): `~/.cache/wfc-test/oracle/bin/python tests/fuzz/fuzz.py run -n 500`.
`WFR` names the wfr binary (default: target/debug/wfr, built with `cargo build -p wfr`).
"""

import argparse
import concurrent.futures
import copy
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import classes  # noqa: E402
from gen import generate  # noqa: E402

ROOT = HERE.parents[1]
CASE_TIMEOUT = 30  # seconds; upstream hangs on some inputs (a class of its own)
CHECK_SEED, CHECK_COUNT = 20261130, 30
CHECK_TIMEOUT = 30  # seconds: upstream takes up to ~10 on a busy machine; its hangs are a class


# ---------------------------------------------------------------------- engines
class Oracle:
    """One warm ddeutil-workflow process (tests/fuzz/oracle.py), restarted after a hang."""

    def __init__(self):
        self.proc = None

    def start(self):
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "oracle.py"), str(write)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=[write], text=True, start_new_session=True,
        )
        os.close(write)
        self.reader = os.fdopen(read, "r")

    def stop(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.reader.close()
            self.proc = None

    def run(self, case_dir, name, params, timeout=None, sequential=False):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        request = {"conf": str(case_dir / "conf"), "cwd": str(case_dir), "workflow": name,
                   "params": params, "max_job_parallel": 1 if sequential else 2}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.reader], [], [], timeout or CASE_TIMEOUT)
        line = self.reader.readline() if ready else ""
        if not line:
            self.stop()
            return ("timeout", None) if not ready else ("crash", "the reference engine died")
        reply = json.loads(line)
        if "crash" in reply:
            return "crash", reply["crash"]
        return "ok", reply["context"]


def wfr_binary():
    return os.environ.get("WFR") or str(ROOT / "target" / "debug" / "wfr")


def run_wfr(case_dir, name, timeout=None, sequential=False):
    env = dict(os.environ, WORKFLOW_CORE_CONF_PATH=str(case_dir / "conf"), NO_COLOR="1",
               WFR_LOG="off")
    for key in ("WORKFLOW_CORE_STAGE_DEFAULT_ID", "WORKFLOW_CORE_REGISTRY_CALLER"):
        env.pop(key, None)
    try:
        done = subprocess.run(
            [wfr_binary(), "run", name, "--params-file", str(case_dir / "params.json"),
             "--output", "json", "--runs", str(case_dir / "runs")]
            + (["--max-job-parallel", "1"] if sequential else []),
            cwd=case_dir, env=env, capture_output=True, timeout=timeout or CASE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return "timeout", None
    try:
        return "ok", json.loads(done.stdout)
    except ValueError:
        text = done.stderr.decode(errors="replace")
        return ("refused" if done.returncode == 2 else "crash"), text[-3000:]


class Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, as people write scripts."""


Dumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def write_case(case, case_dir):
    conf = case_dir / "conf"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    conf.mkdir(parents=True)
    (conf / "wf.yml").write_text(yaml.dump(case["docs"], Dumper=Dumper, sort_keys=False, width=1000))
    (case_dir / "params.json").write_text(json.dumps(case["params"]))


# ------------------------------------------------------------------- comparing
def normalize(value):
    """`info` dropped, `errors` reduced to their presence."""
    if isinstance(value, dict):
        return {k: ("<errors>" if k == "errors" else normalize(v))
                for k, v in value.items() if k != "info"}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def tagged(value):
    """The strict form: 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {k: tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    return (type(value).__name__, value)


def diffs(ours, theirs, path=""):
    """[(path, ours, theirs)] where the strict forms differ (missing: `<absent>`)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs), key=str):
            out += diffs(ours.get(key, "<absent>"), theirs.get(key, "<absent>"),
                         f"{path}.{key}" if path else str(key))
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        out = []
        for i, (a, b) in enumerate(zip(ours, theirs)):
            out += diffs(a, b, f"{path}[{i}]")
        return out
    return [] if tagged(ours) == tagged(theirs) else [(path, ours, theirs)]


class Outcome:
    """One run of a case on both engines."""

    def __init__(self, ours, theirs):
        self.ours, self.theirs = ours, theirs
        if ours[0] != "ok" or theirs[0] != "ok":
            self.kind = f"wfr-{ours[0]}" if ours[0] != "ok" else f"oracle-{theirs[0]}"
            self.diffs = []
            return
        a, b = normalize(ours[1]), normalize(theirs[1])
        self.diffs = diffs(a, b)
        if not self.diffs:
            self.kind = "same"
        elif a == b:
            self.kind = "strict"  # equal as Python compares, but a type differs
        else:
            self.kind = "differ"

    @property
    def same(self):
        return self.kind == "same"

    def key(self):
        return (self.kind, json.dumps([(p, repr(a), repr(b)) for p, a, b in self.diffs]))

    def signature(self):
        """What shrinking keeps: the kind, and for a refusal its finding codes."""
        if self.kind == "wfr-refused":
            return self.kind, tuple(sorted(set(re.findall(r"\[(WF\d+)", str(self.ours[1])))))
        return self.kind

    def summary(self, limit=6):
        if self.kind.startswith("wfr-"):
            return f"{self.kind}: {str(self.ours[1])[-600:]}"
        if self.kind.startswith("oracle-"):
            return f"{self.kind}: {str(self.theirs[1])[-600:]}"
        lines = [f"{p}: wfr {json.dumps(a, default=str)[:200]} · upstream {json.dumps(b, default=str)[:200]}"
                 for p, a, b in self.diffs[:limit]]
        if len(self.diffs) > limit:
            lines.append(f"… {len(self.diffs) - limit} more")
        return "\n".join(lines)


class Runner:
    """Runs cases on both engines; one warm oracle per thread."""

    def __init__(self, work):
        self.work = Path(work)
        self.local = threading.local()
        self.oracles = []
        self.lock = threading.Lock()
        self.serial = 0

    def oracle(self):
        if not hasattr(self.local, "oracle"):
            self.local.oracle = Oracle()
            with self.lock:
                self.oracles.append(self.local.oracle)
        return self.local.oracle

    def run(self, case, label=None, timeout=None):
        with self.lock:
            self.serial += 1
            label = label or f"t{self.serial}"
        case_dir = self.work / label
        write_case(case, case_dir)
        sequential = case.get("sequential", False)
        ours = run_wfr(case_dir, case["workflow"], timeout, sequential)
        theirs = self.oracle().run(case_dir, case["workflow"], case["params"], timeout,
                                   sequential)
        return Outcome(ours, theirs)

    def close(self):
        for oracle in self.oracles:
            oracle.stop()


# --------------------------------------------------------------- classifying
def classify(runner, case, outcome, minimize=True):
    """(class names, note, minimized case or None) for a case whose engines disagree."""
    if outcome.kind.endswith("-timeout"):
        # Not run again (a hang costs the whole timeout each time), nor shrunk.
        shape = classes.by_shape(case, outcome)
        return ([shape.name] if shape else ["unexplained"]), outcome.summary(), None
    # Races: the same case, run again, gives another answer on one side.
    again = [runner.run(case) for _ in range(2)]
    if any(o.key() != outcome.key() for o in again):
        def side_of(o, which):
            kind, value = getattr(o, which)
            return json.dumps([kind, normalize(value) if kind == "ok" else None],
                              sort_keys=True, default=str)

        side = "upstream"
        if any(side_of(o, "ours") != side_of(outcome, "ours") for o in again):
            side = "wfr"
        timing = classes.timing_class(case)
        if timing:
            return [timing.name], "", None
        # Each run agrees or differs only as a timing shape does (which jobs had started
        # when a trigger rule stopped the run).
        shapes = [classes.by_shape(case, o) for o in [outcome] + again if not o.same]
        if shapes and all(shapes):
            return sorted({c.name for c in shapes}), "", None
        # A construct may make one side's output vary (upstream's script names in its
        # stderr): the case without it must agree every time.
        candidates = classes.found_in(case)
        if candidates:
            neutral = classes.neutralized(case, candidates)
            rests = [runner.run(neutral) for _ in range(3)]
            shapes = [classes.by_shape(neutral, o) for o in rests if not o.same]
            if all(shapes):
                return sorted({c.name for c in candidates} | {c.name for c in shapes}), "", None
        return [f"race-{side}"], "the outcome changes from run to run", None
    # Known classes whose construct the case holds: neutralizing all of them must make
    # the engines agree; then each one that matters on its own is named.
    shape = classes.by_shape(case, outcome)
    if shape:
        return [shape.name], "", None
    candidates = classes.found_in(case)
    if candidates:
        neutral = classes.neutralized(case, candidates)
        rest = runner.run(neutral)
        left = None if rest.same else classes.by_shape(neutral, rest)
        if rest.same or left:
            extra = [left.name] if left else []
            if len(candidates) == 1:
                return [candidates[0].name] + extra, "", None
            named = []
            for c in candidates:
                others = classes.neutralized(case, [o for o in candidates if o is not c])
                again = runner.run(others)
                if not (again.same or classes.by_shape(others, again)):
                    named.append(c.name)
            return sorted(set((named or [c.name for c in candidates]) + extra)), "", None
        # Something else differs too: look at what is left.
        case, outcome = neutral, rest
    small = shrink(runner, case, outcome) if minimize else None
    if small is not None and any(runner.run(small).signature() != outcome.signature()
                                 for _ in range(2)):
        small = None  # the smaller case does not disagree every time: keep the whole one
    return ["unexplained"], outcome.summary(), small


def removals(doc):
    """Every smaller document: one list item, one optional key or one job removed."""
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in OPTIONAL_KEYS or (path and path[-1] == "jobs") or (path and path[-1] == "parallel" and len(node) > 1):
                    yield path + [key]
                yield from walk(value, path + [key])
        elif isinstance(node, list):
            if len(node) > 1 or (path and path[-1] in ("needs", "include", "exclude")):
                for i in range(len(node)):
                    yield path + [i]
            for i, value in enumerate(node):
                yield from walk(value, path + [i])
    yield from walk(doc, [])


OPTIONAL_KEYS = {"if", "env", "vars", "retry", "concurrent", "use_index_as_key", "needs",
                 "trigger-rule", "include", "exclude", "fail-fast", "max-parallel", "sleep",
                 "max-workers", "skip-not-match", "strategy", "id", "params"}


def without(doc, path):
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return doc


SHRINK_TIMEOUT = 5  # seconds: a smaller case that hangs is not the same disagreement
SHRINK_SECONDS = 120  # per case


def shrink(runner, case, outcome, budget=150):
    """The smallest case (by greedy removal) that still disagrees the same way."""
    want = outcome.signature()
    tries = 0
    changed = True
    ends = time.monotonic() + SHRINK_SECONDS
    while changed and tries < budget and time.monotonic() < ends:
        changed = False
        for path in list(removals(case["docs"])):
            if tries >= budget or time.monotonic() > ends:
                break
            try:
                smaller = dict(case, docs=without(case["docs"], path))
            except (KeyError, IndexError):
                continue
            tries += 1
            if runner.run(smaller, timeout=SHRINK_TIMEOUT).signature() == want:
                case, changed = smaller, True
                break
    return case


# --------------------------------------------------------------------- driving
def run_batch(seed, count, jobs, work, minimize=True, progress=True, quick=False,
              indexes=None):
    """Cases 0 to `count` - 1 of `seed` (or the cases `indexes`), each classified."""
    runner = Runner(work)
    results = {}

    def one(index):
        case = generate(seed, index)
        outcome = runner.run(case, f"case-{index}")
        if outcome.same:
            return index, ["same"], "", None
        if quick:
            names = [c.name for c in classes.found_in(case)] or ["unexplained"]
            return index, names, outcome.summary(), None
        names, note, small = classify(runner, case, outcome, minimize)
        return index, names, note, small

    try:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for index, names, note, small in pool.map(one, indexes or range(count)):
                results[index] = (names, note, small)
                if progress:
                    print(f"{seed}/{index}: {', '.join(names)}", file=sys.stderr)
    finally:
        runner.close()
    return results


def table(results, seed):
    counts = {}
    for names, _, _ in results.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    lines = [f"seed {seed}: {len(results)} cases", "", "| class | kind | cases |", "|---|---|---|"]
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        kind = classes.kind_of(name)
        lines.append(f"| {name} | {kind} | {n} |")
    return "\n".join(lines)


def cmd_run(args):
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**9)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wfc-fuzz-"))
    started = time.monotonic()
    indexes = [int(i) for i in args.cases.split(",")] if args.cases else None
    results = run_batch(seed, args.n, args.jobs, work, not args.no_minimize, quick=args.quick,
                        indexes=indexes)
    print(table(results, seed))
    print(f"\n{time.monotonic() - started:.0f} s")
    odd = [(i, r) for i, r in sorted(results.items())
           if any(classes.kind_of(n) in ("wfr defect", "unexplained") for n in r[0])]
    for index, (names, note, small) in odd:
        print(f"\n## {seed}/{index}: {', '.join(names)}\n{note}")
        if small:
            print(yaml.dump(small["docs"], Dumper=Dumper, sort_keys=False, width=1000))
            print(f"params: {json.dumps(small['params'])}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if odd else 0


def cmd_show(args):
    case = generate(args.seed, args.index)
    work = Path(args.dir or tempfile.mkdtemp(prefix="wfc-fuzz-show-"))
    runner = Runner(work)
    try:
        outcome = runner.run(case, "case")
    finally:
        runner.close()
    print(f"case written to {work / 'case'}; params: {json.dumps(case['params'])}")
    print(yaml.dump(case["docs"], Dumper=Dumper, sort_keys=False, width=1000))
    print(f"outcome: {outcome.kind}\n{outcome.summary(limit=40)}")


def readme_gaps():
    """Documented classes whose line is not in README.md's "Differences", and upstream
    defects without a repro."""
    readme = " ".join((ROOT / "README.md").read_text().split()).lower()
    start = readme.find("## differences from ddeutil-workflow")
    section = readme[start:readme.find("## ", start + 3)]
    gaps = []
    for c in classes.CLASSES:
        if c.kind == "documented" and " ".join((c.readme or "").split()).lower() not in section:
            gaps.append(f"class {c.name}: README's Differences lacks the line {c.readme!r}")
        if c.kind == "upstream defect" and not c.repro:
            gaps.append(f"class {c.name}: an upstream defect needs a repro")
    return gaps


def settled(names):
    """The classes of a case that do not depend on timing."""
    return sorted(n for n in names if n != "same" and not classes.is_timing(n))


def cmd_check(args):
    global CASE_TIMEOUT
    CASE_TIMEOUT = CHECK_TIMEOUT
    gaps = readme_gaps()
    if gaps:
        print("\n".join(gaps))
        return 1
    expected_file = HERE / "expected.json"
    work = Path(tempfile.mkdtemp(prefix="wfc-fuzz-check-"))
    try:
        results = run_batch(CHECK_SEED, CHECK_COUNT, args.jobs, work, minimize=False,
                            progress=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    got = {str(i): sorted(r[0]) for i, r in sorted(results.items())}
    if os.environ.get("WFC_FUZZ_UPDATE") == "1":
        expected_file.write_text(json.dumps(got, indent=1) + "\n")
        print(f"wrote {expected_file}")
        return 0
    expected = json.loads(expected_file.read_text())
    wrong = []
    for index, names in got.items():
        want = expected.get(index)
        # Timing decides whether a timing class shows in one run (or the case agrees):
        # every other class must be as checked in.
        if want is not None and settled(names) == settled(want):
            continue
        # A case that timing touches (in this run or the checked-in one) may be named
        # differently from run to run; it must still hold nothing unexplained.
        timed = any(classes.is_timing(n) for n in names + (want or []))
        if want is not None and timed and not any(
                classes.kind_of(n) in ("wfr defect", "unexplained") for n in names):
            continue
        note = results[int(index)][1]
        wrong.append(f"case {CHECK_SEED}/{index}: classes {names}, expected {want}\n{note}")
    print(table(results, CHECK_SEED))
    if wrong:
        print("\n" + "\n\n".join(wrong))
        print("\nReproduce one with `fuzz.py show SEED INDEX`. If the change is intended, run "
              "with WFC_FUZZ_UPDATE=1 and commit tests/fuzz/expected.json.")
        return 1
    return 0


def cmd_classes(args):
    print(classes.markdown())
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--seed", type=int)
    p.add_argument("-n", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--keep")
    p.add_argument("--cases", help="only these cases of the seed (`17,40`), to look at them again")
    p.add_argument("--no-minimize", action="store_true")
    p.add_argument("--quick", action="store_true",
                   help="no reruns, no neutralizing: name the classes whose construct a case holds")
    p = sub.add_parser("show")
    p.add_argument("seed", type=int)
    p.add_argument("index", type=int)
    p.add_argument("dir", nargs="?")
    p = sub.add_parser("check")
    p.add_argument("--jobs", type=int, default=2)
    sub.add_parser("classes")
    args = parser.parse_args()
    sys.exit({"run": cmd_run, "show": cmd_show, "check": cmd_check,
              "classes": cmd_classes}[args.command](args) or 0)


if __name__ == "__main__":
    main()
