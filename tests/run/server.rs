//! `wfr server`'s API: workflows, runs started, followed by SSE to their end,
//! stopped and run again; params checked as `wfr run` checks them; auth.

use std::time::Duration;

use crate::server_support::{Served, serve};
use crate::support;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A refused start: its arguments, environment and what it says.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn the_workflows_with_params_schedules_and_graph() {
    let served = serve(&[], &[]);
    assert_eq!(served.get("/healthz").json()["status"], "ok");
    let list = served.get("/api/v1/workflows");
    assert_eq!(list.status, 200, "{list:?}");
    let list = list.json();
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|w| w["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let hello = list
        .as_array()
        .expect("a list")
        .iter()
        .find(|w| w["name"] == "hello")
        .expect("hello");
    assert_eq!(hello["desc"], "Greets someone, then counts.");
    assert_eq!(hello["params"][0]["name"], "who");
    assert_eq!(hello["params"][0]["type"], "str");
    assert_eq!(hello["params"][0]["default"], "world");
    assert_eq!(hello["params"][1]["type"], "int");
    assert_eq!(hello["params"][1]["default"], 1);
    assert_eq!(
        hello["params"][2]["options"],
        serde_json::json!(["calm", "loud"])
    );
    assert_eq!(hello["last_run"], serde_json::Value::Null);
    let nightly = served.get("/api/v1/workflows/nightly").json();
    assert_eq!(nightly["schedules"][0]["cron"], "0 3 * * *");
    let next: jiff::Timestamp = nightly["next_tick"]
        .as_str()
        .expect("a next tick")
        .parse()
        .expect("a time");
    assert!(next > jiff::Timestamp::now());
    assert_eq!(next.as_second() % 86_400, 3 * 3600, "{next}");
    // The graph: jobs and what they need.
    let detail = served.get("/api/v1/workflows/hello").json();
    let jobs = detail["jobs"].as_array().expect("jobs");
    let count = jobs.iter().find(|j| j["id"] == "count").expect("count");
    assert_eq!(count["needs"], serde_json::json!(["greet"]));
    assert_eq!(count["stages"][0]["kind"], "bash");
    // Unknown: 404 with a "did you mean".
    let missing = served.get("/api/v1/workflows/helo");
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["error"]
            .as_str()
            .expect("a message")
            .contains("hello"),
        "{missing:?}"
    );
}

#[test]
fn a_run_starts_at_once_and_is_followed_to_its_end_by_sse_alone() {
    let served = serve(&[], &[]);
    let started = served.post(
        "/api/v1/workflows/hello/runs",
        r#"{"params": {"who": "ada", "times": 3}}"#,
    );
    assert_eq!(started.status, 202, "{started:?}");
    let body = started.json();
    let id = body["run_id"].as_str().expect("an id").to_string();
    assert_eq!(body["events"], format!("/api/v1/runs/{id}/events"));
    // The events: the run's, in order, each with its line's number, then `end`.
    let events = served.events(&id, None, Duration::from_secs(60));
    let names: Vec<&str> = events.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"run_started"), "{names:?}");
    assert_eq!(names.last(), Some(&"end"), "{names:?}");
    assert!(names.contains(&"job_ended"), "{names:?}");
    let ids: Vec<u64> = events
        .iter()
        .filter_map(|(_, id, _)| id.as_deref()?.parse().ok())
        .collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let end: serde_json::Value =
        serde_json::from_str(&events.last().expect("end").2).expect("JSON");
    assert_eq!(end["status"], "SUCCESS", "{end}");
    assert_eq!(end["context"]["params"]["who"], "ada");
    assert_eq!(end["context"]["params"]["times"], 3);
    let lines: Vec<&str> = events
        .iter()
        .filter(|(n, _, _)| n == "line")
        .map(|(_, _, d)| d.as_str())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("counted 3 for ada")),
        "{lines:?}"
    );
    // Replayed when it is over; resumed after Last-Event-ID.
    let again = served.events(&id, None, Duration::from_secs(30));
    assert_eq!(again.len(), events.len());
    let after = served.events(&id, Some(3), Duration::from_secs(30));
    assert_eq!(after.len(), events.len() - 3);
    assert_eq!(after[0].1.as_deref(), Some("4"));
    // The run, its jobs and stages, and its log.
    let run = served.get(&format!("/api/v1/runs/{id}")).json();
    assert_eq!(run["status"], "SUCCESS");
    assert_eq!(run["workflow"], "hello");
    let jobs: Vec<&str> = run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id"))
        .collect();
    assert_eq!(jobs, ["greet", "count"]);
    assert_eq!(run["jobs"][1]["stages"][0]["name"], "Count");
    assert_eq!(run["jobs"][1]["stages"][0]["status"], "SUCCESS");
    let log = served.get(&format!("/api/v1/runs/{id}/logs"));
    assert_eq!(log.status, 200);
    assert!(log.body.contains("counted 3 for ada"), "{}", log.body);
    let json = served.get(&format!("/api/v1/runs/{id}/logs?format=json"));
    assert_eq!(support::json_lines(&json.body).len(), events.len() - 1);
    // The run is in the history that `wfr runs` reads.
    let out = support::wfr(&["runs", "--output", "json"], served.dir(), None);
    assert!(
        support::stdout(&out).contains(&id),
        "{}",
        support::stdout(&out)
    );
}

#[test]
fn params_are_checked_as_wfr_run_checks_them() {
    let served = serve(&[], &[]);
    let cases = [
        (
            r#"{"params": {"who": "x", "tims": 2}}"#,
            422,
            "did you mean `times`",
        ),
        (r#"{"params": {"times": "many"}}"#, 422, "param `times`"),
        (r#"{"params": {"mood": "angry"}}"#, 422, "param `mood`"),
        (r#"{"params": [1]}"#, 400, "`params` is a JSON object"),
        (r#"{"parms": {}}"#, 400, "unknown field `parms`"),
        ("{", 400, "not JSON"),
    ];
    for (body, status, says) in cases {
        let answer = served.post("/api/v1/workflows/hello/runs", body);
        assert_eq!(answer.status, status, "{body}: {answer:?}");
        let error = answer.json()["error"]
            .as_str()
            .expect("an error")
            .to_string();
        assert!(error.contains(says), "{body}: {error}");
    }
    // The same message as `wfr run` gives.
    let out = support::wfr(
        &["run", "hello", "-p", "tims=2"],
        served.dir(),
        Some(&served.dir().join("conf")),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::stderr(&out)
            .contains("workflow `hello`: unknown param `tims`: did you mean `times`"),
        "{}",
        support::stderr(&out)
    );
    let unknown = served.post("/api/v1/workflows/nope/runs", "{}");
    assert_eq!(unknown.status, 404);
    // Nothing was started by a refused request.
    let runs = served.get("/api/v1/runs").json();
    assert_eq!(runs["runs"].as_array().expect("runs").len(), 0, "{runs}");
}

#[test]
fn a_failed_run_says_why_and_is_run_again() {
    let served = serve(&[], &[]);
    let id = served.start_run("broken", "{}");
    let run = served.wait_end(&id, Duration::from_secs(60));
    assert_eq!(run["status"], "FAILED");
    let errors = run["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("the disk is on fire"))),
        "{errors:?}"
    );
    assert_eq!(run["jobs"][1]["id"], "after");
    assert!(run["jobs"][1]["not_run"].is_string(), "{}", run["jobs"]);
    // Rerun: a new run, linked to it.
    let again = served.post(&format!("/api/v1/runs/{id}/rerun"), "");
    assert_eq!(again.status, 202, "{again:?}");
    let new = again.json()["run_id"].as_str().expect("an id").to_string();
    assert_ne!(new, id);
    let rerun = served.wait_end(&new, Duration::from_secs(60));
    assert_eq!(rerun["rerun_of"], id.as_str());
    assert_eq!(rerun["status"], "FAILED");
    // It ran: its failed job again, from its record.
    assert_eq!(rerun["jobs"][0]["id"], "first", "{rerun}");
    assert_eq!(rerun["jobs"][0]["stages"][0]["status"], "FAILED", "{rerun}");
    assert_eq!(rerun["context"]["status"], "FAILED", "{rerun}");
    // A run that succeeded, or one that runs, is not run again.
    let ok = served.start_run("hello", "{}");
    served.wait_end(&ok, Duration::from_secs(60));
    let refused = served.post(&format!("/api/v1/runs/{ok}/rerun"), "");
    assert_eq!(refused.status, 409, "{refused:?}");
    let missing = served.post("/api/v1/runs/nope/rerun", "");
    assert_eq!(missing.status, 404);
}

#[test]
fn a_long_run_is_stopped_and_the_history_filters_and_pages() {
    let served = serve(&[], &[]);
    let id = served.start_run("slow", r#"{"seconds": 120}"#);
    served.wait_run(&id, |run| {
        run["jobs"][0]["stages"][0]["status"].is_null()
            && run["jobs"][0]["stages"][0]["name"] == "Sleep"
    });
    let stop = served.post(&format!("/api/v1/runs/{id}/stop"), "");
    assert_eq!(stop.status, 202, "{stop:?}");
    let run = served.wait_end(&id, Duration::from_secs(30));
    assert_eq!(run["status"], "CANCEL", "{run}");
    let again = served.post(&format!("/api/v1/runs/{id}/stop"), "");
    assert_eq!(again.status, 409, "{again:?}");
    // The history: filtered, paged.
    for _ in 0..3 {
        let run = served.start_run("hello", "{}");
        served.wait_end(&run, Duration::from_secs(60));
    }
    let all = served.get("/api/v1/runs").json();
    assert_eq!(all["runs"].as_array().expect("runs").len(), 4);
    let hello = served.get("/api/v1/runs?workflow=hello&limit=2").json();
    assert_eq!(hello["runs"].as_array().expect("runs").len(), 2);
    assert_eq!(hello["next_offset"], 2);
    let rest = served
        .get("/api/v1/runs?workflow=hello&limit=2&offset=2")
        .json();
    assert_eq!(rest["runs"].as_array().expect("runs").len(), 1);
    assert!(rest["next_offset"].is_null());
    let cancelled = served.get("/api/v1/runs?status=cancel").json();
    assert_eq!(cancelled["runs"][0]["run_id"], id.as_str());
    let bad = served.get("/api/v1/runs?status=DONE");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("SUCCESS"), "{bad:?}");
    // The workflow's last run.
    let hello = served.get("/api/v1/workflows/hello").json();
    assert_eq!(hello["last_run"]["status"], "SUCCESS");
}

#[test]
fn stopping_the_server_cancels_the_runs_it_started() {
    let mut served = serve(&["--grace", "10s"], &[]);
    let id = served.start_run("slow", r#"{"seconds": 120}"#);
    served.wait_run(&id, |run| run["jobs"][0]["stages"][0]["name"] == "Sleep");
    let ended = served.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let out = support::wfr(&["show", &id, "--output", "json"], served.dir(), None);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["status"], "CANCEL", "{shown}");
}

#[test]
fn auth_refuses_what_it_should() {
    let served = serve(&[], &[("WFR_SERVER_TOKEN", TOKEN)]);
    assert!(
        served.said().contains("auth: bearer token"),
        "{}",
        served.said()
    );
    // /healthz is open; nothing else is.
    assert_eq!(served.get_as("/healthz", None).status, 200);
    for path in [
        "/api/v1/workflows",
        "/api/v1/runs",
        "/api/v1/openapi.json",
        "/api/v1/runs/x/events",
    ] {
        let answer = served.get_as(path, None);
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer realm=\"wfr\"")
        );
        assert!(answer.body.contains("Bearer"), "{answer:?}");
        assert_eq!(
            served
                .get_as(path, Some("0123456789abcdef0123456789abcdeX"))
                .status,
            401
        );
    }
    let refused = served.post_as("/api/v1/workflows/hello/runs", "{}", None);
    assert_eq!(refused.status, 401);
    let refused = served.post_as("/api/v1/workflows/hello/runs", "{}", Some("nope"));
    assert_eq!(refused.status, 401);
    assert_eq!(served.get("/api/v1/workflows").status, 200);
    // A page without the token goes to the login page.
    let page = served.get_as("/runs", None);
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.header("location"), Some("/login?next=/runs"));
    // No run was started by the refused requests.
    assert_eq!(
        served.get("/api/v1/runs").json()["runs"],
        serde_json::json!([])
    );
}

#[test]
fn auth_is_required_off_loopback_and_no_auth_is_loopback_only() {
    let dir = tempfile::tempdir().expect("a workspace");
    let cases: [Case<'_>; 4] = [
        (&["--listen", "0.0.0.0:0"], &[], "needs a token"),
        (
            &["--listen", "0.0.0.0:0", "--no-auth"],
            &[],
            "loopback address only",
        ),
        (&["--no-auth"], &[("WFR_SERVER_TOKEN", TOKEN)], "drop one"),
        (
            &["--listen", "0.0.0.0:0"],
            &[("WFR_SERVER_TOKEN", "short")],
            "at least 16",
        ),
    ];
    for (args, envs, says) in cases {
        let mut all = vec!["server"];
        all.extend(args);
        let out = support::wfr_with(&all, dir.path(), None, envs);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            support::stderr(&out).contains(says),
            "{args:?}: {}",
            support::stderr(&out)
        );
    }
    // With a token file, off loopback: it serves, with auth.
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    let served = crate::server_support::serve_in(
        tempfile::tempdir().expect("a workspace"),
        &[
            "--listen",
            "0.0.0.0:0",
            "--token-file",
            token.to_str().expect("UTF-8"),
        ],
        &[],
    );
    let url = served.url.replace("0.0.0.0", "127.0.0.1");
    let open = Served {
        started: None,
        url,
        token: None,
        dir: tempfile::tempdir().expect("a folder"),
    };
    assert_eq!(open.get("/api/v1/runs").status, 401);
    assert_eq!(open.get_as("/api/v1/runs", Some(TOKEN)).status, 200);
}

#[test]
fn the_openapi_document_lists_the_api() {
    let served = serve(&[], &[]);
    let doc = served.get("/api/v1/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(
        doc["openapi"]
            .as_str()
            .expect("a version")
            .starts_with("3.")
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/workflows",
        "/api/v1/workflows/{name}",
        "/api/v1/workflows/{name}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/stop",
        "/api/v1/runs/{id}/rerun",
        "/api/v1/runs/{id}/events",
        "/api/v1/runs/{id}/logs",
        "/healthz",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing: {:?}",
            paths.keys()
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn cors_is_off_unless_an_origin_is_given() {
    let served = serve(&[], &[]);
    let answer = served.get("/api/v1/runs");
    assert_eq!(answer.header("access-control-allow-origin"), None);
    drop(served);
    let served = serve(&["--cors-origin", "https://ci.example.com"], &[]);
    let request = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(format!("{}/api/v1/runs", served.url))
        .header("Origin", "https://ci.example.com")
        .call()
        .expect("an answer");
    assert_eq!(
        request
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://ci.example.com")
    );
    let out = support::wfr(
        &["server", "--cors-origin", "ci.example.com"],
        served.dir(),
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::stderr(&out).contains("an origin is"),
        "{}",
        support::stderr(&out)
    );
}

#[test]
fn ten_thousand_runs_are_paged() {
    let dir = tempfile::tempdir().expect("a workspace");
    let runs = dir.path().join(".wfc/runs");
    std::fs::create_dir_all(&runs).expect("runs");
    drop(wfc_runtime::store::open(&runs).expect("the store"));
    let mut db = rusqlite::Connection::open(dir.path().join(".wfc/wfc.db")).expect("the database");
    let tx = db.transaction().expect("a transaction");
    let start = jiff::Timestamp::now().as_microsecond() - 20_000 * 1_000_000;
    for i in 0..10_000i64 {
        tx.execute(
            "INSERT INTO runs (run_id, workflow, state, started, ended, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                format!("run{i:05}"),
                if i % 2 == 0 { "hello" } else { "broken" },
                if i % 2 == 0 { "SUCCESS" } else { "FAILED" },
                start + i * 1_000_000,
                start + i * 1_000_000 + 500_000,
                runs.join(format!("run{i:05}")).to_string_lossy(),
            ],
        )
        .expect("a row");
    }
    tx.commit().expect("committed");
    drop(db);
    let served = crate::server_support::serve_in(dir, &[], &[]);
    // The first page: the newest 50, and a link to older ones.
    let page = served.get("/runs");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.body.matches("<tr>").count(),
        51,
        "50 runs and the header"
    );
    assert!(page.body.contains("run09999") && !page.body.contains("run09949"));
    assert!(page.body.contains("rel=\"next\" href=\"/runs?offset=50\""));
    // The last page: the oldest, no link further.
    let last = served.get("/runs?offset=9990&status=FAILED");
    assert_eq!(last.status, 200);
    assert!(!last.body.contains("rel=\"next\""));
    let last = served.get("/runs?offset=4990&status=FAILED");
    assert_eq!(last.body.matches("<tr>").count(), 11, "{}", last.body);
    assert!(last.body.contains("run00001") && !last.body.contains("rel=\"next\""));
    // The API pages at most 500 at once.
    let api = served.get("/api/v1/runs?limit=100000").json();
    assert_eq!(api["runs"].as_array().expect("runs").len(), 500);
    assert_eq!(api["next_offset"], 500);
    // The workflows page reads one run per workflow.
    let workflows = served.get("/");
    assert!(workflows.body.contains("run09998"), "hello's last run");
}

#[test]
fn bad_requests_are_answered_in_the_apis_shape() {
    let served = serve(&[], &[]);
    for (path, status) in [
        ("/api/v1/runs?limit=abc", 400),
        ("/api/v1/runs/%FF/events", 400),
        ("/api/v1/nothing", 404),
        ("/api/v1/runs/x/logs?format=xml", 400),
    ] {
        let answer = served.get(path);
        assert_eq!(answer.status, status, "{path}: {answer:?}");
        assert!(answer.json()["error"].is_string(), "{path}: {answer:?}");
    }
    // A body over 1 MiB is refused once 1 MiB of it is read (the rest, still
    // being sent, is not).
    let address = served.url.trim_start_matches("http://").to_string();
    let stream = std::net::TcpStream::connect(&address).expect("connected");
    let mut writer = stream.try_clone().expect("a second handle");
    let sender = std::thread::spawn(move || {
        use std::io::Write as _;
        let body = format!("{{\"params\": {{\"who\": \"{}\"}}}}", "x".repeat(3 << 20));
        let head = format!(
            "POST /api/v1/workflows/hello/runs HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body.as_bytes()));
    });
    let status = first_line_status(stream);
    let _ = sender.join();
    assert_eq!(status, 413);
    let page = served.get("/runs?offset=-1");
    assert_eq!(page.status, 400);
    assert!(page.body.contains("<!DOCTYPE html>"), "{}", page.body);
    let page = served.get("/nowhere");
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("there is no page /nowhere"),
        "{}",
        page.body
    );
}

#[test]
fn a_run_whose_wfr_is_killed_is_marked_lost() {
    let served = serve(&[], &[]);
    let id = served.start_run("slow", r#"{"seconds": 120}"#);
    let run = served.wait_run(&id, |run| run["jobs"][0]["stages"][0]["name"] == "Sleep");
    assert_eq!(run["status"], "RUNNING");
    // Its wfr: the process given `--run-id ID`.
    let pid: i32 = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| {
                let args: Vec<&[u8]> = line.split(|b| *b == 0).collect();
                args.windows(2)
                    .any(|w| w[0] == b"--run-id" && w[1] == id.as_bytes())
            })
        })
        .expect("the run's wfr");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("killed");
    let run = served.wait_end(&id, Duration::from_secs(40));
    assert_eq!(run["status"], "LOST", "{run}");
}

#[test]
fn a_run_its_wfr_refuses_is_in_the_history_failed_with_why() {
    // Every `wfr` the server starts inherits a logging filter that does not parse.
    let served = serve(&[], &[("WFR_LOG", "loud")]);
    let id = served.start_run("hello", "{}");
    let run = served.wait_end(&id, Duration::from_secs(60));
    assert_eq!(run["status"], "FAILED", "{run}");
    let errors = run["errors"].to_string();
    assert!(errors.contains("loud"), "{errors}");
    assert!(
        served.said().contains(&format!("run {id} did not start")),
        "{}",
        served.said()
    );
    let out = support::wfr(&["runs", "--output", "json"], served.dir(), None);
    assert!(
        support::stdout(&out).contains(&id),
        "{}",
        support::stdout(&out)
    );
}

/// A raw HTTP/1.1 request (any `Host`), and the status line's code.
fn raw_status(url: &str, request: &str) -> u16 {
    use std::io::Write as _;
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connected");
    stream.write_all(request.as_bytes()).expect("sent");
    first_line_status(stream)
}

/// The status code of the answer coming on `stream`.
fn first_line_status(mut stream: std::net::TcpStream) -> u16 {
    use std::io::Read as _;
    // The status line is enough: a server that refused a body as it was
    // announced may wait for it before it closes.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut answer = String::new();
    let mut buffer = [0u8; 1024];
    while !answer.contains("\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.push_str(&String::from_utf8_lossy(&buffer[..n])),
        }
    }
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"))
}

#[test]
fn another_site_cannot_start_runs_through_a_browser() {
    let served = serve(&[], &[]);
    let host = served.url.trim_start_matches("http://").to_string();
    let post = |headers: &str, body: &str| {
        raw_status(
            &served.url,
            &format!(
                "POST /api/v1/workflows/hello/runs HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    // A plain form of another site (text/plain, no preflight) is refused...
    assert_eq!(
        post(
            "Origin: http://evil.example\r\nContent-Type: text/plain\r\n",
            "{}"
        ),
        403
    );
    assert_eq!(post("Sec-Fetch-Site: cross-site\r\n", "{}"), 403);
    assert_eq!(
        raw_status(
            &served.url,
            &format!(
                "POST /workflows/hello/run HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        ),
        403
    );
    // ... as is a name of another site pointed at loopback (DNS rebinding).
    let server_port = host.rsplit(':').next().expect("a port");
    assert_eq!(
        raw_status(
            &served.url,
            &format!(
                "GET /api/v1/runs HTTP/1.1\r\nHost: evil.example:{server_port}\r\nConnection: close\r\n\r\n"
            )
        ),
        403
    );
    assert_eq!(
        raw_status(
            &served.url,
            &format!(
                "GET /api/v1/runs HTTP/1.1\r\nHost: localhost:{server_port}\r\nConnection: close\r\n\r\n"
            )
        ),
        200
    );
    assert_eq!(
        served.get("/api/v1/runs").json()["runs"],
        serde_json::json!([])
    );
    // The server's own pages (same origin) and clients without Origin may.
    assert_eq!(post(&format!("Origin: http://{host}\r\n"), "{}"), 202);
    assert_eq!(post("", "{}"), 202);
}
