"""Compare `wfr` builds on one workload, runs interleaved.

On a shared 2-core machine the time of the same binary drifts by tens of percent
from one minute to the next; running the builds one after the other, round after
round, exposes them to the same drift, so their medians compare; the paired
ratio (the median, over rounds, of a build's time over the first build's time in
the same round) is the steadiest figure.

    python3 bench/ab.py PLAN BUILD[@PLAN][:VAR=VALUE+VAR=VALUE...] ...

PLAN is a compiled plan (`wfc compile` first); each BUILD is a `wfr` binary,
optionally with a plan of its own (builds with different plan formats: each runs
the plan its own `wfc` compiled) and environment variables for its runs (for
example `target/release/wfr:MALLOC_ARENA_MAX=1`). `--runs N` rounds (default 40);
`--logs` keeps the logs on (they are off by default: `WFR_LOG=off`). Run records go
to a temporary folder.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("plan")
    parser.add_argument("builds", nargs="+")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--logs", action="store_true")
    args = parser.parse_args()
    builds = []
    for spec in args.builds:
        binary, _, extra = spec.partition(":")
        binary, _, plan = binary.partition("@")
        env = {**os.environ}
        if not args.logs:
            env["WFR_LOG"] = "off"
        if extra:
            env.update(pair.split("=", 1) for pair in extra.split("+"))
        builds.append((spec, binary, plan or args.plan, env))
    times = {spec: [] for spec, _, _, _ in builds}
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(args.runs):
            for spec, binary, plan, env in builds:
                start = time.perf_counter()
                done = subprocess.run(
                    [binary, "run", plan, "--runs", runs],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                times[spec].append(time.perf_counter() - start)
                if done.returncode != 0:
                    raise SystemExit(f"{spec} exited with {done.returncode}")
    first = builds[0][0]
    for spec, _, _, _ in builds:
        xs = sorted(times[spec])
        # Each round's time over the first build's in the same round: the drift
        # between rounds cancels out.
        paired = statistics.median(t / f for t, f in zip(times[spec], times[first]))
        print(
            f"{spec:<50} median {statistics.median(xs) * 1e3:7.2f} ms"
            f"  p25 {xs[len(xs) // 4] * 1e3:7.2f}  min {xs[0] * 1e3:7.2f}"
            f"  paired ratio {paired:5.3f}"
        )


if __name__ == "__main__":
    main()
