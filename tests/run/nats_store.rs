//! The run store on NATS JetStream (`--store nats://…`), against real
//! `nats-server` processes (`nats_support`): the store's contract on both
//! backends, claims raced by many connections and processes, two schedulers on
//! a 3-node cluster, and a NATS that cannot be reached.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use wfc_runtime::store::nats::{Address, Nats};
use wfc_runtime::store::sqlite::Sqlite;
use wfc_runtime::store::{Claim, Claimer, RunQuery, RunRow, RunState, Store};

use crate::nats_support::{NatsCluster, NatsServer, free_port};
use crate::orchestration::{fired, offset_before_tick};
use crate::support::{Started, start_with, stderr, stdout, wfr_with, write};

fn t(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn row(id: &str, workflow: &str, started: &str) -> RunRow {
    RunRow {
        run_id: id.into(),
        workflow: workflow.into(),
        state: RunState::Running,
        release: None,
        started: t(started),
        ended: None,
        rerun_of: None,
        record: PathBuf::from(format!("/r/{id}")),
        owner: Some("h/b/1/2".into()),
    }
}

fn nats(url: &str, token: &str) -> Nats {
    Nats::open(Address::parse(url, Some(token)).expect("an address")).expect("a NATS store")
}

fn sqlite(dir: &Path) -> Sqlite {
    Sqlite::open(&dir.join(".wfc/wfc.db"), &dir.join(".wfc/runs")).expect("a store")
}

/// Each contract check on a fresh store of each backend.
fn on_both(check: fn(&dyn Store)) {
    let dir = tempfile::tempdir().expect("a folder");
    check(&sqlite(dir.path()));
    let Some(server) = NatsServer::start() else {
        return;
    };
    check(&nats(&server.url(), server.token()));
}

fn listing(store: &dyn Store) {
    for (id, workflow, started) in [
        ("a", "w1", "2026-01-01T00:00:00Z"),
        ("b", "w2", "2026-01-02T00:00:00Z"),
        ("c", "w1", "2026-01-03T00:00:00Z"),
    ] {
        store.add_run(&row(id, workflow, started)).expect("added");
    }
    store
        .add_run(&row("a", "w1", "2026-01-01T00:00:00Z"))
        .expect_err("a run id is added once");
    store
        .end_run("a", RunState::Failed, t("2026-01-01T00:01:00Z"))
        .expect("ended");
    let all = store
        .runs(&RunQuery {
            limit: 10,
            ..RunQuery::default()
        })
        .expect("runs");
    let ids: Vec<&str> = all.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["c", "b", "a"]);
    assert_eq!(all[2].state, RunState::Failed);
    assert_eq!(all[2].ended, Some(t("2026-01-01T00:01:00Z")));
    assert_eq!(all[0], row("c", "w1", "2026-01-03T00:00:00Z"));
    let w1 = store
        .runs(&RunQuery {
            workflow: Some("w1".into()),
            state: Some(RunState::Running),
            since: Some(t("2026-01-02T00:00:00Z")),
            limit: 10,
            offset: 0,
        })
        .expect("runs");
    assert_eq!(w1.len(), 1);
    assert_eq!(w1[0].run_id, "c");
    assert_eq!(store.active("w1").expect("active"), 1);
    assert_eq!(store.active("w2").expect("active"), 1);
    assert_eq!(store.active("w3").expect("active"), 0);
    let open: Vec<String> = store
        .open_runs()
        .expect("open")
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(open, ["b", "c"], "oldest first");
    let limited = store
        .runs(&RunQuery {
            limit: 1,
            ..RunQuery::default()
        })
        .expect("runs");
    assert_eq!(limited.len(), 1);
    // A page further on: the newest passed over.
    let page = store
        .runs(&RunQuery {
            limit: 1,
            offset: 1,
            ..RunQuery::default()
        })
        .expect("runs");
    assert_eq!(
        page.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    let past = store
        .runs(&RunQuery {
            limit: 5,
            offset: 9,
            ..RunQuery::default()
        })
        .expect("runs");
    assert!(past.is_empty());
    assert_eq!(
        store.run("b").expect("read").map(|r| r.workflow),
        Some("w2".into())
    );
    assert_eq!(store.run("nope").expect("read"), None);
}

fn claims(store: &dyn Store) {
    let at = t("2026-03-01T00:00:00Z");
    let claim = |workflow: &str, id: &str, by: Claimer, force: bool| {
        store
            .claim_release(workflow, at, id, by, force)
            .expect("claim")
    };
    assert_eq!(claim("w", "r1", Claimer::Release, false), Claim::Claimed);
    assert_eq!(
        claim("w", "r2", Claimer::Scheduler, false),
        Claim::Taken {
            run_id: "r1".into()
        }
    );
    // Another workflow's same time is its own.
    assert_eq!(claim("v", "r3", Claimer::Release, false), Claim::Claimed);
    assert_eq!(claim("w", "r4", Claimer::Release, true), Claim::Claimed);
    assert_eq!(store.released_as("w", at).expect("read"), Some("r4".into()));
    // The scheduler's refused claim still moved its last tick.
    assert_eq!(store.last_tick("w").expect("read"), Some(at));
    store
        .pass_tick("w", t("2026-02-01T00:00:00Z"))
        .expect("passed");
    assert_eq!(store.last_tick("w").expect("read"), Some(at), "never back");
    store
        .pass_tick("w", t("2026-04-01T00:00:00Z"))
        .expect("passed");
    assert_eq!(
        store.last_tick("w").expect("read"),
        Some(t("2026-04-01T00:00:00Z"))
    );
    assert_eq!(store.last_tick("v").expect("read"), None);
    // Given back by another run id: nothing; by its own: free again.
    store.unclaim("w", at, "r1").expect("unclaimed");
    assert_eq!(store.released_as("w", at).expect("read"), Some("r4".into()));
    store.unclaim("w", at, "r4").expect("unclaimed");
    assert_eq!(store.released_as("w", at).expect("read"), None);
    assert_eq!(claim("w", "r5", Claimer::Backfill, false), Claim::Claimed);
    // Several at once, each once.
    let next = t("2026-03-01T01:00:00Z");
    let outcomes = store
        .claim_releases(
            &[
                ("w".into(), at, "r6".into()),
                ("w".into(), next, "r7".into()),
            ],
            Claimer::Scheduler,
        )
        .expect("claims");
    assert_eq!(
        outcomes,
        [
            Claim::Taken {
                run_id: "r5".into()
            },
            Claim::Claimed
        ]
    );
    // Names that are not key tokens (dots, spaces, non-ASCII) stay apart.
    for name in ["a.b", "a b", "a=2Eb", "ä", ""] {
        assert_eq!(claim(name, name, Claimer::Release, false), Claim::Claimed);
    }
    for name in ["a.b", "a b", "a=2Eb", "ä", ""] {
        assert_eq!(
            store.released_as(name, at).expect("read"),
            Some(name.into())
        );
    }
}

fn orphans(store: &dyn Store) {
    let at = t("2026-03-01T00:00:00Z");
    let now = Timestamp::now();
    for (workflow, id) in [("w", "orphan"), ("v", "started"), ("u", "by-hand")] {
        let by = if workflow == "u" {
            Claimer::Release
        } else {
            Claimer::Scheduler
        };
        assert_eq!(
            store
                .claim_release(workflow, at, id, by, false)
                .expect("claim"),
            Claim::Claimed
        );
    }
    store
        .add_run(&row("started", "v", "2026-03-01T00:00:01Z"))
        .expect("added");
    let window = |from: i64, to: i64| {
        let since = now
            .checked_add(jiff::SignedDuration::from_secs(from))
            .expect("a time");
        let before = now
            .checked_add(jiff::SignedDuration::from_secs(to))
            .expect("a time");
        store.adopt_orphans(since, before).expect("adopted")
    };
    // Claimed after this window: not yet orphans.
    assert!(window(-3600, -60).is_empty());
    assert_eq!(
        window(-60, 60),
        [("w".to_string(), at, "orphan".to_string())],
        "the scheduler's claim without its run, once"
    );
    assert!(window(-60, 60).is_empty(), "adopted once");
    assert_eq!(
        store.released_as("w", at).expect("read"),
        Some("orphan".into())
    );
}

#[test]
fn the_store_contract_holds_on_sqlite_and_nats() {
    on_both(listing);
    on_both(claims);
    on_both(orphans);
}

/// Many connections (each its own store, as `wfr`s on several machines are)
/// claiming the same ticks at once on a cluster: each goes to exactly one.
#[test]
fn racing_claims_on_a_cluster_release_each_tick_once() {
    let Some(cluster) = NatsCluster::start(3) else {
        return;
    };
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let url = cluster.url(worker % 3);
            let token = cluster.token().to_string();
            std::thread::spawn(move || {
                let store = nats(&url, &token);
                let mut won = Vec::new();
                for minute in 0..40 {
                    let at = Timestamp::from_second(60 * minute).expect("a time");
                    let id = format!("{worker}-{minute}");
                    let outcome = store
                        .claim_releases(&[("w".into(), at, id.clone())], Claimer::Scheduler)
                        .expect("claim");
                    if outcome == [Claim::Claimed] {
                        won.push((minute, id));
                    }
                }
                won
            })
        })
        .collect();
    let mut all: Vec<(i64, String)> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a worker"))
        .collect();
    all.sort();
    let minutes: Vec<i64> = all.iter().map(|(m, _)| *m).collect();
    assert_eq!(minutes, (0..40).collect::<Vec<_>>());
    // What the store says is who won.
    let store = nats(&cluster.urls(), cluster.token());
    for (minute, id) in &all {
        let at = Timestamp::from_second(60 * minute).expect("a time");
        assert_eq!(store.released_as("w", at).expect("read").as_ref(), Some(id));
    }
    assert_eq!(
        store.last_tick("w").expect("read"),
        Some(Timestamp::from_second(60 * 39).expect("a time"))
    );
}

/// The buckets of a store on a 3-node cluster have 3 replicas; on one server, 1.
#[test]
fn buckets_are_replicated_on_a_cluster() {
    let Some(cluster) = NatsCluster::start(3) else {
        return;
    };
    drop(nats(&cluster.url(0), cluster.token()));
    assert_eq!(
        replicas(&cluster.url(1), cluster.token(), "wfc-releases"),
        3
    );
    assert_eq!(replicas(&cluster.url(2), cluster.token(), "wfc-runs"), 3);
    let Some(server) = NatsServer::start() else {
        return;
    };
    drop(nats(&format!("{}/team", server.url()), server.token()));
    assert_eq!(replicas(&server.url(), server.token(), "team-ticks"), 1);
}

/// The replicas of the bucket's stream, asked through JetStream.
fn replicas(url: &str, token: &str, bucket: &str) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = async_nats::ConnectOptions::with_token(token.to_string())
            .connect(url)
            .await
            .expect("connect");
        let js = async_nats::jetstream::new(client);
        let mut stream = js
            .get_stream(format!("KV_{bucket}"))
            .await
            .expect("the bucket's stream");
        stream.info().await.expect("its info").config.num_replicas
    })
}

/// `minutely` runs every minute; `hourly` is a workflow to release by hand.
fn workspace(dir: &Path) {
    write(
        dir,
        "conf/w.yml",
        r#"
minutely:
  type: Workflow
  on:
    schedule:
      - cronjob: "* * * * *"
  jobs:
    j:
      stages:
        - name: s
          bash: echo ran >> ran.txt
hourly:
  type: Workflow
  on:
    schedule:
      - cronjob: "0 * * * *"
  jobs:
    j:
      stages:
        - name: s
          bash: echo ran >> ran.txt
"#,
    );
}

/// `wfr runs --output json` of the store `store`.
fn runs_json(dir: &Path, store: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "runs", "--output", "json", "--limit", "100", "--store", store,
    ];
    args.extend_from_slice(extra);
    let out = wfr_with(&args, dir, None, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// Two schedulers, each in a workspace of its own (two machines) and each
/// talking to another node of a 3-node cluster, the token from
/// `$WFR_NATS_TOKEN`: a real tick fires once between them, its run is in the
/// shared history, and no SQLite history was made.
#[test]
fn two_schedulers_on_a_cluster_fire_a_tick_once() {
    let Some(cluster) = NatsCluster::start(3) else {
        return;
    };
    let machines = [
        tempfile::tempdir().expect("a folder"),
        tempfile::tempdir().expect("a folder"),
    ];
    for dir in &machines {
        workspace(dir.path());
    }
    // The buckets made first (as after a first use), so that neither
    // scheduler spends its lead before the tick making them.
    drop(nats(&cluster.urls(), cluster.token()));
    let offset = offset_before_tick(4.0);
    let token = cluster.token().to_string();
    let schedulers: Vec<Started> = machines
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let url = cluster.url(i);
            start_with(
                &[
                    "schedule",
                    "--clock-offset",
                    &offset,
                    "--log-format",
                    "json",
                    "--for",
                    "7s",
                    "--store",
                    &url,
                ],
                dir.path(),
                &[("WFR_NATS_TOKEN", token.as_str())],
            )
        })
        .collect();
    let ended: Vec<_> = schedulers
        .into_iter()
        .map(|s| s.end_within(Duration::from_secs(40)))
        .collect();
    let all_stderr = format!("{}\n---\n{}", ended[0].stderr, ended[1].stderr);
    for e in &ended {
        assert_eq!(e.code, Some(0), "{all_stderr}");
    }
    let minutely: Vec<serde_json::Value> = ended
        .iter()
        .flat_map(|e| fired(&e.stderr))
        .filter(|f| f["workflow"] == "minutely")
        .collect();
    assert_eq!(minutely.len(), 1, "{all_stderr}");
    let store = cluster.urls_with_token();
    let history = || runs_json(machines[0].path(), &store, &["--workflow", "minutely"]);
    let started = Instant::now();
    while !history().first().is_some_and(|r| r["status"] == "SUCCESS") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the run did not end: {:?}\n{all_stderr}",
            history()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(history().len(), 1);
    // It ran on one machine, once.
    let ran: Vec<String> = machines
        .iter()
        .map(|d| std::fs::read_to_string(d.path().join("ran.txt")).unwrap_or_default())
        .collect();
    assert_eq!(ran.concat(), "ran\n", "{ran:?}");
    for dir in &machines {
        assert!(
            !dir.path().join(".wfc/wfc.db").exists(),
            "a SQLite history was made beside the NATS one"
        );
    }
}

/// Processes releasing one logical time at once through different nodes: one
/// runs it, the others say it was released.
#[test]
fn racing_releases_on_a_cluster_run_once() {
    let Some(cluster) = NatsCluster::start(3) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a folder");
    workspace(dir.path());
    // Compiled once first, so that the racers do not all compile.
    let store0 = cluster.url_with_token(0);
    let warm = wfr_with(
        &[
            "release",
            "hourly",
            "--at",
            "2026-03-01 05:00",
            "--store",
            &store0,
        ],
        dir.path(),
        None,
        &[],
    );
    assert!(warm.status.success(), "{}", stderr(&warm));
    let racers: Vec<Started> = (0..6)
        .map(|i| {
            start_with(
                &["release", "hourly", "--at", "2026-03-01 06:00"],
                dir.path(),
                &[("WFR_STORE", cluster.url_with_token(i % 3).as_str())],
            )
        })
        .collect();
    let ended: Vec<_> = racers
        .into_iter()
        .map(|r| r.end_within(Duration::from_secs(60)))
        .collect();
    let said = ended
        .iter()
        .map(|e| format!("{:?}: {}{}", e.code, e.stdout, e.stderr))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(ended.iter().all(|e| e.code == Some(0)), "{said}");
    let skipped = ended
        .iter()
        .filter(|e| e.stdout.contains("already released as"))
        .count();
    assert_eq!(skipped, 5, "{said}");
    let history = runs_json(dir.path(), &cluster.urls_with_token(), &[]);
    let at_six: Vec<_> = history
        .iter()
        .filter(|r| r["release"] == "2026-03-01T06:00:00Z")
        .collect();
    assert_eq!(at_six.len(), 1, "{history:?}");
    assert_eq!(at_six[0]["status"], "SUCCESS");
}

/// `wfr runs` against a NATS that is not there, or that never answers, or
/// refuses the token: an error naming the URL (not the token) within the
/// bound, and no SQLite history made instead.
#[test]
fn an_unreachable_nats_is_a_clear_error_within_bounded_time() {
    let dir = tempfile::tempdir().expect("a folder");
    let check = |url: &str, shown: &str, within: Duration, says: &str| {
        let started = Instant::now();
        let out = wfr_with(&["runs", "--store", url], dir.path(), None, &[]);
        let took = started.elapsed();
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(took < within, "took {took:?}: {text}");
        assert!(text.contains(shown), "{text}");
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("s3cret"), "the token is shown: {text}");
        assert!(
            !dir.path().join(".wfc/wfc.db").exists(),
            "fell back to SQLite"
        );
    };
    // Nothing listens.
    let port = free_port();
    check(
        &format!("nats://s3cret@127.0.0.1:{port}"),
        &format!("cannot reach NATS at nats://127.0.0.1:{port} within 5 s"),
        Duration::from_secs(7),
        "",
    );
    // A listener that never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = silent.local_addr().expect("its port").port();
    check(
        &format!("nats://s3cret@127.0.0.1:{port}"),
        &format!("cannot reach NATS at nats://127.0.0.1:{port} within 5 s"),
        Duration::from_secs(7),
        "",
    );
    drop(silent);
    // A server that refuses the token.
    let Some(server) = NatsServer::start() else {
        return;
    };
    check(
        &format!("nats://s3cret@127.0.0.1:{}", server.port()),
        &format!("NATS at {} refused the credentials", server.url()),
        Duration::from_secs(7),
        "WFR_NATS_TOKEN",
    );
    // Not a URL.
    check(
        "http://s3cret@example",
        "the run store http://example",
        Duration::from_secs(3),
        "nats://",
    );
}

/// A node of the cluster killed: a store connected to all of them still
/// claims (its client moves to another node, the buckets' streams elect new
/// leaders) within its bound, and sees what was claimed before; the node
/// restarted serves the same history.
#[test]
fn a_store_on_a_cluster_outlives_a_node() {
    let Some(mut cluster) = NatsCluster::start(3) else {
        return;
    };
    let store = nats(&cluster.urls(), cluster.token());
    let at = |minute: i64| Timestamp::from_second(60 * minute).expect("a time");
    let claim = |minute: i64| {
        store
            .claim_release(
                "w",
                at(minute),
                &format!("r{minute}"),
                Claimer::Scheduler,
                false,
            )
            .expect("claim")
    };
    assert_eq!(claim(0), Claim::Claimed);
    for (victim, base) in [(0, 10), (1, 20)] {
        cluster.kill(victim);
        let started = Instant::now();
        for minute in 1..4 {
            let minute = minute + base;
            assert_eq!(claim(minute), Claim::Claimed);
        }
        assert_eq!(
            store
                .claim_release("w", at(0), "another", Claimer::Scheduler, false)
                .expect("claim"),
            Claim::Taken {
                run_id: "r0".into()
            }
        );
        let took = started.elapsed();
        assert!(took < Duration::from_secs(30), "took {took:?}");
        eprintln!("claims with node {victim} killed: {took:?}");
        cluster.restart(victim);
        cluster.wait_for_jetstream(Duration::from_secs(30));
    }
    // Through the node killed first alone: the same history.
    let other = nats(&cluster.url(0), cluster.token());
    assert_eq!(
        other.released_as("w", at(0)).expect("read"),
        Some("r0".into())
    );
    assert_eq!(
        other.released_as("w", at(23)).expect("read"),
        Some("r23".into())
    );
    assert_eq!(other.last_tick("w").expect("read"), Some(at(23)));
}
