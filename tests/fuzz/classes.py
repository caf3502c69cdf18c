"""The named classes of differences between wfr and ddeutil-workflow 0.0.86.

Each class says what kind it is:
  * `wfr defect`: wfr is wrong; the class stays here, fixed, so that a return is named;
  * `documented`: wfr differs on purpose; `readme` is a line of README.md's "Differences";
  * `upstream defect`: the reference engine is wrong; `repro` is a minimal workflow.

A class finds its construct in a case (`detect`) and rewrites the case without it
(`neutralize`). The fuzzer names a class when a disagreeing case holds its construct and the
engines agree once it is neutralized. A new class is a `Class(...)` line below.
"""

import copy
import re


def stage_lists(doc):
    """Every list of stages in a workflow mapping, nested ones included."""
    for job in doc.get("jobs", {}).values():
        yield from _lists(job.get("stages", []))


def _lists(stages):
    yield stages
    for stage in stages:
        for branch in (stage.get("parallel") or {}).values():
            yield from _lists(branch)
        if isinstance(stage.get("stages"), list):
            yield from _lists(stage["stages"])
        for arm in stage.get("match") or []:
            yield from _lists(arm.get("stages") or arm.get("else") or [])


def stages(case):
    for doc in case["docs"].values():
        for group in stage_lists(doc):
            yield from group


def jobs(case):
    for doc in case["docs"].values():
        yield from doc.get("jobs", {}).values()


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def dropping(finder, key):
    """A neutralizer: the case without `key` in the nodes that `finder` returns."""
    def neutralize(case):
        case = copy.deepcopy(case)
        for node in finder(case):
            node.pop(key, None)
        return case
    return neutralize


def found_in(case):
    """The construct classes whose construct the case holds."""
    return [c for c in CLASSES if c.detect and c.detect(case)]


def neutralized(case, found):
    """The case with the constructs of every class in `found` rewritten away."""
    for c in found:
        case = c.neutralize(case)
    return case


def edit(case, fn):
    """A copy of the case with `fn(copy)` applied."""
    case = copy.deepcopy(case)
    fn(case)
    return case


def replace_strings(case, pattern, repl):
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                node[k] = walk(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                node[i] = walk(v)
        elif isinstance(node, str):
            return re.sub(pattern, repl, node)
        return node
    return edit(case, lambda c: walk(c["docs"]))


class Class:
    """A class found by its construct (`detect`, `neutralize`) or, for differences that
    no construct causes (timing), by the shape of the disagreement (`shape(outcome)`:
    whether it explains every difference)."""

    def __init__(self, name, kind, text, detect=None, neutralize=None, readme=None,
                 repro=None, shape=None):
        self.name, self.kind, self.text = name, kind, text
        self.detect, self.neutralize, self.shape = detect, neutralize, shape
        self.readme, self.repro = readme, repro


def by_shape(case, outcome):
    for c in CLASSES:
        if c.shape and c.shape(case, outcome):
            return c
    return None


def refused_include(case, outcome):
    """wfc refuses an `include` on a matrix whose combinations are all excluded (WF504);
    upstream's `make()` raises when the job runs: the job is lost from `jobs`, the run
    fails, and a job that needs it waits forever. When the job does not run (its `if`,
    or its needs), upstream never finds out, and the run goes on."""
    ours = str(outcome.ours[1])
    if not (outcome.kind == "wfr-refused" and "WF504" in ours and "every combination" in ours):
        return False
    if outcome.theirs[0] == "timeout":  # a job needing the lost job waits forever
        return True
    if outcome.theirs[0] != "ok":
        return False
    theirs = outcome.theirs[1]
    if theirs.get("status") == "FAILED":
        return True
    refused = re.findall(r"the matrix of job `([\w-]+)`", ours)
    return bool(refused) and all(
        (theirs.get("jobs", {}).get(job) or {}).get("status", "SKIP") == "SKIP"
        for job in refused)


def stops_the_run(case):
    """A foreach (always fail-fast) or a fail-fast matrix: a failure in it stops the
    whole run, so what else had started by then is timing."""
    return any("foreach" in s for s in stages(case)) or any(
        (j.get("strategy") or {}).get("fail-fast") is True for j in jobs(case))


def sequential(case):
    """The case with one thing at a time: jobs, strategies, items and branches. What a
    fail-fast stop leaves running is then no longer a matter of timing."""
    case = copy.deepcopy(case)
    case["sequential"] = True
    for doc in case["docs"].values():
        for job in doc.get("jobs", {}).values():
            if "strategy" in job:
                job["strategy"]["max-parallel"] = 1
    for stage in stages(case):
        if "foreach" in stage:
            stage["concurrent"] = 1
        if "parallel" in stage:
            stage["max-workers"] = 1
    return case


def cancel_shaped(case, outcome):
    """A run that a fail-fast failure stopped, where the engines differ only in what the
    stop reached: units or stages present on one side only, CANCEL on one side, and the
    errors that go with them."""
    if outcome.kind != "differ" or not stops_the_run(case):
        return False

    def cancelled(v):
        return v == "CANCEL" or (isinstance(v, dict) and v.get("status") == "CANCEL")

    return all(
        "<absent>" in (a, b) or cancelled(a) or cancelled(b) or path.endswith(".errors")
        for path, a, b in outcome.diffs)


def timing_class(case):
    for c in CLASSES:
        if c.name == "fail-fast-timing" and stops_the_run(case):
            return c
    return None


def pasted_conditions(case):
    """Conditions with a quoted template whose text may hold a quote: upstream pastes the
    text into Python source, wfr compares the value."""
    nodes = list(stages(case)) + list(jobs(case))
    return [n for n in nodes
            if isinstance(n.get("if"), str) and re.search(r"['\"]\$\{\{", n["if"])
            and may_quote(case, n["if"])]


SHORT_CIRCUIT = re.compile(r"^(?P<left>.+?) (?P<op>and|or) (?P<right>.+)$")


def two_sided_conditions(case):
    """Conditions `A and B` / `A or B` whose right side holds a template: wfr does not
    evaluate it when the left side decides, upstream renders every template first."""
    nodes = list(stages(case)) + list(jobs(case))
    return [n for n in nodes
            if isinstance(n.get("if"), str)
            and (m := SHORT_CIRCUIT.match(n["if"])) and "${{" in m["right"]]


def swapped_sides(case):
    """The case with both sides of each such condition swapped: the same truth value,
    but the template that may fail is evaluated first, in both engines."""
    def swap(c):
        for node in two_sided_conditions(c):
            m = SHORT_CIRCUIT.match(node["if"])
            node["if"] = f"{m['right']} {m['op']} {m['left']}"
    return edit(case, swap)


def hang_after_stop(case, outcome):
    """Upstream never ends: a fail-fast failure stopped the run, and a job needs a job
    that the stop kept from starting (it waits for a status that never comes)."""
    return (outcome.kind == "oracle-timeout" and stops_the_run(case)
            and any(j.get("needs") for doc in case["docs"].values()
                    for j in doc.get("jobs", {}).values()))


def unhashable_items(case):
    """Foreach stages over a param whose list holds mappings or lists."""
    unhashable = {name for name, value in case["params"].items()
                  if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)}
    return [s for s in stages(case) if isinstance(s.get("foreach"), str)
            and any(n in unhashable for n in re.findall(r"params\.([\w-]+)", s["foreach"]))]


def hashable_items(case):
    """The case with those lists' mappings and lists given as their text."""
    case = copy.deepcopy(case)
    for name, value in case["params"].items():
        if isinstance(value, list):
            case["params"][name] = [str(v) if isinstance(v, (dict, list)) else v for v in value]
    return case


def abort_timing(case, outcome):
    """A trigger rule stopped the run, and the engines differ only in which other jobs
    had started by then (whole jobs present on one side only)."""
    if outcome.kind != "differ":
        return False
    ours, theirs = outcome.ours[1], outcome.theirs[1]
    stopped = any("trigger rule" in str((side.get("errors") or {}).get("message", ""))
                  for side in (ours, theirs))
    if not stopped:
        return False
    return outcome.kind == "differ" and all(
        re.fullmatch(r"jobs\.[\w-]+", path) and "<absent>" in (a, b)
        for path, a, b in outcome.diffs)


def has_string(pattern):
    return lambda case: any(re.search(pattern, s) for s in strings(case["docs"]))


def nested_lists(case):
    """Every nested list of stages (inside parallel, foreach, until, case)."""
    for doc in case["docs"].values():
        for job in doc.get("jobs", {}).values():
            for stage in job.get("stages", []):
                for group in _lists([stage]):
                    if group is not None and not (len(group) == 1 and group[0] is stage):
                        yield group


def sibling_status(case):
    """Conditions inside nested lists that read `stages.X.status` (or `errors`) of a
    nested stage X: upstream re-injects only nested stages' outputs."""
    nested_ids = {s.get("id") for group in nested_lists(case) for s in group if s.get("id")}
    found = []
    for group in nested_lists(case):
        for stage in group:
            text = stage.get("if")
            if isinstance(text, str) and any(
                    sid in nested_ids
                    for sid in re.findall(r"stages\.([\w-]+)\.(?:status|errors)", text)):
                found.append(stage)
    return found


def bool_ifs(case):
    out = [s for s in stages(case) if isinstance(s.get("if"), bool)]
    return out + [j for j in jobs(case) if isinstance(j.get("if"), bool)]


def rule_is(*rules):
    return lambda case: any(j.get("trigger-rule") in rules for j in jobs(case))


def set_rule(rules, to):
    def fn(case):
        case = copy.deepcopy(case)
        for job in jobs(case):
            if job.get("trigger-rule") in rules:
                job["trigger-rule"] = to
        return case
    return fn


def bash_env(case):
    return [s for s in stages(case) if "bash" in s and s.get("env")]


def may_quote(case, value):
    """Whether a template may render to text with a `'` in it: `rstr`, a mapping or list
    param, a stage output (Py outputs are any value)."""
    if not isinstance(value, str):
        return False
    if "'" in value or "rstr" in value or re.search(r"stages\.[\w-]+\.outputs", value):
        return True
    collections = {name for doc in case["docs"].values()
                   for name, p in (doc.get("params") or {}).items()
                   if isinstance(p, dict) and p.get("type") in ("map", "array")}
    return any(name in collections for name in re.findall(r"params\.([\w-]+)", value))


CLASSES = [
    # ------------------------------------------------------------------ documented
    Class("bool-if", "documented", "a YAML boolean `if:`: upstream skips on `true` and runs on `false`",
          lambda c: bool(bool_ifs(c)), dropping(bool_ifs, "if"),
          readme="A boolean `if:` means what it says"),
    Class("keys-values-lists", "documented", "`keys`/`values` give lists, not `dict_keys(...)` text",
          has_string(r"\|\s*(keys|values)\b"),
          lambda c: replace_strings(c, r"\|\s*(keys|values)\b", "| str"),
          readme="The `keys` and `values` filters return lists"),
    Class("fmt-date", "documented", "`fmt` on a date (upstream: only datetimes)",
          has_string(r"\|\s*fmt\b"),
          lambda c: replace_strings(c, r"\|\s*fmt\([^)]*\)", "| str"),
          readme="`fmt` formats a date as well as a datetime"),
    Class("list-filter-argument", "documented", "a list literal as a filter argument (`coalesce([])`)",
          has_string(r"\|\s*\w+\(\s*\["),
          lambda c: replace_strings(c, r"\|\s*(\w+)\(\s*\[[^)]*\)", r"| \1('x')"),
          readme="A list literal is a filter argument"),
    Class("path-index", "documented", "`[0]` and `['k']` indexing in a template path",
          has_string(r"\$\{\{[^}]*\[(\d+|'[^']*')\]"),
          lambda c: replace_strings(c, r"\[(\d+|'[^']*')\](?=[^{]*\}\})", ""),
          readme="`[0]` and `['k']` index lists and mappings in templates"),
    Class("nested-sibling-status", "documented",
          "`stages.<id>.status` of a sibling inside a nested stage (upstream keeps only outputs there)",
          lambda c: bool(sibling_status(c)), dropping(sibling_status, "if"),
          readme="an earlier sibling's `status` and `errors` can be read"),
    Class("one-rule", "documented", "`one_success`/`one_failed` mean at least one (upstream: exactly one)",
          rule_is("one_success", "one_failed"), set_rule(("one_success", "one_failed"), "all_done"),
          readme="`one_success` / `one_failed` mean **at least one**"),
    Class("abort-timing", "documented",
          "a trigger rule stopped the run; which other jobs had started by then is timing",
          shape=abort_timing,
          readme="which jobs had already started when a trigger rule stops the run depends on timing"),
    Class("include-all-excluded", "documented",
          "an `include` on a matrix whose combinations are all excluded: a WF504 finding",
          shape=refused_include,
          readme="an `include` on a matrix whose combinations `exclude` all removes"),
    Class("bash-not-sh", "documented",
          "a Bash script's `echo` of text holding backslashes (`rstr`): sh (upstream) reads "
          "`\\n` as a newline, bash (wfr) does not",
          lambda c: any("rstr" in s["bash"] for s in stages(c) if isinstance(s.get("bash"), str)),
          lambda c: edit(c, lambda d: [s.update(bash=s["bash"].replace("rstr", "str"))
                                       for s in stages(d) if isinstance(s.get("bash"), str)]),
          readme="run with `bash` (not `sh`)"),
    Class("run-times-in-text", "documented",
          "a trigger's whole `jobs` output rendered as text: it holds run times, never twice the same",
          has_string(r"outputs\.jobs\s*(\||\}\})"),
          lambda c: replace_strings(c, r"outputs\.jobs(?=\s*(\||\}\}))", "outputs.params"),
          readme="a template that renders a whole trigger's `jobs` as text is never the same twice"),
    Class("foreach-unhashable", "documented",
          "a foreach over items Python cannot hash (mappings, lists): upstream fails",
          lambda c: bool(unhashable_items(c)), hashable_items,
          readme="A foreach iterates over any items, mappings and lists included"),
    Class("fail-fast-timing", "documented",
          "a fail-fast failure stopped the run; what had started by then is timing (a race, "
          "or a difference gone when everything runs one at a time)",
          stops_the_run, sequential, shape=cancel_shaped,
          readme="what had started by then depends on timing"),
    Class("condition-text", "documented",
          "a quoted template in a condition whose text holds a quote: a value in wfr, pasted source upstream",
          lambda c: bool(pasted_conditions(c)), dropping(pasted_conditions, "if"),
          readme="a template in a condition is a value, never text pasted into it"),
    Class("short-circuit", "documented",
          "`A or B` / `A and B` where A decides: wfr does not evaluate B, upstream renders "
          "B's templates first and fails when one cannot be rendered",
          lambda c: bool(two_sided_conditions(c)), swapped_sides,
          readme="`and` and `or` in a condition do not evaluate their right side"),
    # ------------------------------------------------------------- upstream defects
    Class("hang-after-stop", "upstream defect",
          "after a fail-fast stop, a job that needs a job the stop kept from starting waits forever",
          shape=hang_after_stop,
          repro="jobs a: a foreach over [x, y] whose stage is `bash: exit 3`; b: needs [a], "
                "trigger-rule all_done; c: needs [b]. The foreach's failure sets the run's "
                "event, b is not started (no entry in `jobs`), and upstream waits for b's "
                "status until its 1 h timeout; wfr ends with WorkflowCancelError at once"),
    Class("bash-env-quotes", "upstream defect",
          "a Bash `env` value holding `'` loses its quotes (upstream writes `K='V';` unescaped)",
          lambda c: any(may_quote(c, v) for s in bash_env(c) for v in s["env"].values()),
          dropping(bash_env, "env"),
          repro="`bash: echo \"$V\"`, `env: {V: \"${{ params.m }}\"}`, m = {'k': 'a b'}: upstream's "
                "script says `V='{'k': 'a b'}';`, which sh reads as `V={k:` then the command `a` "
                "(stdout null, an error on stderr); wfr exports V and prints {'k': 'a b'}"),
]

KINDS = {"same": "agree", "unexplained": "unexplained", "race-upstream": "unexplained",
         "race-wfr": "wfr defect"}


TIMING = {"fail-fast-timing", "abort-timing", "race-upstream", "race-wfr"}


def is_timing(name):
    """Classes that timing decides: one run may show them, the next agree."""
    return name in TIMING


def kind_of(name):
    for c in CLASSES:
        if c.name == name:
            return c.kind
    return KINDS.get(name, "unexplained")


def markdown():
    lines = ["| class | kind | what | README line or repro |", "|---|---|---|---|"]
    for c in CLASSES:
        where = c.readme or (c.repro or "").replace("\n", "<br>")
        lines.append(f"| {c.name} | {c.kind} | {c.text} | {where} |")
    return "\n".join(lines)
