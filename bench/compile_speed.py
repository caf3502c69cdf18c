"""Time `wfc compile` over a generated folder: the first run writes every plan, the
next ones find every plan up to date (all cache hits).

    python3 bench/compile_speed.py [FILES=1000] [STAGES=20]

Prints the median wall time of the warm runs and of cold runs (no check cache, no
plans), as the `wfc` command, process start included.
"""
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd, cwd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, proc.stderr.strip()


def main():
    files = sys.argv[1] if len(sys.argv) > 1 else "1000"
    stages = sys.argv[2] if len(sys.argv) > 2 else "20"
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "wfc"], cwd=ROOT, check=True)
    wfc = str(ROOT / "target" / "release" / "wfc")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, ROOT / "bench" / "gen_workflows.py", Path(tmp) / "conf", files, stages], check=True)
        cold = []
        for i in range(3):
            elapsed, said = timed([wfc, "compile", "conf", "--no-cache", "-o", f"cold{i}"], tmp)
            cold.append(elapsed)
        print(f"cold (no cache, no plans): {statistics.median(cold) * 1e3:.0f} ms  [{said}]")
        timed([wfc, "compile", "conf"], tmp)
        warm = []
        for _ in range(9):
            elapsed, said = timed([wfc, "compile", "conf"], tmp)
            warm.append(elapsed)
        print(f"warm (all up to date):     {statistics.median(warm) * 1e3:.0f} ms  [{said}]")


if __name__ == "__main__":
    main()
