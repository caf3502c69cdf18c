"""The scheduler's bars: how late ticks fire with 1,000 workflows scheduled every
minute, and what the scheduler costs when it is idle.

    python3 bench/schedule.py [--wfr target/release/wfr] [--workflows 1000] [--idle 60]

* Lateness: a workspace of N workflows (`* * * * *`, one Empty stage each) and
  `wfr schedule` started with its clock shifted (`--clock-offset`, the hidden test
  option) so that a real minute's tick comes 3 s after it starts. Every workflow
  fires at that tick; each fire is logged with how late it was (the time the
  scheduler started its `wfr release`, minus the tick). Printed: how many fired,
  the median, 95th percentile and largest lateness of the fires and of the runs'
  starts (when each run's `wfr` had put it in the history), and how long until
  every run had ended.
* Idle: the same workspace scheduled once a year (`0 0 1 1 *`), the scheduler left
  alone for `--idle` seconds: its CPU time over that time (as a share of one core)
  and its resident memory.
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time


def workspace(root, workflows, cron):
    conf = os.path.join(root, "conf")
    os.makedirs(conf, exist_ok=True)
    per_file = 100
    for start in range(0, workflows, per_file):
        with open(os.path.join(conf, f"w{start:05d}.yml"), "w") as f:
            for i in range(start, min(start + per_file, workflows)):
                f.write(
                    f"wf-{i:05d}:\n  type: Workflow\n  on:\n    schedule:\n"
                    f"      - cronjob: \"{cron}\"\n  jobs:\n    j:\n      stages:\n"
                    f"        - name: s\n          echo: tick {i}\n"
                )


def offset_before_tick(lead):
    now = time.time()
    return 60.0 - now % 60.0 - lead


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def lateness(wfr, workflows):
    with tempfile.TemporaryDirectory() as root:
        workspace(root, workflows, "* * * * *")
        # Compile first (the scheduler compiles through the plan cache too; this
        # keeps the compile out of the tick's way, as in a scheduler that runs).
        subprocess.run([wfr, "schedule", "--for", "0s"], cwd=root, check=True,
                       capture_output=True)
        env = {**os.environ, "WFR_LOG": "off"}
        offset = offset_before_tick(3.0)
        out = subprocess.run(
            [wfr, "schedule", "--clock-offset", str(offset), "--for", "6s",
             "--grace", "600s", "--log-format", "json"],
            cwd=root, env=env, capture_output=True, text=True,
        )
        late = []
        for line in out.stderr.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message", "").startswith("fired"):
                late.append(entry["late"])
        db = sqlite3.connect(os.path.join(root, ".wfc", "wfc.db"))
        states = dict(db.execute("SELECT state, count(*) FROM runs GROUP BY state").fetchall())
        # When each run's wfr had started and put it in the history (on the
        # real clock: shifted as the scheduler's is), minus its tick.
        started = sorted(
            (s - r) / 1e6 + offset for s, r in db.execute("SELECT started, release FROM runs")
        )
        last_end = db.execute("SELECT max(ended - release) FROM runs").fetchone()[0]
        late.sort()
        pct = lambda xs, q: round(xs[max(0, int(len(xs) * q) - 1)], 3) if xs else None
        return {
            "fired": len(late),
            "fire_late_s": {"p50": pct(late, 0.5), "p95": pct(late, 0.95), "max": pct(late, 1.0)},
            "run_started_late_s": {
                "p50": pct(started, 0.5), "p95": pct(started, 0.95), "max": pct(started, 1.0),
            },
            "runs": states,
            "all_runs_ended_after_tick_s": round(last_end / 1e6 + offset, 2) if last_end else None,
        }


def idle(wfr, workflows, seconds):
    with tempfile.TemporaryDirectory() as root:
        workspace(root, workflows, "0 0 1 1 *")
        subprocess.run([wfr, "schedule", "--for", "0s"], cwd=root, check=True,
                       capture_output=True)
        proc = subprocess.Popen(
            [wfr, "schedule", "--for", f"{seconds + 5}s"],
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(3)  # loaded
        cpu0 = proc_cpu_seconds(proc.pid)
        time.sleep(seconds)
        cpu1 = proc_cpu_seconds(proc.pid)
        rss = proc_rss_mb(proc.pid)
        proc.wait()
        return {
            "cpu_share_of_one_core": round((cpu1 - cpu0) / seconds, 5),
            "cpu_ms_per_minute": round((cpu1 - cpu0) / seconds * 60 * 1000, 1),
            "rss_mb": round(rss, 1),
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wfr", default="target/release/wfr")
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=60)
    args = parser.parse_args()
    wfr = os.path.abspath(args.wfr)
    print(json.dumps({"workflows": args.workflows,
                      "lateness": lateness(wfr, args.workflows),
                      "idle": idle(wfr, args.workflows, args.idle)}, indent=2))


if __name__ == "__main__":
    main()
