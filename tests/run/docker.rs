//! Docker stages on the real engine. `scripts/setup-tests` makes the test image
//! `wfc-test/busybox:1` and a registry with htpasswd auth on 127.0.0.1:5055 that
//! holds it (user `wfc`, password `wfc-secret`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::support::{context, run_and_terminate, stderr, wfr, wfr_with, write};

const REGISTRY: &str = "127.0.0.1:5055";

fn ready() {
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
fn containers_of(run_id: &str) -> Vec<String> {
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
fn run_id(dir: &Path) -> String {
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
    ready();
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

#[test]
fn a_failing_exit_code_fails_the_stage() {
    ready();
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
    ready();
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
    ready();
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
    ready();
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
