//! Docker stages on the real engine. `scripts/setup-tests` makes the test image
//! `wfc-test/busybox:1` and a registry with htpasswd auth on 127.0.0.1:5055 that
//! holds it (user `wfc`, password `wfc-secret`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::support::{
    context, private_tmp, run_and_terminate, start, start_with, stderr, wait_for, wfr, wfr_with,
    write,
};

const REGISTRY: &str = "127.0.0.1:5055";

/// Held by every test while it runs Docker stages; [`ready_alone`] takes it
/// whole. Any `wfr` that runs a Docker stage removes, engine-wide, the containers
/// of `wfr`s that are gone: a test that leaves such containers on purpose, for
/// the next `wfr` to remove, runs while no other test's `wfr` can.
static ENGINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The test image is there; the engine is shared with the other tests.
pub(crate) fn ready() -> std::sync::RwLockReadGuard<'static, ()> {
    check_image();
    ENGINE
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The test image is there; no other test runs Docker stages meanwhile.
fn ready_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    check_image();
    ENGINE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn check_image() {
    let image = Command::new("docker")
        .args(["image", "inspect", "wfc-test/busybox:1"])
        .output()
        .expect("docker CLI");
    assert!(
        image.status.success(),
        "the test image is missing: run scripts/setup-tests first"
    );
}

/// The containers of run `run_id` still on the engine, asked through its API.
pub(crate) fn containers_of(run_id: &str) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let docker = Docker::connect_with_local_defaults().expect("engine");
        let mut filters = std::collections::HashMap::new();
        filters.insert("label".to_string(), vec![format!("dev.wfc.run={run_id}")]);
        docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .expect("list containers")
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    })
}

/// The id of the (only) run recorded under `dir`.
pub(crate) fn run_id(dir: &Path) -> String {
    let runs: Vec<_> = std::fs::read_dir(dir.join(".wfc/runs"))
        .expect("runs")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    runs.last().cloned().expect("a run record")
}

fn flow(stages: &str) -> String {
    format!(
        "d:\n  type: Workflow\n  params:\n    who: {{type: str, default: ann}}\n  jobs:\n    j:\n      stages:\n{stages}"
    )
}

#[test]
fn env_volume_command_and_outputs() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "data/in.txt", "from the host\n");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Box\n          id: box\n          image: wfc-test/busybox\n          tag: '1'\n          env: {WHO: '${{ params.who }}', N: 3}\n          volume: {./data: /data}\n          command: |\n            echo \"hello $WHO $N\"; cat /data/in.txt; echo careful >&2\n            echo '{\"answer\": 42, \"list\": [1, 2]}' > /logs/outputs.json\n            echo written > /data/out.txt\n",
        ),
    );
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    let outputs = &ctx["jobs"]["j"]["stages"]["box"]["outputs"];
    assert_eq!(outputs["return_code"], 0);
    assert_eq!(outputs["stdout"], "hello ann 3\nfrom the host");
    assert_eq!(outputs["stderr"], "careful");
    assert_eq!(outputs["answer"], 42, "outputs.json is merged");
    assert_eq!(outputs["list"], serde_json::json!([1, 2]));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/out.txt")).expect("written"),
        "written\n"
    );
    assert!(
        stderr(&out).contains("hello ann 3 stream=stdout"),
        "the container's output is in the log: {}",
        stderr(&out)
    );
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

/// A container's output is kept within the stage's bound (as a Bash stage's),
/// not whole in wfr's memory and the record, and its lines are logged within
/// theirs: the first ones, a note, the last one.
#[test]
fn a_container_s_flood_of_output_is_kept_and_logged_within_bounds() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Flood\n          id: flood\n          image: wfc-test/busybox\n          tag: '1'\n          command: [sh, -c, 'yes | head -n 200000; head -c 40000000 /dev/zero | tr \"\\\\0\" x; echo; echo the end']\n",
        ),
    );
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        &err[err.len().saturating_sub(2000)..]
    );
    let ctx = context(&out);
    let kept = ctx["jobs"]["j"]["stages"]["flood"]["outputs"]["stdout"]
        .as_str()
        .expect("stdout");
    assert!(kept.len() <= (16 << 20) + 200, "{} bytes kept", kept.len());
    assert!(
        kept.ends_with("a stage keeps at most 16 MiB of each stream]"),
        "{}",
        &kept[kept.len().saturating_sub(200)..]
    );
    assert!(err.len() < 40 << 20, "{} bytes of log on stderr", err.len());
    assert!(err.contains("of stdout were not logged"));
    let last = err
        .lines()
        .rfind(|l| l.contains("stream=stdout"))
        .expect("lines");
    assert!(last.contains("the end"), "{last}");
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

#[test]
fn a_failing_exit_code_fails_the_stage() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Fail\n          id: fail\n          image: wfc-test/busybox\n          tag: '1'\n          command: [sh, -c, 'echo broken >&2; exit 3']\n",
        ),
    );
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ctx = context(&out);
    let errors = &ctx["jobs"]["j"]["stages"]["fail"]["errors"];
    assert_eq!(
        errors["message"],
        "Container of wfc-test/busybox:1 exited with status 3: broken"
    );
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

#[test]
fn pulls_with_good_credentials_and_explains_bad_ones() {
    let _engine = ready();
    let image = format!("{REGISTRY}/wfc-test/busybox");
    let _ = Command::new("docker")
        .args(["rmi", &format!("{image}:1")])
        .output();
    let dir = tempfile::tempdir().expect("tempdir");
    let stage = |password: &str, tag: &str| {
        flow(&format!(
            "        - name: Pull\n          id: pull\n          image: {image}\n          tag: '{tag}'\n          auth: {{username: wfc, password: {password}}}\n          command: echo pulled\n"
        ))
    };
    for (password, tag, expected) in [
        (
            "wrong",
            "1",
            "the registry refused the credentials in `auth`",
        ),
        ("wfc-secret", "404", "no such image or tag in the registry"),
    ] {
        write(dir.path(), "conf/d.yml", &stage(password, tag));
        let started = Instant::now();
        let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
        assert!(started.elapsed() < Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let message = context(&out)["jobs"]["j"]["stages"]["pull"]["errors"]["message"]
            .as_str()
            .expect("message")
            .to_string();
        assert!(message.contains(expected), "{message}");
    }
    write(dir.path(), "conf/d.yml", &stage("wfc-secret", "1"));
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["pull"]["outputs"]["stdout"],
        "pulled"
    );
    let _ = Command::new("docker")
        .args(["rmi", &format!("{image}:1")])
        .output();
}

#[test]
fn volumes_leaving_the_working_directory_are_refused_at_run_time() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink("/etc", dir.path().join("escape")).expect("symlink");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Sneaky\n          id: sneaky\n          image: wfc-test/busybox\n          tag: '1'\n          volume: {./escape: /host}\n          command: cat /host/passwd\n",
        ),
    );
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = context(&out)["jobs"]["j"]["stages"]["sneaky"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains("goes through a symlink to `/etc`, outside the working directory"),
        "{message}"
    );
}

#[test]
fn cancel_and_timeout_leave_no_container() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Long\n          id: long\n          image: wfc-test/busybox\n          tag: '1'\n          command: sleep 60\n",
        ),
    );
    let (out, stopping) = run_and_terminate("d", dir.path(), Duration::from_secs(2));
    assert!(stopping < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["jobs"]["j"]["stages"]["long"]["status"], "CANCEL");
    assert!(containers_of(&run_id(dir.path())).is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Long\n          id: long\n          image: wfc-test/busybox\n          tag: '1'\n          timeout: 1\n          command: sleep 60\n",
        ),
    );
    let started = Instant::now();
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["long"]["errors"]["name"],
        "StageTimeoutError"
    );
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

#[test]
fn an_unreachable_engine_fails_fast_and_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Box\n          id: box\n          image: wfc-test/busybox\n          tag: '1'\n",
        ),
    );
    let started = Instant::now();
    let out = wfr_with(
        &["run", "d", "--output", "json"],
        dir.path(),
        None,
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = context(&out)["jobs"]["j"]["stages"]["box"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.starts_with("cannot reach the Docker engine"),
        "{message}"
    );
}

/// A container that swaps a folder for a symlink to a folder outside the working
/// directory, in a loop, while other Docker stages of the same run mount that
/// folder: no stage ever gets the outside folder mounted (or writes into it).
#[test]
fn a_folder_swapped_for_a_symlink_while_mounting_is_never_followed() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let outside = outside.path().canonicalize().expect("real path");
    write(&outside, "SENTINEL", "outside the working directory\n");
    write(dir.path(), "data/sub/inside", "\n");
    let attempts = 60;
    let items: Vec<String> = (0..attempts).map(|i| i.to_string()).collect();
    let workflow = format!(
        "d:
  type: Workflow
  jobs:
    attack:
      stages:
        - name: Swap
          id: swap
          image: wfc-test/busybox
          tag: '1'
          volume: {{./data: /d}}
          command: |
            n=0; end=$(( $(date +%s) + 120 )); mkdir -p /d/kept
            while [ ! -e /d/stop ] && [ $(date +%s) -lt $end ]; do
              mv /d/sub /d/kept/$n 2>/dev/null
              ln -s {outside} /d/sub 2>/dev/null
              rm /d/sub 2>/dev/null
              mkdir /d/sub 2>/dev/null; usleep 1000
              n=$((n + 1))
            done
            echo swaps=$n
    victim:
      strategy:
        matrix: {{i: [{}]}}
        max-parallel: 3
        fail-fast: false
      stages:
        # Apart, so that a refusal does not run the next attempts at once.
        - name: Pause
          sleep: 0.2
        - name: Look
          image: wfc-test/busybox
          tag: '1'
          volume: {{./data/sub: /m}}
          command: 'touch /m/written-${{{{ matrix.i }}}}; if [ -e /m/SENTINEL ]; then echo ESCAPED; fi'
    stop:
      needs: [victim]
      trigger-rule: all_done
      stages:
        - name: Stop
          bash: touch data/stop
",
        items.join(", "),
        outside = outside.display()
    );
    write(dir.path(), "conf/d.yml", &workflow);
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    let log = stderr(&out);
    let mut left: Vec<String> = std::fs::read_dir(&outside)
        .expect("outside")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["SENTINEL"], "a container wrote outside:\n{log}");
    assert!(!log.contains("ESCAPED"), "a container saw outside:\n{log}");
    let ctx = context(&out);
    let swaps = ctx["jobs"]["attack"]["stages"]["swap"]["outputs"]["stdout"]
        .as_str()
        .and_then(|s| s.strip_prefix("swaps="))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("the attacker ran: {log}"));
    assert!(swaps > 10, "the attacker swapped {swaps} times");
    // Every mount that ran wrote inside the working directory; the others were
    // refused, saying why.
    let ran = log.matches("stage=Look status=SUCCESS").count();
    let refused = log
        .matches("volume `./data/sub` goes through a symlink to")
        .count()
        + log
            .matches("became a symlink while the volume was checked; not mounted")
            .count();
    eprintln!("ran {ran}, refused {refused}");
    assert!(ran > 0, "no mount ran:\n{log}");
    assert_eq!(
        ran + refused,
        attempts,
        "ran {ran}, refused {refused}:\n{log}"
    );
    assert_eq!(written_inside(&dir.path().join("data")), ran, "{log}");
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

/// The `written-*` files under `dir`, symlinks not followed.
fn written_inside(dir: &Path) -> usize {
    let mut found = 0;
    for entry in std::fs::read_dir(dir).expect("folder") {
        let entry = entry.expect("entry");
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            found += written_inside(&entry.path());
        } else if entry.file_name().to_string_lossy().starts_with("written-") {
            found += 1;
        }
    }
    found
}

/// A container that was not started by this run and can write to a folder above
/// a volume's host path could swap it: the volume is refused, naming it. A
/// volume that is not below its writable mount is fine.
#[test]
fn a_foreign_container_that_can_write_above_a_volume_is_a_refusal() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "data/sub/in", "\n");
    let name = format!("wfc-test-foreign-{}", std::process::id());
    let data = dir.path().canonicalize().expect("real").join("data");
    let started = Command::new("docker")
        .args(["run", "-d", "--rm", "--name", &name, "-v"])
        .arg(format!("{}:/d", data.display()))
        .args(["wfc-test/busybox:1", "sleep", "120"])
        .output()
        .expect("docker run");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Same
          id: same
          image: wfc-test/busybox
          tag: '1'
          volume: {./data: /d}
          command: cat /d/sub/in
        - name: Below
          id: below
          image: wfc-test/busybox
          tag: '1'
          volume: {./data/sub: /s}
          command: 'true'
",
        ),
    );
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stages = &context(&out)["jobs"]["j"]["stages"];
    assert_eq!(stages["same"]["status"], "SUCCESS", "{}", stderr(&out));
    let message = stages["below"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains(&format!(
            "the running container `{name}`, not started by this run, can write to `{}`",
            data.display()
        )),
        "{message}"
    );
}

/// Host paths that hold the engine's socket (the one `DOCKER_HOST` names,
/// through a symlink) are refused however they are spelled, and templated host
/// paths are rendered before the rule applies.
#[test]
fn volumes_holding_the_engine_socket_are_refused_at_run_time() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().canonicalize().expect("real");
    std::fs::create_dir_all(work.join("engine")).expect("mkdir");
    std::os::unix::fs::symlink("/var/run/docker.sock", work.join("engine/api")).expect("symlink");
    let hosts = ["./engine", "engine/.", "engine//", ".", "./", "engine/api"];
    write(
        dir.path(),
        "conf/d.yml",
        &format!(
            "d:
  type: Workflow
  jobs:
    j:
      strategy:
        matrix: {{h: ['{}', ./data]}}
        fail-fast: false
      stages:
        - name: Box
          id: box
          image: wfc-test/busybox
          tag: '1'
          volume: {{'${{{{ matrix.h }}}}': /x}}
          command: 'true'
",
            hosts.join("', '")
        ),
    );
    let host = format!("unix://{}", work.join("engine/api").display());
    let out = wfr_with(
        &["run", "d", "--output", "json"],
        dir.path(),
        None,
        &[("DOCKER_HOST", host.as_str())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = stderr(&out);
    for h in hosts {
        assert!(
            log.contains(&format!("volume `{h}` holds the container engine's socket"))
                || log.contains(&format!("volume `{h}` is the container engine's socket")),
            "`{h}` is refused:\n{log}"
        );
    }
    assert_eq!(log.matches("stage=Box status=SUCCESS").count(), 1, "{log}");
    assert!(work.join("data").is_dir(), "the rendered folder was made");
}

/// A templated host path (a param, an environment variable) is rendered: the
/// folder made and mounted is the rendered one, never one named after the
/// template.
#[test]
fn templated_volume_host_paths_are_rendered() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Box
          id: box
          image: wfc-test/busybox
          tag: '1'
          volume: {'./${{ params.who }}/in': /p, '${WFC_TEST_VOLUME}/x': /e}
          command: 'echo p > /p/file; echo e > /e/file'
",
        ),
    );
    let out = wfr_with(
        &["run", "d", "--output", "json"],
        dir.path(),
        None,
        &[("WFC_TEST_VOLUME", "./from-env")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ann/in/file")).expect("param folder"),
        "p\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("from-env/x/file")).expect("env folder"),
        "e\n"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains('$')),
        "no folder named after a template: {names:?}"
    );
    // A param that leads outside is refused once rendered.
    let out = wfr(
        &["run", "d", "--output", "json", "-p", "who=../escape"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let message = context(&out)["jobs"]["j"]["stages"]["box"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert_eq!(
        message,
        "volume `./../escape/in` is outside the working directory"
    );
}

/// A `:` in a host path is a character of a folder's name, not a separator that
/// could name another host path or mount options.
#[test]
fn a_colon_in_a_host_path_is_part_of_the_name() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Box
          id: box
          image: wfc-test/busybox
          tag: '1'
          volume: {'./a:b': /c, './x:/etc': /y}
          command: 'echo c > /c/f; echo y > /y/g'
",
        ),
    );
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a:b/f")).expect("a:b"),
        "c\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("x:/etc/g")).expect("x:/etc"),
        "y\n"
    );
}

/// A container that ignores SIGTERM is killed when the grace period is over: a
/// stage timeout ends the stage, and its container, within seconds.
#[test]
fn a_container_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/d.yml",
        &flow(
            "        - name: Stubborn
          id: stubborn
          image: wfc-test/busybox
          tag: '1'
          timeout: 1
          command: \"trap '' TERM; echo ready; while true; do sleep 1; done\"
",
        ),
    );
    let started = Instant::now();
    let out = wfr(&["run", "d", "--output", "json"], dir.path(), None);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["stubborn"]["errors"]["name"],
        "StageTimeoutError"
    );
    // 1 s of timeout, 2 s of grace, and the engine's requests.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(containers_of(&run_id(dir.path())).is_empty());
}

/// The id of the run in progress under `dir` (its `.partial` folder).
pub(crate) fn partial_run_id(dir: &Path) -> String {
    std::fs::read_dir(dir.join(".wfc/runs"))
        .expect("runs")
        .find_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            Some(
                name.strip_prefix('.')?
                    .strip_suffix(".partial")?
                    .to_string(),
            )
        })
        .expect("a run in progress")
}

/// Waits until run `id` has no container left, at most `limit`.
pub(crate) fn containers_go(id: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let left = containers_of(id);
        if left.is_empty() {
            return;
        }
        assert!(started.elapsed() < limit, "containers left: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn long_container(dir: &Path) {
    write(
        dir,
        "conf/d.yml",
        &flow(
            "        - name: Long
          image: wfc-test/busybox
          tag: '1'
          volume: {./data: /d}
          command: 'touch /d/up; sleep 120'
",
        ),
    );
    write(
        dir,
        "conf/quick.yml",
        "quick:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: hi, echo: hi}\n",
    );
}

/// SIGKILL gives wfr no time: its guard removes its containers.
#[test]
fn when_wfr_is_killed_its_guard_removes_its_containers() {
    let _engine = ready();
    let dir = tempfile::tempdir().expect("tempdir");
    long_container(dir.path());
    let run = start(&["run", "d"], dir.path());
    wait_for(&dir.path().join("data/up"));
    let id = partial_run_id(dir.path());
    assert_eq!(containers_of(&id).len(), 1);
    run.signal(nix::sys::signal::Signal::SIGKILL);
    run.end_within(Duration::from_secs(5));
    containers_go(&id, Duration::from_secs(20));
}

/// When the guard dies with wfr, the next wfr that starts removes the containers
/// its scratch folder notes.
#[test]
fn the_next_wfr_removes_the_containers_of_one_killed_with_its_guard() {
    let _alone = ready_alone();
    let dir = tempfile::tempdir().expect("tempdir");
    long_container(dir.path());
    let tmp = private_tmp(dir.path());
    let run = start_with(&["run", "d"], dir.path(), &[("TMPDIR", &tmp)]);
    let pid = run.child.id();
    wait_for(&dir.path().join("data/up"));
    let id = partial_run_id(dir.path());
    let guard = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .collect::<Vec<_>>()
        })
        .find(|c| {
            std::fs::read(format!("/proc/{c}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == b"guard"))
        })
        .expect("wfr started a guard before the container");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(guard),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the guard");
    run.signal(nix::sys::signal::Signal::SIGKILL);
    run.end_within(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(containers_of(&id).len(), 1, "left behind, for the next wfr");
    let out = wfr_with(&["run", "quick"], dir.path(), None, &[("TMPDIR", &tmp)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    containers_go(&id, Duration::from_secs(20));
}
