"""The runtime's bars, measured in one run on this machine:

* foreach over 5,000 items with one `echo` stage each: `wfr` against the oracle
  engine (ddeutil-workflow 0.0.86, `../shared/tools/oracle`);
* a chain of 20 jobs, each needing the previous one: the same comparison;
* 200 Bash stages `echo hi`: `wfr` against the same 200 scripts run by bash from a
  shell loop;
* foreach over 100,000 items: the peak memory (max RSS) of `wfr`;
* 1,000 trivial Py stages: `wfr` against the oracle;
* 4 Py stages that each sleep 0.5 s, as branches of one parallel stage: the wall
  time of `wfr` (the GIL is released while Python sleeps);
* 20 Docker stages running `true` in the test image against 20 `docker run --rm
  IMAGE true` from a shell loop (`scripts/setup-tests` makes the image; skipped
  without it).

    python3 bench/run_speed.py [--no-oracle] [--runs N] [--only WORKFLOW [--rounds K]]

Times are wall times of whole commands (process start included), the median of
N runs (default 15) for `wfr`, one run for the oracle (it takes seconds). `wfr`
runs the compiled plan (`wfc compile` first), as in production, with its logs on
(written to /dev/null and to the run record) and, separately, with them off
(`WFR_LOG=off`): the oracle tool runs upstream with its trace handlers off, so
the second figure compares the same work. `--no-oracle` skips the oracle.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT.parent / "shared" / "tools" / "oracle"


def write_workloads(conf: Path):
    conf.mkdir(parents=True)
    items = ", ".join(str(i) for i in range(5000))
    (conf / "foreach.yml").write_text(
        "bench-foreach:\n  type: Workflow\n  jobs:\n    each:\n      stages:\n"
        "        - name: Each\n          id: each\n"
        f"          foreach: [{items}]\n"
        "          stages:\n            - name: Echo\n              id: echo\n"
        "              echo: item ${{ item }}\n"
    )
    jobs = []
    for i in range(20):
        needs = f"\n      needs: [j{i - 1}]" if i else ""
        jobs.append(f"    j{i}:{needs}\n      stages:\n        - name: S{i}\n          echo: job {i}\n")
    (conf / "chain.yml").write_text("bench-chain:\n  type: Workflow\n  jobs:\n" + "".join(jobs))
    stages = "".join(f"        - {{name: B{i}, id: b{i}, bash: echo hi}}\n" for i in range(200))
    (conf / "bash.yml").write_text(
        "bench-bash:\n  type: Workflow\n  jobs:\n    b:\n      stages:\n" + stages
    )
    big = ", ".join(str(i) for i in range(100_000))
    py = "".join(f"        - {{name: P{i}, id: p{i}, run: 'x = {i}'}}\n" for i in range(1000))
    (conf / "py.yml").write_text("bench-py:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n" + py)
    branches = "".join(
        f"            b{i}:\n              - name: Sleep {i}\n"
        f"                run: 'import time; time.sleep(0.5)'\n"
        for i in range(4)
    )
    (conf / "sleep.yml").write_text(
        "bench-py-sleep:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n"
        "        - name: All\n          max-workers: 4\n          parallel:\n" + branches
    )
    boxes = "".join(
        f"        - {{name: D{i}, image: wfc-test/busybox, tag: '1', command: [\"true\"]}}\n" for i in range(20)
    )
    (conf / "docker.yml").write_text("bench-docker:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n" + boxes)
    (conf / "foreach100k.yml").write_text(
        "bench-foreach-100k:\n  type: Workflow\n  jobs:\n    each:\n      stages:\n"
        "        - name: Each\n          id: each\n"
        f"          foreach: [{big}]\n"
        "          stages:\n            - name: Echo\n              id: echo\n"
        "              echo: item ${{ item }}\n"
    )


def timed(cmd, cwd, env=None, stdout=subprocess.DEVNULL):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} exited with {proc.returncode}")
    return elapsed


def median_time(cmd, cwd, runs, env=None):
    timed(cmd, cwd, env)  # warm the page cache
    return statistics.median(timed(cmd, cwd, env) for _ in range(runs))


def peak_rss_mb(cmd, cwd, env=None):
    """Max RSS of one child process, via a fresh `time -f %M` (KiB)."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], cwd=cwd, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr[-1000:]}")
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def ms(seconds):
    return f"{seconds * 1e3:8.1f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--only", metavar="WORKFLOW",
        help="measure only this one of the oracle workloads (bench-foreach, bench-chain, bench-py)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="with --only: measure it this many times, each an oracle run and wfr's median around it",
    )
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "wfc", "--bin", "wfr", "--bin", "wfr-python"], cwd=ROOT, check=True)
    wfc = str(ROOT / "target" / "release" / "wfc")
    wfr = str(ROOT / "target" / "release" / "wfr")
    quiet = {**os.environ, "WFR_LOG": "off"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_workloads(tmp / "conf")
        subprocess.run([wfc, "compile", "conf", "-o", "plans"], cwd=tmp, check=True, capture_output=True)
        plan = lambda name: f"plans/{name}.wfp"  # noqa: E731

        if not args.no_oracle:
            # The oracle tool installs the reference engine on its first use: not
            # inside a timed run.
            (tmp / "conf" / "warm.yml").write_text(
                "bench-warm:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Echo\n          echo: hi\n"
            )
            subprocess.run([str(ORACLE), "conf", "bench-warm"], cwd=tmp, check=True, capture_output=True)
        print(f"{'workload':<34}{'wfr':>11}{'wfr, logs off':>16}{'oracle':>12}{'ratio':>10}{'ratio, logs off':>17}")
        names = [args.only] if args.only else ["bench-foreach", "bench-chain", "bench-py"]
        for name in names * (args.rounds if args.only else 1):
            cmd = [wfr, "run", plan(name), "--runs", "runs"]
            ours = median_time(cmd, tmp, args.runs)
            ours_quiet = median_time(cmd, tmp, args.runs, quiet)
            if args.no_oracle:
                oracle, ratio, ratio_quiet = "-", "-", "-"
            else:
                spent = timed([str(ORACLE), "conf", name], tmp)
                oracle = f"{spent:9.2f} s"
                ratio, ratio_quiet = f"{spent / ours:8.0f}x", f"{spent / ours_quiet:8.0f}x"
            print(f"{name:<34}{ms(ours):>11}{ms(ours_quiet):>16}{oracle:>12}{ratio:>10}{ratio_quiet:>17}", flush=True)
        if args.only:
            return

        # 200 Bash stages against the same 200 scripts run by bash from a loop.
        scripts = tmp / "scripts"
        scripts.mkdir()
        for i in range(200):
            (scripts / f"s{i}.sh").write_text("echo hi\n")
        loop = ["bash", "-c", "for f in scripts/*.sh; do bash \"$f\" >/dev/null; done"]
        direct = median_time(loop, tmp, max(3, args.runs // 3))
        cmd = [wfr, "run", plan("bench-bash"), "--runs", "runs"]
        ours = median_time(cmd, tmp, max(3, args.runs // 3))
        ours_quiet = median_time(cmd, tmp, max(3, args.runs // 3), quiet)
        print(f"\n200 Bash stages: wfr {ms(ours)}, logs off {ms(ours_quiet)}; "
              f"bash loop {ms(direct)}; ratio {ours / direct:.2f}x, logs off {ours_quiet / direct:.2f}x")

        cmd = [wfr, "run", plan("bench-py-sleep"), "--runs", "runs"]
        slept = median_time(cmd, tmp, max(3, args.runs // 3))
        print(f"4 parallel Py stages sleeping 0.5 s: {ms(slept)}")

        has_image = subprocess.run(
            ["docker", "image", "inspect", "wfc-test/busybox:1"], capture_output=True
        ).returncode == 0
        if has_image:
            loop = ["bash", "-c", "for i in $(seq 20); do docker run --rm wfc-test/busybox:1 true; done"]
            direct = median_time(loop, tmp, 3)
            cmd = [wfr, "run", plan("bench-docker"), "--runs", "runs"]
            ours = median_time(cmd, tmp, 3)
            print(f"20 Docker stages `true`: wfr {ms(ours)}; docker run --rm loop {ms(direct)}; ratio {ours / direct:.2f}x")
        else:
            print("20 Docker stages: skipped (run scripts/setup-tests for the test image)")

        cmd = [wfr, "run", plan("bench-foreach-100k"), "--runs", "runs"]
        peak = peak_rss_mb(cmd, tmp)
        peak_quiet = peak_rss_mb(cmd, tmp, quiet)
        spent = timed(cmd, tmp)
        print(f"foreach 100,000 items: peak RSS {peak:.0f} MB (logs off {peak_quiet:.0f} MB), {spent:.2f} s")
        shutil.rmtree(tmp / "runs", ignore_errors=True)


if __name__ == "__main__":
    main()
