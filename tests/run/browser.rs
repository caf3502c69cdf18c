//! The web UI in a real browser: Debian's Chromium, headless, driven through
//! chromium-driver (WebDriver) by fantoccini. Each test starts its own
//! chromedriver on a free port and its own `wfr server`.
//!
//! `WFR_SCREENSHOTS=DIR` saves the screenshots of the three pages the README
//! shows into DIR.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::server_support::{Served, serve};

/// A chromedriver and a headless Chromium session on it.
struct Browser {
    driver: Child,
    client: Option<Client>,
    runtime: tokio::runtime::Runtime,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/setup-tests installs it)");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1200,900"
            ]}),
        );
        let client = runtime.block_on(async {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .expect("a Chromium session")
        });
        Browser {
            driver,
            client: Some(client),
            runtime,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .expect("the page loads");
    }

    fn url(&self) -> String {
        self.runtime
            .block_on(self.client().current_url())
            .expect("a URL")
            .to_string()
    }

    /// Runs `script` in the page; its value.
    fn eval(&self, script: &str) -> serde_json::Value {
        self.runtime
            .block_on(self.client().execute(script, vec![]))
            .expect("the script runs")
    }

    /// The text of the first element `css` finds ("" when none).
    fn text(&self, css: &str) -> String {
        let script = format!(
            "var e = document.querySelector({}); return e ? e.textContent : '';",
            serde_json::Value::from(css)
        );
        self.eval(&script).as_str().unwrap_or("").to_string()
    }

    /// An attribute of the first element `css` finds.
    fn attr(&self, css: &str, name: &str) -> Option<String> {
        let script = format!(
            "var e = document.querySelector({}); return e ? e.getAttribute({}) : null;",
            serde_json::Value::from(css),
            serde_json::Value::from(name)
        );
        self.eval(&script).as_str().map(str::to_string)
    }

    /// Types `text` into the field `css` (emptied first).
    fn type_into(&self, css: &str, text: &str) {
        self.runtime.block_on(async {
            let field = self
                .client()
                .find(Locator::Css(css))
                .await
                .expect("the field");
            field.clear().await.expect("cleared");
            field.send_keys(text).await.expect("typed");
        });
    }

    fn click(&self, css: &str) {
        self.runtime.block_on(async {
            self.client()
                .find(Locator::Css(css))
                .await
                .expect("the element")
                .click()
                .await
                .expect("clicked");
        });
    }

    /// Waits (at most `within`) until `check` holds; fails with what the page
    /// says otherwise.
    fn wait(&self, what: &str, within: Duration, check: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + within;
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "{what} did not happen; the page at {} says:\n{}",
                self.url(),
                self.text("main")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot as `name` into `$WFR_SCREENSHOTS`, when it is set.
    fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("WFR_SCREENSHOTS") else {
            return;
        };
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        std::fs::write(std::path::Path::new(&dir).join(name), png).expect("saved");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The computed fill of a job's box in the graph.
fn fill_of(browser: &Browser, job: &str) -> String {
    let script = format!(
        "var g = document.querySelector('svg.graph g.job[data-job={}] rect'); return g ? getComputedStyle(g).fill : '';",
        serde_json::Value::from(job)
    );
    browser.eval(&script).as_str().unwrap_or("").to_string()
}

/// The status a job of the graph says, in words.
fn graph_status(browser: &Browser, job: &str) -> String {
    browser.text(&format!("svg.graph g.job[data-job=\"{job}\"] .job-status"))
}

/// The green of a job that succeeded (`--ok-bg` of ui.css).
const GREEN: &str = "rgb(218, 251, 225)";

fn run_id_of(url: &str) -> String {
    url.rsplit('/').next().expect("an id").to_string()
}

#[test]
fn the_run_form_starts_a_run_whose_graph_turns_green() {
    let served = serve(&[], &[]);
    let browser = Browser::start();
    browser.goto(&served.url);
    assert_eq!(browser.text("h1"), "Workflows");
    // Each workflow with its schedule, next tick and a form of its params.
    let nightly = browser.text("section[data-workflow=\"nightly\"]");
    assert!(nightly.contains("0 3 * * *"), "{nightly}");
    assert!(!nightly.contains("Next tick-"), "{nightly}");
    assert_eq!(
        browser.attr("#p-hello-who", "value").as_deref(),
        Some("world"),
        "the default is filled in"
    );
    assert_eq!(
        browser.attr("#p-hello-times", "type").as_deref(),
        Some("number")
    );
    assert!(browser.text("label[for=\"p-hello-times\"]").contains("int"));
    // The form opens from its summary, by keyboard as by mouse.
    browser.click("section[data-workflow=\"hello\"] summary");
    browser.screenshot("workflows.png");
    browser.type_into("#p-hello-who", "grace");
    browser.type_into("#p-hello-times", "2");
    // Submitted from the keyboard: Enter in a field.
    browser.runtime.block_on(async {
        browser
            .client()
            .find(Locator::Css("#p-hello-who"))
            .await
            .expect("the field")
            .send_keys("\u{E007}")
            .await
            .expect("Enter");
    });
    browser.wait("the run's page", Duration::from_secs(30), |b| {
        b.url().contains("/runs/")
    });
    let id = run_id_of(&browser.url());
    browser.wait("the graph turns green", Duration::from_secs(60), |b| {
        graph_status(b, "count") == "SUCCESS" && graph_status(b, "greet") == "SUCCESS"
    });
    assert_eq!(fill_of(&browser, "count"), GREEN);
    assert_eq!(fill_of(&browser, "greet"), GREEN);
    browser.wait("the run says SUCCESS", Duration::from_secs(30), |b| {
        b.text("#run-status") == "SUCCESS"
    });
    browser.wait("the log shows the run", Duration::from_secs(30), |b| {
        b.text("#log").contains("counted 2 for grace")
    });
    // Once it ended, the page shows the run as recorded: jobs, stages, outputs.
    browser.wait("the ended run's page", Duration::from_secs(30), |b| {
        b.attr("#run", "data-running").as_deref() == Some("false")
            && b.text("#log").contains("counted 2 for grace")
    });
    let jobs = browser.text("article.job[data-job=\"count\"]");
    assert!(jobs.contains("Count") && jobs.contains("SUCCESS"), "{jobs}");
    let outputs = browser.text("article.job[data-job=\"count\"] details");
    assert!(outputs.contains("counted 2 for grace"), "{outputs}");
    let run = served.get(&format!("/api/v1/runs/{id}")).json();
    assert_eq!(run["context"]["params"]["who"], "grace");
    assert_eq!(run["context"]["params"]["times"], 2);
    browser.screenshot("run.png");
    // The run is in the history page, with its status in words.
    browser.goto(&format!("{}/runs", served.url));
    let table = browser.text("table.runs");
    assert!(table.contains(&id) && table.contains("SUCCESS"), "{table}");
}

#[test]
fn a_failing_run_shows_its_error() {
    let served = serve(&[], &[]);
    let id = served.start_run("broken", "{}");
    served.wait_end(&id, Duration::from_secs(60));
    let ok = served.start_run("hello", "{}");
    served.wait_end(&ok, Duration::from_secs(60));
    let browser = Browser::start();
    browser.goto(&format!("{}/runs/{id}", served.url));
    assert_eq!(browser.text("#run-status"), "FAILED");
    let errors = browser.text("section.errors");
    assert!(errors.contains("the disk is on fire"), "{errors}");
    assert!(errors.contains("stage Boom"), "{errors}");
    assert_eq!(graph_status(&browser, "first"), "FAILED");
    assert_ne!(fill_of(&browser, "first"), GREEN);
    // A failed run offers Rerun, not Stop.
    assert!(browser.text(".actions").contains("Rerun"));
    assert!(!browser.text(".actions").contains("Stop"));
    // The runs page filters by status.
    browser.goto(&format!("{}/runs", served.url));
    browser.runtime.block_on(async {
        browser
            .client()
            .find(Locator::Css("#f-status"))
            .await
            .expect("the status filter")
            .select_by_value("FAILED")
            .await
            .expect("selected");
    });
    browser.click(".filters button");
    browser.wait("the filtered list", Duration::from_secs(10), |b| {
        b.url().contains("status=FAILED")
    });
    let table = browser.text("table.runs");
    assert!(table.contains(&id), "{table}");
    assert!(!table.contains(&ok), "{table}");
    browser.goto(&format!("{}/runs", served.url));
    browser.screenshot("runs.png");
}

#[test]
fn stop_on_a_long_run_cancels_it() {
    let served = serve(&[], &[]);
    // Its first job naps 2 s; the page opens while it does.
    let id = served.start_run("later", "{}");
    let browser = Browser::start();
    browser.goto(&format!("{}/runs/{id}", served.url));
    assert!(
        browser.text("#jobs").contains("first") || browser.text("#jobs").contains("No job"),
        "{}",
        browser.text("#jobs")
    );
    // The second job turns RUNNING live (from the run's events), in the graph
    // and in the jobs, with its stage.
    browser.wait("the second job runs", Duration::from_secs(30), |b| {
        graph_status(b, "second") == "RUNNING"
    });
    browser.wait("its stage shows", Duration::from_secs(10), |b| {
        let row = b.text("article.job[data-job=\"second\"] tbody");
        row.contains("Sleep") && row.contains("RUNNING")
    });
    assert_eq!(graph_status(&browser, "first"), "SUCCESS");
    let first = browser.text("article.job[data-job=\"first\"]");
    assert!(
        first.contains("Nap") && first.contains("SUCCESS"),
        "{first}"
    );
    assert_eq!(
        browser.text("#jobs").matches("Nap").count(),
        1,
        "a stage is shown once: {}",
        browser.text("#jobs")
    );
    browser.click("button.stop");
    browser.wait("the run is cancelled", Duration::from_secs(30), |b| {
        b.text("#run-status") == "CANCEL"
    });
    assert_eq!(
        served.get(&format!("/api/v1/runs/{id}")).json()["status"],
        "CANCEL"
    );
}

#[test]
fn the_ui_asks_for_the_token_when_the_server_has_one() {
    let token = "0123456789abcdef0123456789abcdef";
    let served: Served = serve(&[], &[("WFR_SERVER_TOKEN", token)]);
    let browser = Browser::start();
    browser.goto(&format!("{}/runs", served.url));
    assert!(
        browser.url().contains("/login?next=/runs"),
        "{}",
        browser.url()
    );
    browser.type_into("#token", "not-the-token-at-all");
    browser.click("form.login button");
    browser.wait("a refusal", Duration::from_secs(10), |b| {
        b.text(".error").contains("not this server's token")
    });
    browser.type_into("#token", token);
    browser.click("form.login button");
    browser.wait("the runs page", Duration::from_secs(10), |b| {
        b.text("h1") == "Runs"
    });
    // The cookie is HttpOnly: the page's scripts cannot read the token.
    assert_eq!(browser.eval("return document.cookie;"), "");
}
