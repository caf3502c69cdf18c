"""Compare `wfc check` with ddeutil-workflow's own validation of the same files.

    python3 bench/check_speed.py [FILES=1000] [STAGES=20]

For two generated folders (the default realistic stages, and --terse one-line
stages) it times, as medians of several runs:

* `wfc check --no-cache` (cold: every file read, parsed and checked),
* `wfc check` with a warm cache (unchanged files are not parsed again),
* ddeutil-workflow 0.0.86: parse each file with its own YAML loader and
  `Workflow.model_validate` each workflow (bench/upstream_validate.py), both the
  work alone and the whole `python` process.

The reference engine is installed in the venv that ../shared/tools/oracle uses
($ORACLE_VENV, default ~/.cache/wfc-oracle); it is created when missing.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def venv_python():
    venv = Path(os.environ.get("ORACLE_VENV", Path.home() / ".cache" / "wfc-oracle"))
    python = venv / "bin" / "python"
    ok = python.exists() and subprocess.run([python, "-c", "import ddeutil.workflow"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([venv / "bin" / "pip", "install", "-q", "ddeutil-workflow==0.0.86"], check=True)
    return python


def wall(cmd, cwd, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd} failed: {proc.stderr.decode()}")
    return statistics.median(times)


def upstream(python, corpus, runs):
    work, process = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([python, ROOT / "bench" / "upstream_validate.py", corpus], capture_output=True, text=True, check=True).stdout
        process.append(time.perf_counter() - start)
        work.append(float(re.search(r"seconds=([0-9.]+)", out).group(1)))
        if "failed=0" not in out:
            raise SystemExit(f"ddeutil-workflow rejected the corpus:\n{out}")
    return statistics.median(work), statistics.median(process)


def main():
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    stages = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "wfc"], cwd=ROOT, check=True)
    wfc = ROOT / "target" / "release" / "wfc"
    python = venv_python()
    print(f"{files} files of {stages} stages, {os.cpu_count()} cores; medians\n")
    print(f"{'corpus':<10} {'MB':>5} {'wfc cold':>9} {'wfc warm':>9} {'upstream':>9} {'(process)':>9} {'cold x':>7} {'warm x':>7} {'cold files/s':>12}")
    for style in ("realistic", "terse"):
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "conf"
            args = [sys.executable, ROOT / "bench" / "gen_workflows.py", corpus, str(files), str(stages)]
            if style == "terse":
                args.append("--terse")
            subprocess.run(args, check=True)
            size = sum(p.stat().st_size for p in corpus.iterdir()) / 1e6
            check = subprocess.run([wfc, "check", "--no-cache", corpus], capture_output=True)
            if check.returncode != 0:
                raise SystemExit(f"wfc reports findings in the generated corpus:\n{check.stdout.decode()[:2000]}")
            cold = wall([wfc, "check", "--no-cache", corpus], tmp, 7)
            subprocess.run([wfc, "check", corpus], cwd=tmp, check=True)
            warm = wall([wfc, "check", corpus], tmp, 7)
            work, process = upstream(python, corpus, 3)
            print(
                f"{style:<10} {size:>5.1f} {cold * 1e3:>7.0f}ms {warm * 1e3:>7.0f}ms {work:>8.2f}s {process:>8.2f}s"
                f" {work / cold:>6.0f}x {work / warm:>6.0f}x {files / cold:>12.0f}"
            )
            shutil.rmtree(Path(tmp) / ".wfc", ignore_errors=True)
    print("\ncold x / warm x: ddeutil-workflow's validation work (without Python start-up) divided by the wfc command.")


if __name__ == "__main__":
    main()
