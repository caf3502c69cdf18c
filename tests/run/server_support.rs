//! A `wfr server` started for a test, on a free port of loopback, over a
//! workspace of test workflows, and a small HTTP client for it (ureq).

#![allow(dead_code)]

use std::io::BufRead as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{self, Started};

/// The workflows every server test serves.
pub const WORKFLOWS: &str = r#"
hello:
  type: Workflow
  desc: Greets someone, then counts.
  params:
    who: {type: str, default: world}
    times: {type: int, default: 1}
    mood: {type: choice, options: [calm, loud], required: false}
  jobs:
    greet:
      stages:
        - name: Greet
          id: greet
          echo: "hello ${{ params.who }}"
    count:
      needs: [greet]
      stages:
        - name: Count
          id: count
          bash: echo "counted ${{ params.times }} for ${{ params.who }}"
broken:
  type: Workflow
  jobs:
    first:
      stages:
        - name: Boom
          bash: "echo the disk is on fire >&2; exit 3"
    after:
      needs: [first]
      stages:
        - name: Never
          echo: never
slow:
  type: Workflow
  params:
    seconds: {type: int, default: 60}
  jobs:
    wait:
      stages:
        - name: Sleep
          bash: "sleep ${{ params.seconds }}"
later:
  type: Workflow
  jobs:
    first:
      stages:
        - name: Nap
          bash: sleep 2
    second:
      needs: [first]
      stages:
        - name: Sleep
          bash: sleep 120
nightly:
  type: Workflow
  on:
    schedule:
      - cronjob: "0 3 * * *"
        timezone: UTC
  jobs:
    one:
      stages:
        - name: Noop
          echo: nothing
"#;

pub struct Served {
    pub started: Option<Started>,
    pub url: String,
    pub token: Option<String>,
    pub dir: tempfile::TempDir,
}

/// Starts `wfr server conf` in a new workspace holding [`WORKFLOWS`], with
/// `args` and `envs`; waits until it listens.
pub fn serve(args: &[&str], envs: &[(&str, &str)]) -> Served {
    serve_in(tempfile::tempdir().expect("a workspace"), args, envs)
}

/// [`serve`] in `dir` (its `conf` is made with [`WORKFLOWS`] if missing).
pub fn serve_in(dir: tempfile::TempDir, args: &[&str], envs: &[(&str, &str)]) -> Served {
    if !dir.path().join("conf").exists() {
        std::fs::create_dir_all(dir.path().join("conf")).expect("conf");
        std::fs::write(dir.path().join("conf/wf.yml"), WORKFLOWS).expect("workflows");
    }
    let mut all = vec!["server", "conf"];
    if !args.contains(&"--listen") {
        all.extend(["--listen", "127.0.0.1:0"]);
    }
    all.extend(args);
    let started = support::start_with(&all, dir.path(), envs);
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        let said = started.stderr_so_far();
        if let Some(rest) = said.split("listening on ").nth(1) {
            break rest.split_whitespace().next().expect("a URL").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "wfr server did not start listening:\n{said}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let token = envs
        .iter()
        .find(|(k, _)| *k == "WFR_SERVER_TOKEN")
        .map(|(_, v)| (*v).to_string());
    Served {
        started: Some(started),
        url,
        token,
        dir,
    }
}

/// An answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build()
        .into()
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        body,
        headers,
    }
}

impl Served {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's stderr so far.
    pub fn said(&self) -> String {
        self.started
            .as_ref()
            .map(Started::stderr_so_far)
            .unwrap_or_default()
    }

    /// GET with the server's token (if it has one).
    pub fn get(&self, path: &str) -> Answer {
        self.get_as(path, self.token.as_deref())
    }

    /// GET with `token` (None: without one).
    pub fn get_as(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = agent(Duration::from_secs(30)).get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        answer(request.call())
    }

    /// POST a JSON body with the server's token.
    pub fn post(&self, path: &str, body: &str) -> Answer {
        self.post_as(path, body, self.token.as_deref())
    }

    pub fn post_as(&self, path: &str, body: &str, token: Option<&str>) -> Answer {
        let mut request = agent(Duration::from_secs(30))
            .post(format!("{}{path}", self.url))
            .header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        answer(request.send(body))
    }

    /// Starts a run of `workflow` with `params` (JSON); its id.
    pub fn start_run(&self, workflow: &str, params: &str) -> String {
        let answer = self.post(
            &format!("/api/v1/workflows/{workflow}/runs"),
            &format!("{{\"params\": {params}}}"),
        );
        assert_eq!(answer.status, 202, "{answer:?}\n{}", self.said());
        answer.json()["run_id"]
            .as_str()
            .expect("a run id")
            .to_string()
    }

    /// The run's events, as SSE gives them, until the stream ends (at most
    /// `within`): (event name, id, data).
    pub fn events(
        &self,
        run: &str,
        last_id: Option<u64>,
        within: Duration,
    ) -> Vec<(String, Option<String>, String)> {
        let mut request = agent(within).get(format!("{}/api/v1/runs/{run}/events", self.url));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.call().expect("the events stream");
        assert_eq!(response.status().as_u16(), 200);
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        let mut events = Vec::new();
        let (mut name, mut id, mut data) = (String::from("message"), None, String::new());
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if line.is_empty() {
                if !data.is_empty() {
                    events.push((name.clone(), id.clone(), data.clone()));
                }
                name = "message".into();
                id = None;
                data.clear();
                continue;
            }
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        events
    }

    /// Waits (at most `within`) until the run's status is not RUNNING; the run.
    pub fn wait_end(&self, run: &str, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let answer = self.get(&format!("/api/v1/runs/{run}"));
            if answer.status == 200 {
                let run = answer.json();
                if run["status"] != "RUNNING" {
                    return run;
                }
            }
            assert!(
                Instant::now() < deadline,
                "run {run} did not end: {answer:?}\n{}",
                self.said()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `check` holds of the run (at most 30 s).
    pub fn wait_run(
        &self,
        run: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.get(&format!("/api/v1/runs/{run}"));
            if answer.status == 200 && check(&answer.json()) {
                return answer.json();
            }
            assert!(Instant::now() < deadline, "run {run}: {answer:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM) and waits for it; what it said.
    pub fn stop(&mut self) -> support::Ended {
        let started = self.started.take().expect("running");
        started.signal(nix::sys::signal::Signal::SIGTERM);
        started.end_within(Duration::from_secs(60))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            let _ = nix::sys::signal::kill(started.pid(), nix::sys::signal::Signal::SIGTERM);
            if !std::thread::panicking() {
                let _ = started.end_within(Duration::from_secs(60));
            }
        }
    }
}
