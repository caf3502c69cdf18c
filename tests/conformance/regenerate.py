"""Regenerate the conformance goldens with the reference engine.

    python3 tests/conformance/regenerate.py [CASE...]

Runs every case of cases.json (or the named ones) with ../shared/tools/oracle
(ddeutil-workflow 0.0.86) on tests/conformance/conf and writes golden/<case>.json:
the final context without `info`. Commit the goldens; the conformance test compares
`wfr run --output json` with them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORACLE = Path(os.environ.get("WFC_ORACLE", HERE.parents[2] / "shared" / "tools" / "oracle"))


def main():
    wanted = set(sys.argv[1:])
    cases = json.loads((HERE / "cases.json").read_text())
    for case in cases:
        if wanted and case["name"] not in wanted:
            continue
        args = [str(ORACLE), str(HERE / "conf"), case["workflow"]]
        args += [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in case["params"].items()]
        env = dict(os.environ)
        env["ORACLE_DEFAULT_ID"] = "true" if case.get("default_ids") else "false"
        # Call stages: the registry root of the case's task package (beside conf/).
        env["ORACLE_REGISTRY"] = case.get("registry", "ddeutil.workflow")
        done = subprocess.run(args, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{case['name']}: the oracle failed:\n{done.stderr[-3000:]}")
        # What Py stages print comes first on the oracle's stdout; the context is
        # the indented JSON document that starts at a line holding only `{`.
        lines = done.stdout.splitlines()
        start = lines.index("{") if "{" in lines else 0
        context = json.loads("\n".join(lines[start:]))
        out = HERE / "golden" / f"{case['name']}.json"
        out.write_text(json.dumps(context, indent=2, sort_keys=True) + "\n")
        print(f"{case['name']}: {context.get('status')}")


if __name__ == "__main__":
    main()
