"""Validate workflow files with ddeutil-workflow 0.0.86's own models.

    python bench/upstream_validate.py [--kinds] FILE_OR_DIR...

Each file is parsed with ddeutil's YAML loader and every `type: Workflow` entry is
validated with `Workflow.model_validate`, as the engine does when it loads a
workflow. Prints the number of workflows, the failures and the elapsed seconds.
With --kinds, prints the stage class each stage became (upstream silently turns
invalid stages into EmptyStage).
"""
import sys
import time
from pathlib import Path

from ddeutil.io import YamlFlResolve
from ddeutil.workflow import Workflow


def files(args):
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.suffix in (".yml", ".yaml"))
        else:
            yield p


def stage_kinds(stages, depth=0):
    for s in stages:
        print("  " * depth + f"- {s.name!r}: {type(s).__name__}")
        for attr in ("stages",):
            if hasattr(s, attr) and isinstance(getattr(s, attr), list):
                stage_kinds(getattr(s, attr), depth + 1)
        if hasattr(s, "parallel"):
            for branch, ss in s.parallel.items():
                stage_kinds(ss, depth + 1)
        if hasattr(s, "match"):
            for m in s.match:
                stage_kinds(getattr(m, "stages", None) or getattr(m, "other", []), depth + 1)


def main(argv):
    show = "--kinds" in argv
    args = [a for a in argv if a != "--kinds"]
    start = time.perf_counter()
    count = failed = 0
    for path in files(args):
        data = YamlFlResolve(path).read() or {}
        if "name" in data:
            data = {data["name"]: data}
        for name, value in data.items():
            if not isinstance(value, dict) or value.get("type") != "Workflow":
                continue
            count += 1
            try:
                wf = Workflow.model_validate(value | {"name": name})
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                print(f"{path}: {name}: {type(e).__name__}: {str(e).splitlines()[0]}")
                continue
            if show:
                print(f"{path}: {name}")
                for job_id, job in wf.jobs.items():
                    print(f" job {job_id}")
                    stage_kinds(job.stages, 1)
    elapsed = time.perf_counter() - start
    print(f"workflows={count} failed={failed} seconds={elapsed:.3f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
