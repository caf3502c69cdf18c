"""Two builds of wfr on bench/run_speed.py's workloads, paired (bench/ab.py), and
the max RSS of foreach-100k: the before/after figures a change quotes.

    python3 bench/compare.py OLD_DIR NEW_DIR [ROUNDS]

Each DIR holds a release build's `wfc`, `wfr` and `wfr-python` (for example a
worktree of the old commit built with its own CARGO_TARGET_DIR). Each build runs
the plans its own `wfc` compiled, so builds of different plan formats compare.
ROUNDS defaults to 30; logs are off (`WFR_LOG=off`) except for the foreach and
Bash runs marked `logs=on`.
"""
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("run_speed", HERE / "run_speed.py")
run_speed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_speed)

WORKLOADS = [
    ("bench-chain", False),
    ("bench-foreach", False),
    ("bench-foreach", True),
    ("bench-bash", False),
    ("bench-bash", True),
    ("bench-py", False),
    ("bench-py-sleep", False),
]


def main():
    old, new = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    rounds = sys.argv[3] if len(sys.argv) > 3 else "30"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_speed.write_workloads(tmp / "conf")
        builds = (("old", old), ("new", new))
        for name, build in builds:
            subprocess.run([str(build / "wfc"), "compile", "conf", "-o", f"plans-{name}"],
                           cwd=tmp, check=True, capture_output=True)
        for workflow, logs in WORKLOADS:
            print(f"== {workflow} logs={'on' if logs else 'off'}", flush=True)
            cmd = [sys.executable, str(HERE / "ab.py"), "-",
                   *(f"{build}/wfr@{tmp}/plans-{name}/{workflow}.wfp" for name, build in builds),
                   "--runs", rounds]
            if logs:
                cmd.append("--logs")
            subprocess.run(cmd, cwd=tmp, check=True)
        quiet = {**os.environ, "WFR_LOG": "off"}
        for name, build in builds:
            rss = [run_speed.peak_rss_mb([str(build / "wfr"), "run", f"plans-{name}/bench-foreach-100k.wfp",
                                          "--runs", str(tmp / "runs")], tmp, quiet) for _ in range(3)]
            print(f"foreach-100k max RSS {name}: {statistics.median(rss):.1f} MB", flush=True)


if __name__ == "__main__":
    main()
