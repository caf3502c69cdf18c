"""The worker fleet's bars, on loopback, with a real nats-server and real workers.

    python3 bench/fleet.py [--wfr target/release/wfr] [--jobs 200] [--many 1000]

* Dispatch overhead per job: a workflow of N independent jobs (one Empty stage
  each), run once here and once with `--workers` on 4 workers, both with
  `--max-job-parallel 1` (one job at a time: the whole cost of each job's trip)
  and with 16 at once (the fleet's wall time per job). Printed: each run's wall
  time, and the fleet's extra time per job.
* Throughput: M trivial jobs across 4 workers (4 slots each), 32 at once.
* Failover: a job on a worker with a 5 s ack wait, the worker SIGKILLed a moment
  after it started: the time from the kill to the run's end on another worker.

Anchors (per task, from their own documentation and reports): Hatchet about
20 ms, Temporal about 65 ms, Airflow 1 to 3 s.
"""
import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nats_server(root):
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", os.path.join(root, "js"),
         "--auth", token],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"nats://127.0.0.1:{port}", token


def workspace(root, jobs, name):
    conf = os.path.join(root, "conf")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, f"{name}.yml"), "w") as f:
        f.write(f"{name}:\n  type: Workflow\n  jobs:\n")
        for i in range(jobs):
            f.write(f"    j{i:04d}:\n      stages:\n        - name: s\n          echo: job {i}\n")


def run(wfr, root, name, env, *extra):
    start = time.perf_counter()
    out = subprocess.run([wfr, "run", name, *extra], cwd=root, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{name} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return took


def workers(wfr, root, url, env, n, slots, *extra):
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen(
            [wfr, "worker", "--nats", url, "--name", f"w{i}", "--slots", str(slots), *extra],
            cwd=root, env=env, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(root, f"worker-{i}.log"), "a")))
    time.sleep(1.0)
    return procs


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    import functools
    global print
    print = functools.partial(print, flush=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--wfr", default="target/release/wfr")
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--many", type=int, default=1000)
    args = ap.parse_args()
    wfr = os.path.abspath(args.wfr)
    root = tempfile.mkdtemp(prefix="wfc-bench-fleet-")
    server, url, token = nats_server(root)
    env = dict(os.environ, WFR_NATS_TOKEN=token, WFR_LOG="warn", NO_COLOR="1")
    env.pop("WORKFLOW_CORE_CONF_PATH", None)
    fleet = []
    try:
        workspace(root, args.jobs, "fanout")
        workspace(root, args.many, "many")
        fleet = workers(wfr, root, url, env, 4, 4)
        # Warm: plans compiled, shipped, streams made.
        run(wfr, root, "fanout", env, "--workers", url, "--max-job-parallel", "16")
        print(f"dispatch: {args.jobs} independent jobs, one Empty stage each, 4 workers")
        for parallel in ("1", "16"):
            local = min(run(wfr, root, "fanout", env, "--max-job-parallel", parallel)
                        for _ in range(3))
            remote = min(run(wfr, root, "fanout", env, "--workers", url,
                             "--max-job-parallel", parallel) for _ in range(3))
            extra = (remote - local) / args.jobs * 1000
            print(f"  {parallel:>2} at once: local {local * 1000:8.1f} ms, fleet {remote * 1000:8.1f} ms"
                  f" = {remote / args.jobs * 1000:6.2f} ms per job; fleet's extra per job {extra:6.2f} ms")
        took = min(run(wfr, root, "many", env, "--workers", url, "--max-job-parallel", "32")
                   for _ in range(2))
        print(f"throughput: {args.many} trivial jobs on 4 workers (4 slots each), 32 at once:"
              f" {took:.2f} s = {args.many / took:.0f} jobs/s")
        stop(fleet)
        fleet = []
        server.kill()

        # Failover, on a fresh server: the first worker sets the consumer's ack wait.
        server, url, token = nats_server(os.path.join(root, "second"))
        env["WFR_NATS_TOKEN"] = token
        conf = os.path.join(root, "conf")
        with open(os.path.join(conf, "slow.yml"), "w") as f:
            f.write("slow:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n"
                    "        - name: s\n          bash: |\n"
                    "            touch started.$WFR_WORKER\n            sleep 1\n")
        victim = workers(wfr, root, url, env, 1, 1, "--ack-wait", "5")
        proc = subprocess.Popen([wfr, "run", "slow", "--workers", url], cwd=root, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while not os.path.exists(os.path.join(root, "started.w0")):
            time.sleep(0.01)
        victim[0].send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        rescuer = subprocess.Popen([wfr, "worker", "--nats", url, "--name", "rescuer"],
                                   cwd=root, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        fleet = [rescuer]
        proc.wait(120)
        took = time.perf_counter() - killed
        print(f"failover: the consumer's ack wait 5 s, a 1 s job: from the worker's SIGKILL to"
              f" the run's end on another worker {took:.2f} s (status {proc.returncode})")
    finally:
        stop(fleet)
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
