//! Container jobs (`runs-on: {type: container|docker}`) on the real engine, with
//! the test images of `scripts/setup-tests`: `wfc-test/busybox:1` (no bash, no
//! python3) and `wfc-test/python:1` (bash and Debian's python3). Each image
//! holds `/etc/wfc-test-image` (`busybox`, `python`): a stage that reads it ran
//! inside (`/.dockerenv` is on this machine too).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::docker::{containers_go, containers_of, partial_run_id, ready, run_id};
use crate::support::{context, run_and_terminate, start, stderr, wait_for, wfr, wfr_with, write};

/// A workflow `c` of one job `j` that runs on `runs_on`, with `stages`.
fn flow(runs_on: &str, stages: &str) -> String {
    format!(
        "c:\n  type: Workflow\n  params:\n    who: {{type: str, default: ann}}\n  jobs:\n    j:\n      runs-on: {runs_on}\n      stages:\n{stages}"
    )
}

fn busybox(with: &str) -> String {
    format!("{{type: container, with: {{image: 'wfc-test/busybox:1'{with}}}}}")
}

fn python(with: &str) -> String {
    format!("{{type: container, with: {{image: 'wfc-test/python:1'{with}}}}}")
}

fn run(dir: &Path) -> (std::process::Output, serde_json::Value) {
    let out = wfr(&["run", "c", "--output", "json"], dir, None);
    let ctx = context(&out);
    (out, ctx)
}

#[test]
fn bash_stages_run_inside_with_sh_their_env_the_workspace_and_the_user() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "data/in.txt", "from the workspace\n");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(", environment: {FROM_JOB: '${{ params.who }}'}"),
            "        - name: Where
          id: where
          env: {WHO: '${{ params.who }}', N: '3'}
          bash: |
            cat /etc/wfc-test-image
            echo \"$WHO $N $FROM_JOB $(pwd)\"
            cat data/in.txt
            echo careful >&2
            echo written > data/out.txt
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outputs = &ctx["jobs"]["j"]["stages"]["where"]["outputs"];
    assert_eq!(
        outputs["stdout"],
        "busybox\nann 3 ann /app\nfrom the workspace"
    );
    assert_eq!(outputs["stderr"], "careful");
    assert_eq!(outputs["return_code"], 0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/out.txt")).expect("written inside"),
        "written\n",
        "the workspace is mounted at working_dir"
    );
    let log = stderr(&out);
    assert!(
        log.contains("Bash stages run with sh -c (the image has no bash)"),
        "{log}"
    );
    assert!(log.contains("ann 3 ann /app stream=stdout"), "{log}");
    assert!(containers_of(&run_id(dir.path())).is_empty());

    // bash when the image has it; another working_dir; another user.
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &python(", working_dir: /work, user: '1000'"),
            "        - name: Where
          id: where
          bash: echo \"$(cat /etc/wfc-test-image) ${BASH_VERSION%%.*} $(pwd) $(id -u)\"; cat data/in.txt
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["where"]["outputs"]["stdout"],
        "python 5 /work 1000\nfrom the workspace"
    );
    assert!(stderr(&out).contains("Bash stages run with bash -c;"));
}

#[test]
fn an_exit_status_other_than_zero_fails_the_stage_and_the_job() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Fail
          id: fail
          bash: echo broken >&2; exit 3
        - name: Never
          id: never
          bash: echo never
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stages = &ctx["jobs"]["j"]["stages"];
    assert_eq!(stages["fail"]["status"], "FAILED");
    assert_eq!(
        stages["fail"]["errors"]["message"],
        "Subprocess: broken\n\t```bash\n\techo broken >&2; exit 3\n\t```"
    );
    assert!(stages.get("never").is_none());
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

#[test]
fn each_strategy_of_a_matrix_gets_a_container_of_its_own() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        "c:
  type: Workflow
  jobs:
    j:
      runs-on: {type: container, with: {image: '${{ matrix.image }}'}}
      strategy:
        max-parallel: 2
        matrix:
          image: ['wfc-test/busybox:1', 'wfc-test/python:1']
      stages:
        - name: Which
          id: which
          bash: cat /etc/wfc-test-image; hostname; echo $$ > /tmp/mine; sleep 1; cat /tmp/mine
",
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let strategies = ctx["jobs"]["j"]["strategies"]
        .as_object()
        .expect("strategies");
    let mut seen: Vec<(String, String)> = strategies
        .values()
        .map(|s| {
            let text = s["stages"]["which"]["outputs"]["stdout"]
                .as_str()
                .expect("stdout")
                .to_string();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{text}");
            (lines[0].to_string(), lines[1].to_string())
        })
        .collect();
    seen.sort();
    assert_eq!(seen[0].0, "busybox");
    assert_eq!(seen[1].0, "python");
    assert_ne!(seen[0].1, seen[1].1, "two containers (hostnames)");
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

#[test]
fn cancelling_the_run_removes_the_container() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Long
          id: long
          bash: sleep 60
",
        ),
    );
    let (out, stopping) = run_and_terminate("c", dir.path(), Duration::from_secs(2));
    assert!(stopping < Duration::from_secs(15), "{stopping:?}");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["jobs"]["j"]["stages"]["long"]["status"], "CANCEL");
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

/// SIGKILL gives wfr no time: its guard removes the job's container, as a
/// Docker stage's.
#[test]
fn when_wfr_is_killed_the_jobs_container_is_removed() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Long
          bash: touch up; sleep 120
",
        ),
    );
    let run = start(&["run", "c"], dir.path());
    wait_for(&dir.path().join("up"));
    let id = partial_run_id(dir.path());
    assert_eq!(containers_of(&id).len(), 1);
    run.signal(nix::sys::signal::Signal::SIGKILL);
    run.end_within(Duration::from_secs(5));
    containers_go(&id, Duration::from_secs(20));
}

/// A stage's timeout kills its processes in the container (those it left in
/// the background too), while the container and its other stages go on.
#[test]
fn a_stage_timeout_kills_its_processes_inside() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Both
          id: both
          parallel:
            slow:
              - name: Slow
                id: slow
                timeout: 1
                bash: |
                  sleep 300 &
                  sleep 200
            check:
              - name: Check
                id: check
                bash: |
                  sleep 4
                  if ps | grep -q '[s]leep [23]00'; then echo alive; else echo gone; fi > result.txt
",
        ),
    );
    let started = Instant::now();
    let (out, ctx) = run(dir.path());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let slow = &ctx["jobs"]["j"]["stages"]["both"]["outputs"]["parallel"]["slow"]["stages"]["slow"];
    assert_eq!(slow["errors"]["name"], "StageTimeoutError", "{ctx}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("result.txt")).expect("the check ran"),
        "gone\n",
        "the timed-out stage's processes were killed inside the container"
    );
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

/// `timeout` of `with`: the job's stages are stopped and the job fails; with
/// `remove: false` the container is left, stopped, under its name.
#[test]
fn the_jobs_timeout_stops_it_and_remove_false_keeps_the_container() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("wfc-test-kept-{}", std::process::id());
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(&format!(
                ", timeout: 1, remove: false, container_name: {name}"
            )),
            "        - name: Long
          id: long
          bash: sleep 60
",
        ),
    );
    let started = Instant::now();
    let (out, ctx) = run(dir.path());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        ctx["jobs"]["j"]["errors"]["message"],
        "Container job `j` ran out of its timeout of 1 seconds (`with.timeout`); its stages were stopped"
    );
    assert!(stderr(&out).contains(&format!(
        "container {name} of wfc-test/busybox:1 is left, stopped"
    )));
    let inspect = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", &name])
        .output()
        .expect("docker inspect");
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), "false");
}

#[test]
fn py_and_call_stages_run_with_the_images_python3_and_return_typed_outputs() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "tasks/__init__.py",
        "from ddeutil.workflow import tag\n\n@tag('v1', alias='inside')\ndef inside(n: int, pair: tuple):\n    return {'image': open('/etc/wfc-test-image').read().strip(), 'twice': n * 2, 'pair': pair}\n",
    );
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &python(""),
            "        - name: Py
          id: py
          vars: {n: 3, d: {a: [1, 2]}}
          run: |
            import datetime, decimal
            image = open('/etc/wfc-test-image').read().strip()
            t = (1, 'two', 2.5)
            n2 = n * 2
            big = 10 ** 30
            d2 = dict(d, b=(n,))
            day = datetime.date(2024, 2, 29)
            price = decimal.Decimal('1.50')
            print('printed inside')
        - name: Types
          id: types
          echo: \"${{ stages.py.outputs.t }} ${{ stages.py.outputs.big }} ${{ stages.py.outputs.d2 }}\"
        - name: Call
          id: call
          uses: tasks/inside@v1
          with: {n: '${{ stages.py.outputs.n2 }}', pair: '${{ stages.py.outputs.t }}'}
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let py = &ctx["jobs"]["j"]["stages"]["py"]["outputs"];
    assert_eq!(py["image"], "python", "ran in the container");
    assert_eq!(py["t"], serde_json::json!([1, "two", 2.5]));
    assert_eq!(py["n2"], 6);
    assert_eq!(py["d2"], serde_json::json!({"a": [1, 2], "b": [3]}));
    assert_eq!(py["day"], "2024-02-29");
    let log = stderr(&out);
    // A tuple stays a tuple, an int an int, a dict a dict.
    assert!(
        log.contains("(1, 'two', 2.5) 1000000000000000000000000000000 {'a': [1, 2], 'b': (3,)}"),
        "{log}"
    );
    assert!(log.contains("printed inside stream=stdout"), "{log}");
    let call = &ctx["jobs"]["j"]["stages"]["call"]["outputs"];
    assert_eq!(call["image"], "python");
    assert_eq!(call["twice"], 12);
    assert_eq!(call["pair"], serde_json::json!([1, "two", 2.5]));
    assert!(
        !dir.path().join("tasks/__pycache__").exists(),
        "no bytecode written into the workspace"
    );
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

#[test]
fn a_python_exception_inside_fails_the_stage_with_its_type() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &python(""),
            "        - name: Py
          id: py
          run: |
            raise KeyError('missing')
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let errors = &ctx["jobs"]["j"]["stages"]["py"]["errors"];
    assert_eq!(errors["name"], "KeyError");
    assert_eq!(errors["message"], "'missing'");
    assert!(stderr(&out).contains("Traceback"), "{}", stderr(&out));
}

#[test]
fn a_py_stage_in_an_image_without_python3_fails_and_says_so() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Py
          id: py
          run: x = 1
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = ctx["jobs"]["j"]["stages"]["py"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.starts_with("image wfc-test/busybox:1 has no python3: "),
        "{message}"
    );
}

#[test]
fn a_virtualpy_stage_needs_uv_in_the_image() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &python(""),
            "        - name: Venv
          id: venv
          run: print(1)
          deps: []
",
        ),
    );
    let (out, ctx) = run(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = ctx["jobs"]["j"]["stages"]["venv"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.starts_with("image wfc-test/python:1 has no uv: "),
        "{message}"
    );
}

/// The Python runs in the container: a `wfr` with no `wfr-python` beside it
/// runs a container job's Py stage itself.
#[test]
fn a_py_stage_of_a_container_job_needs_no_wfr_python() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    let lone = crate::handoff::lone_wfr(dir.path());
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &python(""),
            "        - name: Py\n          id: py\n          run: x = 41 + 1\n",
        ),
    );
    let out = std::process::Command::new(&lone)
        .args(["run", "c", "--output", "json"])
        .current_dir(dir.path())
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .output()
        .expect("run the lone wfr");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["py"]["outputs"]["x"],
        42
    );
}

#[test]
fn volumes_are_mounted_as_asked_and_refused_outside_the_working_directory() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "data/in.txt", "data\n");
    write(
        dir.path(),
        "conf/c.yml",
        "c:
  type: Workflow
  params:
    where: {type: str, default: ./data}
  jobs:
    j:
      runs-on:
        type: container
        with:
          image: wfc-test/busybox:1
          volumes:
            - {source: '${{ params.where }}', target: /in, mode: ro}
      stages:
        - name: Read
          id: read
          bash: cat /in/in.txt; touch /in/new 2>/dev/null && echo writable || echo read-only
    d:
      runs-on: {type: docker, with: {image: wfc-test/busybox:1, env: {E: e}, volume: {./data: /d}}}
      stages:
        - name: Docker type
          id: docker
          bash: echo $E; cat /d/in.txt; cat /etc/wfc-test-image
",
    );
    let out = wfr(&["run", "c", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["read"]["outputs"]["stdout"],
        "data\nread-only"
    );
    assert_eq!(
        ctx["jobs"]["d"]["stages"]["docker"]["outputs"]["stdout"],
        "e\ndata\nbusybox"
    );
    let out = wfr(
        &["run", "c", "--output", "json", "-p", "where=../.."],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = context(&out)["jobs"]["j"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains("volume `../..` is outside the working directory"),
        "{message}"
    );
}

#[test]
fn a_missing_image_or_engine_fails_the_job_clearly_and_quickly() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            "{type: container, with: {image: 'wfc-test/no-such-image:1'}}",
            "        - name: Never\n          bash: touch ran\n",
        ),
    );
    let started = Instant::now();
    let (out, ctx) = run(dir.path());
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = ctx["jobs"]["j"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.starts_with(
            "job `j` did not start: image wfc-test/no-such-image:1 is not on the Docker engine, and cannot pull"
        ),
        "{message}"
    );
    assert!(!dir.path().join("ran").exists(), "never run on the host");

    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Never\n          bash: touch ran\n",
        ),
    );
    let started = Instant::now();
    let out = wfr_with(
        &["run", "c", "--output", "json"],
        dir.path(),
        None,
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = context(&out)["jobs"]["j"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.starts_with("job `j` did not start: cannot reach the Docker engine"),
        "{message}"
    );
    assert!(!dir.path().join("ran").exists(), "never run on the host");
}

/// A Docker stage in a container job starts a sibling container; mounting a
/// folder of the workspace pauses the job's container (it can write above it)
/// for that moment, while other stages of the job keep starting processes in
/// it: none is lost or hangs.
#[test]
fn docker_stages_in_a_container_job_start_siblings_while_its_stages_run() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "data/in.txt", "shared\n");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Side by side
          id: both
          parallel:
            siblings:
              - name: Sibling
                id: sibling
                foreach: [1, 2, 3, 4]
                stages:
                  - name: Box
                    image: wfc-test/busybox
                    tag: '1'
                    volume: {./data: /data}
                    command: cat /data/in.txt
            execs:
              - name: Many
                id: many
                foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
                stages:
                  - name: Exec
                    bash: cat /etc/wfc-test-image; cat data/in.txt
",
        ),
    );
    let started = Instant::now();
    let (out, ctx) = run(dir.path());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(ctx["jobs"]["j"]["stages"]["both"]["status"], "SUCCESS");
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

/// `wfr run --workers URL` sends a container job to the fleet: the worker that
/// takes a strategy runs it in a container of its own, not on its host.
#[cfg(feature = "nats")]
#[test]
fn a_container_job_sent_to_a_fleet_runs_in_a_container_on_the_worker() {
    let _engine = ready();
    let Some(nats) = crate::nats_support::NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            &busybox(""),
            "        - name: Where\n          id: where\n          bash: cat /etc/wfc-test-image\n",
        ),
    );
    let url = nats.url();
    let worker = crate::support::start_with(
        &["worker", "--nats", &url, "--name", "w1"],
        dir.path(),
        &[("WFR_NATS_TOKEN", nats.token())],
    );
    let started = Instant::now();
    while !worker.stderr_so_far().contains("serving") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            worker.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = wfr_with(
        &["run", "c", "--output", "json", "--workers", &url],
        dir.path(),
        None,
        &[("WFR_NATS_TOKEN", nats.token())],
    );
    worker.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = worker.end_within(Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["where"]["outputs"]["stdout"],
        "busybox"
    );
}
