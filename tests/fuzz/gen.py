"""The generator: random valid workflows in ddeutil-workflow's format, from a seed.

`generate(seed, index)` gives one case: a dict with
  * `workflow`: the name of the workflow to run;
  * `docs`: `{name: workflow mapping}` (the main workflow and the children it triggers),
    written to one YAML file;
  * `params`: the value of every declared param of the main workflow (always passed).

Everything is drawn from `random.Random(f"{seed}/{index}")`, so a case is reproduced by its
seed and index alone. The shapes are those both engines accept; each construct is one small
function below (see tests/fuzz/README section in the project README for adding one).
"""

import random

# Text that means the same to YAML 1.1 and 1.2, to sh and bash, and to Python literals.
WORDS = ["alpha", "beta", "gamma", "delta", "x", "y", "a b", "Mixed Case", "", "1", "007", "3.5"]
FILTERS_FOR = {
    "str": ["upper", "lower", "title", "str", "rstr"],
    "int": ["abs", "str", "int"],
    "float": ["abs", "str"],
    "map": ["keys", "values", "str", "str", "str", "str"],
    "array": ["str", "list"],
}
RULES = ["all_success", "all_failed", "all_done", "one_failed", "one_success", "none_failed",
         "none_skipped"]


class Scope:
    """What templates may refer to at one place: params, earlier stages, needs, matrix and
    the nested names (`item`, `loop`, `branch`)."""

    def __init__(self, params, needs=(), matrix=None):
        self.params = params  # {name: (type, value)}
        self.stages = []  # [(id, kind, {output: type})]
        self.needs = list(needs)  # [(job id, {stage id: {output: type}} or None for a matrix job)]
        self.matrix = matrix or {}  # {key: [values]}
        self.nested = {}  # {"item": type, "loop": "int", "branch": "str", "retry": "int"}
        self.until = False  # inside an until loop: a Py stage may set the next item

    def child(self, **nested):
        s = Scope(self.params, self.needs, self.matrix)
        s.stages = list(self.stages)
        s.nested = dict(self.nested)
        s.until = nested.pop("until", self.until)
        s.nested.update(nested)
        return s


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.counter = 0
        self.children = {}

    def chance(self, p):
        return self.r.random() < p

    def pick(self, items):
        return self.r.choice(items)

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ------------------------------------------------------------------ params
    def param(self, kind):
        """A param declaration and the value passed for it."""
        r = self.r
        if kind == "str":
            return {"type": "str"}, self.pick(WORDS)
        if kind == "int":
            value = self.pick([0, 1, 2, 3, 5, -4, 42, r.randrange(100), 10**20, -(10**19)])
            return {"type": "int"}, value
        if kind == "float":
            return {"type": "float"}, self.pick([0.5, 1.0, 2.25, -3.125, 1.1234567, 10.0, 3])
        if kind == "decimal":
            return {"type": "decimal"}, self.pick(["2.5", "0.1", "10", "-1.25"])
        if kind == "date":
            return {"type": "date"}, self.pick(["2024-02-29", "2023-01-01", "1999-12-31"])
        if kind == "datetime":
            return {"type": "datetime"}, self.pick(["2024-03-01T04:05:06", "2023-01-01T00:00:00"])
        if kind == "choice":
            options = self.r.sample(["a", "b", "c", "dev", "prod"], 3)
            return {"type": "choice", "options": options}, self.pick(options)
        if kind == "map":
            return {"type": "map"}, self.pick([{"k": 1, "v": "two"}, {}, {"k": [1, 2]}, {"n": None}])
        if kind == "array":
            return {"type": "array"}, self.pick([[1, 2, 3], ["a", "b"], [], [1, "x", 2.5], [3, 1, 2],
                                                 [{"k": 1}], [2, 2]])
        raise ValueError(kind)

    def params(self):
        kinds = ["str", "int", "float", "decimal", "date", "datetime", "choice", "map", "array"]
        decl, values = {}, {}
        for kind in self.r.sample(kinds, self.r.randint(2, 6)):
            name = self.fresh("p")
            d, v = self.param(kind)
            decl[name] = d
            values[name] = v
        return decl, values

    # -------------------------------------------------------------- templates
    def param_of(self, scope, *types):
        names = [n for n, (t, _) in scope.params.items() if not types or t in types]
        return self.pick(names) if names else None

    def value_template(self, scope):
        """`${{ … }}` of something that exists here, with filters that fit its type."""
        choices = []
        name = self.param_of(scope)
        if name:
            t = scope.params[name][0]
            choices.append((f"params.{name}", t))
        for key in scope.matrix:
            choices.append((f"matrix.{key}", "mixed"))
        for nested, t in scope.nested.items():
            choices.append((nested, t))
        outs = [(sid, o, t) for sid, _, outputs in scope.stages for o, t in outputs.items()]
        if outs:
            sid, o, t = self.pick(outs)
            choices.append((f"stages.{sid}.outputs.{o}", t))
        for need, stage_outputs in scope.needs:
            if stage_outputs:  # a job without a matrix: its stages sit under it
                outs = [(sid, o, t) for sid, d in stage_outputs.items() for o, t in d.items()]
                if outs:
                    sid, o, t = self.pick(outs)
                    choices.append((f"jobs.{need}.stages.{sid}.outputs.{o}", t))
        if not choices:
            return "${{ params }}"
        path, t = self.pick(choices)
        filters = []
        if self.chance(0.35):
            options = FILTERS_FOR.get(t, ["str"])
            if t == "datetime":
                options = ["fmt('%Y')", "fmt(fmt='%m/%d %H')", "str"]
            elif t == "date":
                options = ["fmt('%Y')", "str", "str", "str"]
            if t == "map":
                options = options + ["getitem('k', 'none')"]
            if t == "array":
                options = options + ["getindex(0)"] if self.chance(0.5) else options
            if self.chance(0.15):
                options = options + [self.pick(["coalesce('dflt')", "coalesce('dflt')", "coalesce([])"])]
            filters.append(self.pick(options))
        if self.chance(0.05):
            # Indexing in a path: upstream cannot do it.
            if t == "array":
                path += "[0]"
            elif t == "map":
                path += "['k']"
        inner = " | ".join([path] + filters)
        return "${{ " + inner + " }}"

    def text_template(self, scope):
        """Text with templates in it, or one template alone (which keeps its type)."""
        t = self.value_template(scope)
        form = self.r.randrange(4)
        if form == 0:
            return t
        if form == 1:
            return f"v={t}"
        if form == 2:
            return f"{t} post"
        return f"{self.pick(WORDS)} {t} / {self.value_template(scope)}"

    def condition(self, scope):
        """An `if` both engines read the same way (no bare value templates, no Python)."""
        r = self.r
        options = []
        ints = [n for n, (t, v) in scope.params.items() if t == "int"]
        strs = [n for n, (t, v) in scope.params.items() if t in ("str", "choice")]
        if ints:
            n = self.pick(ints)
            options.append(f"${{{{ params.{n} }}}} {self.pick(['>', '<', '==', '!=', '>='])} {r.randrange(-2, 6)}")
            options.append(f"params['{n}'] % 2 == 0")
        if strs:
            n = self.pick(strs)
            word = self.pick(WORDS + ["a", "b", "dev"])
            options.append(f"'${{{{ params.{n} }}}}' == '{word}'")
            options.append(f"\"${{{{ params.{n} }}}}\" != \"{word}\"")
            options.append(f"${{{{ params.{n} | rstr }}}} == '{word}'")
        for sid, kind, outputs in scope.stages:
            options.append(f"'${{{{ stages.{sid}.status }}}}' == 'SUCCESS'")
            if "return_code" in outputs:
                options.append(f"${{{{ stages.{sid}.outputs.return_code }}}} == 0")
            if "stdout" in outputs:
                options.append(f"'${{{{ stages.{sid}.outputs.stdout }}}}' != 'x'")
        for need, stages in scope.needs:
            options.append(f"'${{{{ jobs.{need}.status }}}}' == 'SUCCESS'")
            for sid, outputs in (stages or {}).items():
                if "return_code" in outputs:
                    options.append(f"${{{{ jobs.{need}.stages.{sid}.outputs.return_code }}}} == 0")
            options.append(f"'${{{{ jobs.{need}.status }}}}' {self.pick(['==', '!='])} 'SKIP'")
        if "item" in scope.nested:
            if scope.nested["item"] == "int":
                options.append(f"${{{{ item }}}} {self.pick(['>', '<=', '=='])} {r.randrange(0, 3)}")
            else:
                options.append(f"'${{{{ item }}}}' != '{self.pick(['a', 'x', 'alpha'])}'")
        if "loop" in scope.nested:
            options.append(f"${{{{ loop }}}} {self.pick(['>', '=='])} {r.randrange(0, 2)}")
        if "branch" in scope.nested:
            options.append(f"${{{{ branch | rstr }}}} == 'b1'")
        for key, values in scope.matrix.items():
            v = self.pick(values)
            if isinstance(v, str):
                options.append(f"'${{{{ matrix.{key} }}}}' == '{v}'")
            else:
                options.append(f"${{{{ matrix.{key} }}}} == {v}")
        options.append(self.pick(["True", "1 == 1", "1 > 2"]))
        cond = self.pick(options)
        if self.chance(0.15) and len(options) > 1:
            cond = f"{cond} {self.pick(['and', 'or'])} {self.pick(options)}"
        if self.chance(0.03):
            return self.pick([True, False])  # a YAML bool: the engines differ (documented)
        return cond

    # ----------------------------------------------------------------- stages
    def stage(self, scope, depth, kinds=None):
        kinds = kinds or ["empty", "bash", "py", "raise", "parallel", "foreach", "until",
                          "case", "trigger"]
        weights = {"empty": 3, "bash": 5, "py": 5, "raise": 1, "parallel": 1.2, "foreach": 1.5,
                   "until": 0.8, "case": 1.2, "trigger": 0.8}
        if depth >= 2:
            kinds = [k for k in kinds if k in ("empty", "bash", "py", "raise")]
        kind = self.r.choices(kinds, [weights[k] for k in kinds])[0]
        sid = self.fresh("s")
        stage = {"name": f"stage {sid}"}
        with_id = self.chance(0.9)
        if with_id:
            stage["id"] = sid
        if self.chance(0.2):
            stage["if"] = self.condition(scope)
        outputs = getattr(self, f"stage_{kind}")(stage, scope, depth)
        if with_id:
            scope.stages.append((sid, kind, outputs))
        return stage

    def stage_empty(self, stage, scope, depth):
        stage["echo"] = self.text_template(scope)
        if self.chance(0.1):
            stage["echo"] = f"first line\n  {stage['echo']}\n"
        if self.chance(0.1):
            stage["sleep"] = self.pick([0, 0.05])
        return {}

    def stage_bash(self, stage, scope, depth):
        lines = []
        env = {}
        for _ in range(self.r.randint(0, 2)):
            key = f"V{len(env) + 1}"
            env[key] = self.text_template(scope)
            lines.append(f'echo "{key}=${key}"')
        if self.chance(0.5):
            lines.append(f'echo "{self.text_template(scope)}"')
        if self.chance(0.3):
            lines.append("echo to-stderr >&2")
        if not lines:
            lines.append("true")
        code = self.r.choices([0, 1, 3], [8, 2, 1])[0]
        if code:
            lines.append(f"exit {code}")
        stage["bash"] = "\n".join(lines)
        if env:
            stage["env"] = env
        if code and self.chance(0.3):
            stage["retry"] = 1
            if self.chance(0.5):
                lines.insert(0, 'echo "attempt ${{ retry }}"')
                stage["bash"] = "\n".join(lines)
        return {"return_code": "int", "stdout": "str", "stderr": "str"}

    def py_literal(self):
        return self.pick(["1", "2.5", "True", "None", "'txt'", "[1, 'a', 2.0]", "{'k': 1, 'n': None}",
                          "10 ** 20", "-7", "1.0", "(1, 2)", "''", "-(10 ** 19)", "3 // 2", "7 / 2"])

    def stage_py(self, stage, scope, depth):
        outputs = {}
        lines = []
        if self.chance(0.5):
            stage["vars"] = {}
            for _ in range(self.r.randint(1, 2)):
                name = self.fresh("v")
                stage["vars"][name] = self.text_template(scope)
                out = self.fresh("o")
                lines.append(f"{out} = {name}")
                outputs[out] = "mixed"
        for _ in range(self.r.randint(1, 3)):
            out = self.fresh("o")
            form = self.r.randrange(4)
            if form == 0:
                ints = self.param_of(scope, "int")
                expr = f"${{{{ params.{ints} }}}} * 2" if ints else self.py_literal()
            elif form == 1:
                expr = self.py_literal()
            elif form == 2 and "item" in scope.nested:
                expr = "'${{ item }}'"
            else:
                expr = f"'{self.text_template(scope)}'".replace("\n", " ")
            lines.append(f"{out} = {expr}")
            outputs[out] = "mixed"
        if self.chance(0.3):
            lines.append(f"print({self.pick(list(outputs))})")
        if self.chance(0.08):
            lines.append("raise ValueError('from py')")
        if "item" in scope.nested and scope.until and self.chance(0.7):
            lines.append("item = ${{ item }} + 1")
            outputs["item"] = "int"
        stage["run"] = "\n".join(lines)
        if self.chance(0.05):
            stage["retry"] = 1
        return outputs

    def stage_raise(self, stage, scope, depth):
        stage["raise"] = f"boom {self.text_template(scope)}"
        return {}

    def nested_list(self, scope, depth, n=None, kinds=None):
        return [self.stage(scope, depth + 1, kinds) for _ in range(n or self.r.randint(1, 2))]

    def stage_parallel(self, stage, scope, depth):
        branches = {}
        for b in range(self.r.randint(1, 3)):
            branches[f"b{b + 1}"] = self.nested_list(scope.child(branch="str"), depth)
        stage["parallel"] = branches
        if self.chance(0.5):
            stage["max-workers"] = self.r.randint(1, 3)
        return {}

    def stage_foreach(self, stage, scope, depth):
        use_index = self.chance(0.3)
        form = self.r.randrange(3)
        arrays = self.param_of(scope, "array")
        item_type = "mixed"
        if form == 0 and arrays:
            items = f"${{{{ params.{arrays} }}}}"
        elif form == 1:
            values = self.pick([[1, 2, 3], ["a", "b"], [2, 1], ["x"], [1, 1, 2] if use_index else [4]])
            items = '["' + '", "'.join(str(v) for v in values) + '"]' if self.chance(0.3) else values
            item_type = "int" if all(isinstance(v, int) for v in values) and not isinstance(items, str) else "str"
        else:
            values = self.pick([[1, 2], ["a", "b", "c"], [0]])
            items = values
            item_type = "int" if isinstance(values[0], int) else "str"
        stage["foreach"] = items
        stage["stages"] = self.nested_list(scope.child(item=item_type, loop="int"), depth)
        if self.chance(0.5):
            stage["concurrent"] = self.r.randint(1, 3)
        if use_index:
            stage["use_index_as_key"] = True
        return {}

    def stage_until(self, stage, scope, depth):
        start = self.r.randint(0, 1)
        stage["item"] = start
        stop = start + self.r.randint(0, 2)
        stage["until"] = self.pick([f"${{{{ item }}}} >= {stop}", f"${{{{ loop }}}} >= {self.r.randint(1, 2)}"])
        stage["max-loop"] = self.pick([2, 3, 5])
        # No Parallel directly inside: upstream turns the stage into an Empty one, wfc
        # refuses it (WF110, a documented difference, not a run-time one).
        stage["stages"] = self.nested_list(scope.child(item="int", loop="int", until=True), depth,
                                           kinds=["empty", "bash", "py", "raise", "foreach", "case",
                                                  "trigger"])
        return {}

    def stage_case(self, stage, scope, depth):
        choices = self.param_of(scope, "choice", "str", "int")
        if choices:
            stage["case"] = f"${{{{ params.{choices} }}}}"
            t, v = scope.params[choices]
            candidates = [v, "a", "b", "alpha"] if t != "int" else [v, 1, 2, str(v)]
        else:
            stage["case"] = self.pick(["a", "b"])
            candidates = ["a", "b", "c"]
        match = []
        for c in self.r.sample(candidates, self.r.randint(1, min(3, len(candidates)))):
            if any(m.get("case") == c for m in match):
                continue
            match.append({"case": c, "stages": self.nested_list(scope.child(), depth, 1)})
        tail = self.r.randrange(4)
        if tail == 0:
            match.append({"case": "_", "stages": self.nested_list(scope.child(), depth, 1)})
        elif tail == 1:
            match.append({"else": self.nested_list(scope.child(), depth, 1)})
        elif tail == 2 and self.chance(0.5):
            stage["skip-not-match"] = True
        stage["match"] = match
        return {}

    def stage_trigger(self, stage, scope, depth):
        name = self.fresh("fz-child-")
        decl, values = {}, {}
        passed = {}
        for _ in range(self.r.randint(0, 2)):
            pname = self.fresh("cp")
            kind = self.pick(["str", "int", "array"])
            decl[pname] = {"type": kind}
            passed[pname] = self.text_template(scope) if kind == "str" else (
                f"${{{{ params.{self.param_of(scope, kind)} }}}}" if self.param_of(scope, kind)
                else (3 if kind == "int" else [1, 2]))
            values[pname] = (kind, None)
        child_scope = Scope(values)
        jobs = {}
        for j in range(self.r.randint(1, 2)):
            child_scope.stages = []
            jobs[f"cj{j + 1}"] = {"stages": [self.stage(child_scope, 2) for _ in range(self.r.randint(1, 2))]}
        self.children[name] = {"type": "Workflow", "params": decl, "jobs": jobs}
        stage["trigger"] = name
        stage["params"] = passed
        return {"params": "map", "jobs": "map"}

    # ------------------------------------------------------------------- jobs
    def matrix(self, job):
        axes = {}
        for key in self.r.sample(["os", "n", "py"], self.r.randint(1, 2)):
            axes[key] = self.pick([["linux", "mac"], [1, 2], ["3.10", "3.11", "3.12"], [0], ["a"]])
        strategy = {"matrix": axes}
        if self.chance(0.3):
            key = self.pick(list(axes))
            strategy["exclude"] = [{key: self.pick(axes[key])}]
        if self.chance(0.3):
            key = self.pick(list(axes))
            strategy["include"] = [{key: self.pick(axes[key] + (["win"] if isinstance(axes[key][0], str) else [9]))}]
        if self.chance(0.4):
            strategy["fail-fast"] = self.pick([True, False])
        if self.chance(0.5):
            strategy["max-parallel"] = self.r.randint(1, 3)
        job["strategy"] = strategy
        return axes

    def workflow(self):
        decl, values = self.params()
        typed = {n: (d["type"], values[n]) for n, d in decl.items()}
        jobs = {}
        summaries = []  # (job id, stages or None for matrix jobs)
        for j in range(self.r.randint(2, 6)):
            jid = f"j{j + 1}"
            job = {}
            needs = []
            if summaries and self.chance(0.7):
                needs = self.r.sample([s[0] for s in summaries], self.r.randint(1, min(2, len(summaries))))
                job["needs"] = needs
                if self.chance(0.5):
                    job["trigger-rule"] = self.pick(RULES)
            matrix = None
            if self.chance(0.25):
                matrix = self.matrix(job)
            scope = Scope(typed, [s for s in summaries if s[0] in needs])
            if self.chance(0.15):
                job["if"] = self.condition(scope)  # before the matrix exists
            scope.matrix = matrix or {}
            job["stages"] = [self.stage(scope, 0) for _ in range(self.r.randint(1, 4))]
            jobs[jid] = job
            summaries.append((jid, None if matrix else {sid: outs for sid, _, outs in scope.stages}))
        main = {"type": "Workflow", "params": decl, "jobs": jobs}
        return main, values


def generate(seed, index):
    gen = Gen(random.Random(f"{seed}/{index}"))
    main, values = gen.workflow()
    name = "fz-main"
    docs = {name: main}
    docs.update(gen.children)
    return {"workflow": name, "docs": docs, "params": values}
