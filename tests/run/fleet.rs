//! Worker fleets on NATS JetStream, with real `nats-server` processes and real
//! `wfr worker` processes: a `self_hosted` job runs on a worker (and never
//! here), labels route it, `--workers` sends every job, a SIGKILLed worker's job
//! is delivered again to another, a worker stopped with SIGTERM returns what it
//! holds, a cancelled run stops its remote stages, an unreachable NATS fails
//! the job in bounded time, a 3-node cluster loses a node mid-run without
//! losing a job, and the token never lands in a plan, a record or a log.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::nats_support::{NatsCluster, NatsServer, free_port};
use crate::support::{Started, start_with, stderr, stdout, wait_for, wfr_with, write};

/// A `wfr worker` killed when the test ends, however it ends.
struct Worker(Option<Started>);

impl Worker {
    fn start(dir: &Path, url: &str, token: &str, name: &str, extra: &[&str]) -> Worker {
        let mut args = vec!["worker", "--nats", url, "--name", name];
        args.extend_from_slice(extra);
        let started = start_with(&args, dir, &[("WFR_NATS_TOKEN", token)]);
        let worker = Worker(Some(started));
        worker.wait_until_serving();
        worker
    }

    fn wait_until_serving(&self) {
        let started = Instant::now();
        loop {
            let err = self.stderr();
            if err.contains("serving") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the worker did not start serving:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        self.0
            .as_ref()
            .map(Started::stderr_so_far)
            .unwrap_or_default()
    }

    fn signal(&self, signal: Signal) {
        if let Some(w) = &self.0 {
            w.signal(signal);
        }
    }

    /// Waits for it to end (after a signal).
    fn end_within(mut self, limit: Duration) -> crate::support::Ended {
        self.0.take().expect("a worker").end_within(limit)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(w) = &mut self.0 {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}

/// Starts `wfr run slow` against the fleet at `url`: its stage notes the worker
/// and its pid in `dir/m.log`, touches `dir/m.started.<worker>` and sleeps
/// `secs`.
fn start_slow(dir: &Path, url: &str, token: &str, secs: &str) -> Started {
    let marker = format!("marker={}", dir.join("m").display());
    let secs = format!("secs={secs}");
    let conf = dir.join("conf");
    start_with(
        &[
            "run", "slow", "-p", &marker, "-p", &secs, "--output", "json",
        ],
        dir,
        &[
            ("WORKFLOW_CORE_CONF_PATH", conf.to_str().expect("utf-8")),
            ("FLEET_URL", url),
            ("FLEET_TOKEN", token),
        ],
    )
}

/// `remote`: a self_hosted job (host and token from the environment) with a
/// matrix of two, after a local job; each stage says where it ran.
fn workspace(dir: &Path) {
    write(
        dir,
        "conf/fleet.yml",
        r#"
fleet:
  type: Workflow
  params:
    who: {type: str, default: world}
  jobs:
    prep:
      stages:
        - name: here
          id: here
          bash: echo "coordinator:$${WFR_WORKER:-none}"
    remote:
      needs: [prep]
      runs-on:
        type: self_hosted
        with:
          host: ${FLEET_URL}
          token: ${FLEET_TOKEN}
      strategy:
        max-parallel: 2
        matrix:
          n: [1, 2]
      stages:
        - name: where
          id: where
          bash: echo "hello ${{ params.who }} n=${{ matrix.n }} on $WFR_WORKER after ${{ jobs.prep.stages.here.outputs.stdout }}"
        - name: typed
          id: typed
          echo: "rc=${{ stages.where.outputs.return_code }}"
labelled:
  type: Workflow
  jobs:
    gpu:
      runs-on:
        type: self_hosted
        with:
          host: ${FLEET_URL}
          token: ${FLEET_TOKEN}
          labels: {gpu: "yes"}
      stages:
        - name: where
          id: where
          bash: echo "$WFR_WORKER"
plain:
  type: Workflow
  jobs:
    a:
      stages:
        - name: where
          id: where
          bash: echo "$${WFR_WORKER:-here}"
chatty:
  type: Workflow
  params:
    marker: str
  jobs:
    remote:
      runs-on:
        type: self_hosted
        with:
          host: ${FLEET_URL}
          token: ${FLEET_TOKEN}
      stages:
        - name: count
          id: count
          bash: |
            seq 1 60 | sed 's/^/line /'
            # Held until the test has seen the lines on the coordinator.
            for _ in $(seq 600); do
              [ -e "${{ params.marker }}.go" ] && break
              sleep 0.05
            done
            echo "released"
slow:
  type: Workflow
  params:
    marker: str
    secs: {type: str, default: "3"}
  jobs:
    remote:
      runs-on:
        type: self_hosted
        with:
          host: ${FLEET_URL}
          token: ${FLEET_TOKEN}
      stages:
        - name: wait
          id: wait
          bash: |
            echo "$WFR_WORKER $BASHPID" >> "${{ params.marker }}.log"
            touch "${{ params.marker }}.started.$WFR_WORKER"
            sleep ${{ params.secs }}
            echo "slept on $WFR_WORKER"
"#,
    );
}

fn env<'a>(url: &'a str, token: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("FLEET_URL", url), ("FLEET_TOKEN", token)]
}

fn run_json(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (serde_json::Value, String) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json"]);
    let out = wfr_with(&all, dir, Some(&dir.join("conf")), envs);
    let context = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\n{}", stdout(&out), stderr(&out)));
    (context, stderr(&out))
}

fn files_hold(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        if let Ok(bytes) = std::fs::read(&entry)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(entry.display().to_string());
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_self_hosted_job_runs_on_a_worker_and_its_token_is_kept_nowhere() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let _w = Worker::start(dir.path(), &nats.url(), nats.token(), "w1", &[]);
    let (context, log) = run_json(dir.path(), &["fleet"], &env(&nats.url(), nats.token()));
    assert_eq!(context["status"], "SUCCESS", "{context:#}\n{log}");
    let prep = &context["jobs"]["prep"]["stages"]["here"]["outputs"]["stdout"];
    assert_eq!(prep, "coordinator:none", "the local job ran here");
    let strategies = context["jobs"]["remote"]["strategies"]
        .as_object()
        .expect("strategies");
    assert_eq!(strategies.len(), 2);
    for (n, strategy) in strategies.values().enumerate() {
        let stdout = strategy["stages"]["where"]["outputs"]["stdout"]
            .as_str()
            .expect("stdout");
        assert!(
            stdout.starts_with("hello world n=")
                && stdout.ends_with("on w1 after coordinator:none"),
            "strategy {n}: {stdout}"
        );
        // Outputs come back typed: the return code is an int.
        assert_eq!(strategy["stages"]["where"]["outputs"]["return_code"], 0);
    }
    // The stages' events came back: their lines are in the run's log.
    assert!(log.contains("taken by a worker"), "{log}");
    assert!(log.contains("worker=w1"), "{log}");
    assert!(log.contains("rc=0"), "{log}");
    // The token is in no plan, record, history or log.
    assert!(
        !log.contains(nats.token()),
        "the token is in the log:\n{log}"
    );
    let holding = files_hold(dir.path(), nats.token());
    assert!(holding.is_empty(), "the token is in {holding:?}");
}

/// A stage's events go to the coordinator as they happen (gathered for a few
/// milliseconds into one message, not one message per event); those of a unit
/// that ends within that time go with its result.
#[test]
fn a_stage_s_lines_reach_the_coordinator_while_it_runs_and_in_few_messages() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let _w = Worker::start(dir.path(), &nats.url(), nats.token(), "w1", &[]);
    let tap = nats.tap("wfr.ev.>");
    let marker = format!("marker={}", dir.path().join("m").display());
    let conf = dir.path().join("conf");
    let run = start_with(
        &["run", "chatty", "-p", &marker, "--output", "json"],
        dir.path(),
        &[
            ("WORKFLOW_CORE_CONF_PATH", conf.to_str().expect("utf-8")),
            ("FLEET_URL", &nats.url()),
            ("FLEET_TOKEN", nats.token()),
        ],
    );
    // The lines are told while the stage still runs (it waits for `.go`).
    let waited = Instant::now();
    while !run.stderr_so_far().contains(" line 60 stream=stdout") {
        assert!(
            waited.elapsed() < Duration::from_secs(25),
            "the stage's lines did not reach the coordinator while it ran:\n{}",
            run.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = run.stderr_so_far();
    for n in [1, 30, 59] {
        assert!(
            log.contains(&format!(" line {n} stream=stdout")),
            "line {n}:\n{log}"
        );
    }
    assert!(!log.contains("released"), "{log}");
    // 60 lines, the stage's start and `Taken`: a few messages, not 62.
    let messages = tap.seen();
    assert!(
        (1..=8).contains(&messages),
        "{messages} event messages for 62 events"
    );
    std::fs::write(dir.path().join("m.go"), "").expect("the release file");
    let ended = run.end_within(Duration::from_secs(30));
    let context: serde_json::Value = serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ended.stdout, ended.stderr));
    assert_eq!(context["status"], "SUCCESS", "{}", ended.stderr);
    // The last line and the stage's end came (with the result, or just before it).
    assert!(ended.stderr.contains("released"), "{}", ended.stderr);
}

#[test]
fn labels_send_a_job_only_to_a_worker_that_has_them() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let _plain = Worker::start(dir.path(), &nats.url(), nats.token(), "plain", &[]);
    let _other = Worker::start(
        dir.path(),
        &nats.url(),
        nats.token(),
        "cpu",
        &["--labels", "gpu=no"],
    );
    let _gpu = Worker::start(
        dir.path(),
        &nats.url(),
        nats.token(),
        "gpu",
        &["--labels", "gpu=yes,os=linux"],
    );
    for _ in 0..4 {
        let (context, log) = run_json(dir.path(), &["labelled"], &env(&nats.url(), nats.token()));
        assert_eq!(context["status"], "SUCCESS", "{log}");
        assert_eq!(
            context["jobs"]["gpu"]["stages"]["where"]["outputs"]["stdout"], "gpu",
            "{log}"
        );
    }
}

#[test]
fn workers_flag_sends_every_job_to_the_fleet() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let _w = Worker::start(dir.path(), &nats.url(), nats.token(), "w9", &[]);
    let url = nats.url();
    let (context, log) = run_json(
        dir.path(),
        &["plain", "--workers", &url],
        &[("WFR_NATS_TOKEN", nats.token())],
    );
    assert_eq!(context["status"], "SUCCESS", "{log}");
    assert_eq!(
        context["jobs"]["a"]["stages"]["where"]["outputs"]["stdout"], "w9",
        "{log}"
    );
    // Without the flag the same job runs here.
    let (context, _) = run_json(dir.path(), &["plain"], &[]);
    assert_eq!(
        context["jobs"]["a"]["stages"]["where"]["outputs"]["stdout"],
        "here"
    );
}

#[test]
fn an_unreachable_fleet_fails_the_job_in_bounded_time_and_never_runs_it_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let url = format!("nats://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let (context, log) = run_json(dir.path(), &["fleet"], &env(&url, "t0ken"));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(context["status"], "FAILED");
    let error = context["jobs"]["remote"]["errors"]["message"]
        .as_str()
        .expect("an error");
    assert!(
        error.contains("cannot reach NATS at nats://127.0.0.1:"),
        "{error}"
    );
    assert!(
        !error.contains("t0ken") && !log.contains("t0ken"),
        "{error}\n{log}"
    );
    // Nothing of the job ran: its stages are not in the context.
    assert!(
        context["jobs"]["remote"]["strategies"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
    );
    // No host and no WFR_NATS_URL: said, not run here.
    let (context, _) = run_json(dir.path(), &["fleet"], &[("FLEET_URL", "")]);
    let error = context["jobs"]["remote"]["errors"]["message"]
        .as_str()
        .expect("an error");
    assert!(error.contains("WFR_NATS_URL"), "{error}");
}

#[test]
fn wrong_credentials_are_said_to_be_refused() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let (context, log) = run_json(dir.path(), &["fleet"], &env(&nats.url(), "not-the-token"));
    let error = context["jobs"]["remote"]["errors"]["message"]
        .as_str()
        .expect("an error");
    assert!(error.contains("refused the credentials"), "{error}");
    assert!(!log.contains("not-the-token") && !error.contains("not-the-token"));
    let worker = start_with(
        &["worker", "--nats", &nats.url()],
        dir.path(),
        &[("WFR_NATS_TOKEN", "not-the-token")],
    )
    .end_within(Duration::from_secs(20));
    assert_eq!(worker.code, Some(2), "{}", worker.stderr);
    assert!(
        worker.stderr.contains("refused the credentials"),
        "{}",
        worker.stderr
    );
}

#[test]
fn a_killed_worker_s_job_is_delivered_again_to_another_and_the_run_ends_well() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let first = Worker::start(
        dir.path(),
        &nats.url(),
        nats.token(),
        "first",
        &["--ack-wait", "2"],
    );
    let run = start_slow(dir.path(), &nats.url(), nats.token(), "2");
    wait_for(&dir.path().join("m.started.first"));
    let killed_at = Instant::now();
    first.signal(Signal::SIGKILL);
    drop(first);
    let second = Worker::start(dir.path(), &nats.url(), nats.token(), "second", &[]);
    let ended = run.end_within(Duration::from_secs(40));
    eprintln!("second worker:\n{}", second.stderr());
    let context: serde_json::Value = serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ended.stdout, ended.stderr));
    assert_eq!(context["status"], "SUCCESS", "{}", ended.stderr);
    assert_eq!(
        context["jobs"]["remote"]["stages"]["wait"]["outputs"]["stdout"], "slept on second",
        "{}",
        ended.stderr
    );
    // The log tells both attempts.
    assert!(
        ended.stderr.contains("worker=first attempt=1"),
        "{}",
        ended.stderr
    );
    assert!(
        ended.stderr.contains("worker=second attempt=2"),
        "{}",
        ended.stderr
    );
    // At-least-once: the stage started twice, once per attempt.
    let starts = std::fs::read_to_string(dir.path().join("m.log")).expect("marker log");
    assert_eq!(starts.lines().count(), 2, "{starts}");
    // What the killed worker's stage started did not outlive it (its guard).
    let first_pid: i32 = starts
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    let gone = Instant::now();
    while crate::support::alive(first_pid) && gone.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !crate::support::alive(first_pid),
        "the killed worker's stage still runs"
    );
    assert!(killed_at.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_worker_stopped_by_sigterm_returns_the_job_it_holds_to_another() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let leaving = Worker::start(
        dir.path(),
        &nats.url(),
        nats.token(),
        "leaving",
        &["--grace", "0.5"],
    );
    let run = start_slow(dir.path(), &nats.url(), nats.token(), "4");
    wait_for(&dir.path().join("m.started.leaving"));
    leaving.signal(Signal::SIGTERM);
    let ended = leaving.end_within(Duration::from_secs(15));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(ended.stderr.contains("returned"), "{}", ended.stderr);
    let _staying = Worker::start(dir.path(), &nats.url(), nats.token(), "staying", &[]);
    let ended = run.end_within(Duration::from_secs(40));
    let context: serde_json::Value = serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ended.stdout, ended.stderr));
    assert_eq!(context["status"], "SUCCESS", "{}", ended.stderr);
    assert_eq!(
        context["jobs"]["remote"]["stages"]["wait"]["outputs"]["stdout"],
        "slept on staying"
    );
    // The returned job was stopped on the leaving worker: its sleep is gone.
    let log = std::fs::read_to_string(dir.path().join("m.log")).expect("marker log");
    let first_pid: i32 = log
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    assert!(
        !crate::support::alive(first_pid),
        "the first attempt's stage still runs"
    );
}

#[test]
fn a_cancelled_run_stops_its_stages_on_the_worker() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let worker = Worker::start(dir.path(), &nats.url(), nats.token(), "w", &[]);
    let run = start_slow(dir.path(), &nats.url(), nats.token(), "300");
    wait_for(&dir.path().join("m.started.w"));
    let started = Instant::now();
    run.signal(Signal::SIGTERM);
    let ended = run.end_within(Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(20));
    let context: serde_json::Value = serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ended.stdout, ended.stderr));
    assert_eq!(context["status"], "CANCEL", "{}", ended.stderr);
    let log = std::fs::read_to_string(dir.path().join("m.log")).expect("marker log");
    let pid: i32 = log
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    let gone = Instant::now();
    while crate::support::alive(pid) && gone.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !crate::support::alive(pid),
        "the remote stage still runs:\n{}",
        worker.stderr()
    );
}

#[test]
fn a_cluster_node_killed_mid_run_loses_no_job_and_no_result() {
    let Some(mut cluster) = NatsCluster::start(3) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let urls = cluster.urls();
    let _a = Worker::start(dir.path(), &urls, cluster.token(), "a", &["--slots", "2"]);
    let _b = Worker::start(dir.path(), &urls, cluster.token(), "b", &["--slots", "2"]);
    let run = start_slow(dir.path(), &urls, cluster.token(), "3");
    // Some worker took the job; a node goes away while it runs.
    let started = Instant::now();
    while walk(dir.path())
        .iter()
        .all(|p| !p.to_string_lossy().contains("m.started."))
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no worker took the job"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.kill(0);
    let ended = run.end_within(Duration::from_secs(60));
    let context: serde_json::Value = serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ended.stdout, ended.stderr));
    assert_eq!(context["status"], "SUCCESS", "{}", ended.stderr);
    let stdout = context["jobs"]["remote"]["stages"]["wait"]["outputs"]["stdout"]
        .as_str()
        .expect("stdout");
    assert!(stdout.starts_with("slept on "), "{stdout}");
    // And the fleet goes on with the two nodes left.
    let (context, log) = run_json(dir.path(), &["fleet"], &env(&urls, cluster.token()));
    assert_eq!(context["status"], "SUCCESS", "{context:#}\n{log}");
}

#[test]
fn a_run_whose_coordinator_was_killed_is_resumed_without_running_its_fleet_jobs_again() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let _w = Worker::start(dir.path(), &nats.url(), nats.token(), "w", &[]);
    let marker = dir.path().join("m");
    let marker_param = format!("marker={}", marker.display());
    let url = nats.url();
    let envs = [
        (
            "WORKFLOW_CORE_CONF_PATH",
            dir.path().join("conf").to_str().expect("utf-8").to_string(),
        ),
        ("FLEET_URL", url.clone()),
        ("FLEET_TOKEN", nats.token().to_string()),
        ("TMPDIR", crate::support::private_tmp(dir.path())),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = start_with(
        &[
            "run",
            "slow",
            "-p",
            &marker_param,
            "-p",
            "secs=3",
            "--output",
            "json",
        ],
        dir.path(),
        &envs,
    );
    wait_for(&dir.path().join("m.started.w"));
    // The run's id: its record's (`.<id>.partial` while it runs).
    let entries = crate::support::run_entries(&dir.path().join(".wfc/runs"));
    let run_id = entries
        .iter()
        .find_map(|e| e.strip_prefix('.').and_then(|e| e.strip_suffix(".partial")))
        .unwrap_or_else(|| panic!("no open record in {entries:?}"))
        .to_string();
    run.signal(Signal::SIGKILL);
    let _ = run.end_within(Duration::from_secs(10));
    // Taken up while its job still runs on the worker: waited for, not run again.
    // (The credentials in the URL, as NATS clients take them.)
    let with_token = nats.url_with_token();
    let mut args = vec![
        "resume",
        run_id.as_str(),
        "--nats",
        with_token.as_str(),
        "--output",
        "json",
    ];
    let resumed = start_with(&args, dir.path(), &envs);
    let ended = resumed.end_within(Duration::from_secs(40));
    let context: serde_json::Value = serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ended.stdout, ended.stderr));
    assert_eq!(context["status"], "SUCCESS", "{}", ended.stderr);
    assert_eq!(context["info"]["resume_of"], run_id.as_str());
    assert_eq!(
        context["jobs"]["remote"]["stages"]["wait"]["outputs"]["stdout"],
        "slept on w"
    );
    let starts = std::fs::read_to_string(dir.path().join("m.log")).expect("marker log");
    assert_eq!(
        starts.lines().count(),
        1,
        "the fleet job ran again:\n{starts}"
    );
    // Resumed again, after the end: its result is still in JetStream.
    let again = start_with(&args, dir.path(), &envs).end_within(Duration::from_secs(30));
    assert!(again.stdout.contains("slept on w"), "{}", again.stderr);
    let starts = std::fs::read_to_string(dir.path().join("m.log")).expect("marker log");
    assert_eq!(
        starts.lines().count(),
        1,
        "the fleet job ran again:\n{starts}"
    );
    // A run that sent nothing to the fleet cannot be resumed: said so.
    args[1] = "20200101000000000000T1";
    let none = start_with(&args, dir.path(), &envs).end_within(Duration::from_secs(30));
    assert_eq!(none.code, Some(2));
    assert!(
        none.stderr.contains("sent no job to the fleet"),
        "{}",
        none.stderr
    );
}

/// The Python of a self_hosted job runs on the worker: a `wfr` with no
/// `wfr-python` beside it coordinates it (it handed the run to `wfr-python`, or
/// refused it, before), and so it does any job under `--workers`.
#[test]
fn a_lone_wfr_coordinates_python_stages_that_run_on_workers() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/py.yml",
        r"
py-remote:
  type: Workflow
  jobs:
    j:
      runs-on:
        type: self_hosted
        with:
          host: ${FLEET_URL}
          token: ${FLEET_TOKEN}
      stages:
        - name: Py
          id: py
          run: x = 41 + 1
py-local:
  type: Workflow
  jobs:
    j:
      stages:
        - name: Py
          id: py
          run: x = 40 + 2
",
    );
    let _w = Worker::start(dir.path(), &nats.url(), nats.token(), "py", &[]);
    let lone = crate::handoff::lone_wfr(dir.path());
    let url = nats.url();
    let run = |args: &[&str]| {
        std::process::Command::new(&lone)
            .args(args)
            .current_dir(dir.path())
            .env_remove("WORKFLOW_CORE_CONF_PATH")
            .env("FLEET_URL", &url)
            .env("FLEET_TOKEN", nats.token())
            .env("WFR_NATS_TOKEN", nats.token())
            .output()
            .expect("run the lone wfr")
    };
    let out = run(&["run", "py-remote", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let context: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(context["jobs"]["j"]["stages"]["py"]["outputs"]["x"], 42);
    let out = run(&["run", "py-local", "--workers", &url, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let context: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(context["jobs"]["j"]["stages"]["py"]["outputs"]["x"], 42);
    // Run here, the same job needs wfr-python, and says so.
    let out = run(&["run", "py-local"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("wfr-python"), "{}", stderr(&out));
}
