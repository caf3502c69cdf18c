"""`wfr server` with a long history: how long its pages and API answers take with 50
runs and with 10,000 (the UI's bar: 10,000 runs without a slow page), and how long a
run takes from `POST …/runs` to its `end` event against `wfr run` from a shell.

    python3 bench/server.py [--wfr target/release/wfr] [--runs 10000] [--rounds 20]

The history is filled straight into `.wfc/wfc.db` (its schema is the store's
first migration; the server indexes nothing else), so only the reads are timed.
Printed: the median time of each request over the rounds, for both histories, and
their ratio.
"""
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request

WORKFLOW = """hello:
  type: Workflow
  params:
    who: {type: str, default: world}
  jobs:
    greet:
      stages:
        - name: Greet
          echo: "hello ${{ params.who }}"
    count:
      needs: [greet]
      stages:
        - name: Count
          bash: echo counted
"""


def start(wfr, root):
    err = open(os.path.join(root, "server.err"), "w+")
    proc = subprocess.Popen([wfr, "server", "conf", "--listen", "127.0.0.1:0"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(600):
        err.seek(0)
        found = re.search(r"listening on (http://\S+)", err.read())
        if found:
            return proc, found.group(1)
        time.sleep(0.05)
    raise SystemExit("the server did not start")


def fill(root, count):
    runs = os.path.join(root, ".wfc", "runs")
    db = sqlite3.connect(os.path.join(root, ".wfc", "wfc.db"))
    now = int(time.time() * 1e6)
    db.executemany(
        "INSERT INTO runs (run_id, workflow, state, started, ended, record) VALUES (?,?,?,?,?,?)",
        [(f"r{i:06d}", "hello", "SUCCESS" if i % 3 else "FAILED", now - (count - i) * 1_000_000,
          now - (count - i) * 1_000_000 + 20_000, os.path.join(runs, f"r{i:06d}"))
         for i in range(count)])
    db.commit()
    db.close()


def timed(url, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        with urllib.request.urlopen(url) as answer:
            answer.read()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def follow(base):
    """POST a run, then read its events to `end`: the seconds it took."""
    start = time.perf_counter()
    request = urllib.request.Request(f"{base}/api/v1/workflows/hello/runs", data=b"{}",
                                     method="POST")
    with urllib.request.urlopen(request) as answer:
        events = json.loads(answer.read())["events"]
    with urllib.request.urlopen(base + events) as stream:
        for line in stream:
            if line.startswith(b"event: end"):
                break
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wfr", default="target/release/wfr")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    wfr = os.path.abspath(args.wfr)
    paths = ["/", "/runs", "/runs?offset={last}", "/api/v1/runs?limit=50",
             "/api/v1/runs?limit=500", "/api/v1/workflows"]
    results = {}
    for count in (50, args.runs):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "conf"))
            with open(os.path.join(root, "conf", "hello.yml"), "w") as f:
                f.write(WORKFLOW)
            # The store's schema, made by the server's first start.
            proc, base = start(wfr, root)
            proc.terminate()
            proc.wait()
            fill(root, count)
            proc, base = start(wfr, root)
            try:
                for path in paths:
                    url = base + path.format(last=max(count - 50, 0))
                    results.setdefault(path, {})[count] = timed(url, args.rounds)
                if count == 50:
                    follow(base)
                    results["POST run → SSE end"] = {count: statistics.median(
                        follow(base) for _ in range(args.rounds))}
            finally:
                proc.terminate()
                proc.wait()
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "conf"))
        with open(os.path.join(root, "conf", "hello.yml"), "w") as f:
            f.write(WORKFLOW)
        shell = []
        for _ in range(args.rounds):
            start_ = time.perf_counter()
            subprocess.run([wfr, "run", "hello"], cwd=root, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shell.append(time.perf_counter() - start_)
    print(f"{'request':28} {'50 runs':>10} {args.runs:>8} runs {'ratio':>7}")
    for path, by in results.items():
        small = by.get(50)
        big = by.get(args.runs)
        ratio = f"{big / small:7.2f}" if big and small else ""
        big_text = f"{big * 1e3:9.2f} ms" if big else ""
        print(f"{path:28} {small * 1e3:7.2f} ms {big_text:>13} {ratio}")
    print(f"{'wfr run from a shell':28} {statistics.median(shell) * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
