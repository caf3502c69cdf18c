//! `wfc lsp`, driven over stdio as an editor drives it: diagnostics of an
//! unsaved buffer and after a fix, across files, hover, go to definition and a
//! quick fix (a safe one, and an unsafe one over whole lines).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
}

fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

impl Client {
    fn start(root: &std::path::Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wfc"))
            .arg("lsp")
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("wfc lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse().expect("a length");
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(value) = serde_json::from_slice::<Value>(&body) else {
                    return;
                };
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            next_id: 1,
        };
        let answer = client.request(
            "initialize",
            json!({"processId": null, "rootUri": uri(root), "capabilities": {}}),
        );
        assert!(
            answer["capabilities"]["hoverProvider"]
                .as_bool()
                .unwrap_or(false),
            "{answer}"
        );
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("sent");
        self.stdin.flush().expect("flushed");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.next();
            if message["id"] == id {
                assert!(message["error"].is_null(), "{message}");
                return message["result"].clone();
            }
        }
    }

    fn next(&mut self) -> Value {
        self.incoming
            .recv_timeout(Duration::from_secs(20))
            .expect("the server says something within 20 s")
    }

    /// The next diagnostics published for `file`.
    fn diagnostics_of(&mut self, file: &str) -> Vec<Value> {
        loop {
            let message = self.next();
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == file
            {
                return message["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BROKEN: &str = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: hello\n          ecoh: hi\n    test:\n      needs: [build]\n      stages:\n        - name: go\n          trigger: other\n";

#[test]
fn findings_follow_the_buffer_and_other_files() {
    let dir = tempfile::tempdir().expect("a workspace");
    let file = dir.path().join("wf.yml");
    std::fs::write(&file, "wf:\n  type: Workflow\n  jobs: {}\n").expect("written");
    let other = dir.path().join("other.yml");
    let mut client = Client::start(dir.path());
    let file_uri = uri(&file);
    // The unsaved buffer is checked, not the file on disk.
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": file_uri, "languageId": "yaml", "version": 1, "text": BROKEN}}),
    );
    let found = loop {
        let found = client.diagnostics_of(&file_uri);
        if !found.is_empty() {
            break found;
        }
    };
    let typo = found
        .iter()
        .find(|d| d["code"] == "WF101")
        .expect("the unknown key");
    assert_eq!(
        typo["range"]["start"],
        json!({"line": 6, "character": 10}),
        "{typo}"
    );
    assert_eq!(
        typo["range"]["end"],
        json!({"line": 6, "character": 14}),
        "{typo}"
    );
    assert_eq!(typo["severity"], 1);
    assert!(
        typo["message"]
            .as_str()
            .expect("a message")
            .contains("did you mean `echo`"),
        "{typo}"
    );
    let unknown = found
        .iter()
        .find(|d| d["message"].as_str().is_some_and(|m| m.contains("other")))
        .expect("the unknown trigger target");
    // The quick fix of the typo.
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": file_uri}, "range": typo["range"], "context": {"diagnostics": [typo]}}),
    );
    // It is the finding's fix, kept in its `data`: safe, so preferred.
    assert_eq!(typo["data"]["fix"]["applicability"], "safe", "{typo}");
    assert_eq!(actions.as_array().map(Vec::len), Some(1), "{actions}");
    assert_eq!(
        actions[0]["title"], "Replace `ecoh` with `echo`",
        "{actions}"
    );
    assert_eq!(actions[0]["kind"], "quickfix", "{actions}");
    assert_eq!(actions[0]["isPreferred"], true, "{actions}");
    let edits = &actions[0]["edit"]["changes"][&file_uri];
    assert_eq!(edits.as_array().map(Vec::len), Some(1), "{actions}");
    assert_eq!(edits[0]["newText"], "echo", "{actions}");
    assert_eq!(edits[0]["range"], typo["range"]);
    // Another file defines the trigger's target: its finding goes.
    std::fs::write(&other, "other:\n  type: Workflow\n  jobs: {}\n").expect("written");
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&other), "type": 1}]}),
    );
    let now = client.diagnostics_of(&file_uri);
    assert!(
        !now.iter().any(|d| d["message"] == unknown["message"]),
        "{now:?}"
    );
    // The fix: the buffer's findings are cleared.
    let fixed = BROKEN.replace("ecoh", "echo");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": file_uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    assert_eq!(client.diagnostics_of(&file_uri), Vec::<Value>::new());
}

#[test]
fn hover_and_go_to_definition() {
    let dir = tempfile::tempdir().expect("a workspace");
    let file = dir.path().join("wf.yml");
    std::fs::write(&file, BROKEN.replace("ecoh", "echo")).expect("written");
    let other = dir.path().join("other.yml");
    std::fs::write(
        &other,
        "# the target\nother:\n  type: Workflow\n  jobs: {}\n",
    )
    .expect("written");
    let mut client = Client::start(dir.path());
    let file_uri = uri(&file);
    let at = |line: u32, character: u32| json!({"textDocument": {"uri": file_uri}, "position": {"line": line, "character": character}});
    // On a key: its description.
    let hover = client.request("textDocument/hover", at(8, 7));
    let text = hover["contents"]["value"].as_str().expect("markdown");
    assert!(text.starts_with("`needs`: The ids of the jobs"), "{text}");
    let hover = client.request("textDocument/hover", at(11, 11));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .expect("markdown")
            .starts_with("`trigger`"),
        "{hover}"
    );
    // `needs: [build]` → the job; `trigger: other` → the workflow in its file.
    let job = client.request("textDocument/definition", at(8, 15));
    assert_eq!(job["uri"], file_uri.as_str());
    assert_eq!(
        job["range"]["start"],
        json!({"line": 3, "character": 4}),
        "{job}"
    );
    let target = client.request("textDocument/definition", at(11, 20));
    assert_eq!(target["uri"], uri(&other));
    assert_eq!(
        target["range"]["start"],
        json!({"line": 1, "character": 0}),
        "{target}"
    );
    // On a code: what it means.
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&dir.path().join("notes.yml")), "languageId": "yaml", "version": 1, "text": "# see WF101\n"}}),
    );
    let code = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&dir.path().join("notes.yml"))}, "position": {"line": 0, "character": 8}}),
    );
    assert!(
        code["contents"]["value"]
            .as_str()
            .expect("markdown")
            .contains("WF101 unknown-key"),
        "{code}"
    );
    let _ = client.request("shutdown", Value::Null);
    client.notify("exit", Value::Null);
}

const NAMED: &str = "wf:\n  type: Workflow\n  params:\n    who: {type: str, default: world}\n  jobs:\n    build:\n      stages:\n        - name: hello\n          id: greet\n          echo: \"${{ params.who | upper }}\"\n    test:\n      needs: [build]\n      stages:\n        - name: go\n          echo: \"${{ jobs.build.stages.greet.outputs }}\"\n";

#[test]
fn names_in_templates_hover_and_lead_to_their_definition() {
    let dir = tempfile::tempdir().expect("a workspace");
    let file = dir.path().join("wf.yml");
    std::fs::write(&file, NAMED).expect("written");
    let mut client = Client::start(dir.path());
    let file_uri = uri(&file);
    let at = |line: u32, character: u32| json!({"textDocument": {"uri": file_uri}, "position": {"line": line, "character": character}});
    let value = |hover: &Value| {
        hover["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let param = client.request("textDocument/hover", at(9, 24));
    assert_eq!(
        value(&param),
        "param `who`: str, default `world`",
        "{param}"
    );
    let filter = client.request("textDocument/hover", at(9, 35));
    assert!(value(&filter).starts_with("`upper"), "{filter}");
    let stage = client.request("textDocument/hover", at(14, 30));
    assert_eq!(
        value(&stage),
        "stage `hello` (id `greet`) of job `build`",
        "{stage}"
    );
    let to_param = client.request("textDocument/definition", at(9, 24));
    assert_eq!(
        to_param["range"]["start"],
        json!({"line": 3, "character": 4}),
        "{to_param}"
    );
    let to_stage = client.request("textDocument/definition", at(14, 30));
    assert_eq!(
        to_stage["range"]["start"],
        json!({"line": 8, "character": 14}),
        "{to_stage}"
    );
}

#[test]
fn completion_offers_what_fits_where_the_cursor_is() {
    let dir = tempfile::tempdir().expect("a workspace");
    let file = dir.path().join("wf.yml");
    std::fs::write(&file, NAMED).expect("written");
    std::fs::write(
        dir.path().join("other.yml"),
        "other:\n  type: Workflow\n  jobs: {}\n",
    )
    .expect("written");
    let mut client = Client::start(dir.path());
    let file_uri = uri(&file);
    let mut version = 1;
    let mut labels_at = |client: &mut Client, line_text: &str, line: u32| -> Vec<String> {
        let mut lines: Vec<&str> = NAMED.lines().collect();
        lines[line as usize] = line_text;
        let text = lines.join("\n") + "\n";
        version += 1;
        if version == 2 {
            client.notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": file_uri, "languageId": "yaml", "version": version, "text": text}}),
            );
        } else {
            client.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": file_uri, "version": version}, "contentChanges": [{"text": text}]}),
            );
        }
        let character = u32::try_from(line_text.len()).expect("short");
        let items = client.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": file_uri}, "position": {"line": line, "character": character}}),
        );
        items
            .as_array()
            .unwrap_or_else(|| panic!("no list for {line_text:?}: {items}"))
            .iter()
            .map(|i| i["label"].as_str().expect("a label").to_string())
            .collect()
    };
    // A stage's keys, but those it has.
    let keys = labels_at(&mut client, "          ec", 9);
    assert!(
        keys.contains(&"echo".to_string()) && keys.contains(&"bash".to_string()),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&"name".to_string()) && !keys.contains(&"id".to_string()),
        "{keys:?}"
    );
    // A job's keys.
    let keys = labels_at(&mut client, "      ne", 11);
    assert!(
        keys.contains(&"needs".to_string()) && !keys.contains(&"echo".to_string()),
        "{keys:?}"
    );
    // Params, filters, the jobs needed, workflows.
    assert_eq!(
        labels_at(&mut client, "          echo: \"${{ params.", 9),
        ["who"]
    );
    let filters = labels_at(&mut client, "          echo: \"${{ params.who | ", 9);
    assert!(filters.contains(&"upper".to_string()), "{filters:?}");
    assert_eq!(
        labels_at(&mut client, "          echo: \"${{ jobs.", 14),
        ["build"]
    );
    let stages = labels_at(&mut client, "          echo: \"${{ stages.", 9);
    assert_eq!(stages, ["greet"]);
    let targets = labels_at(&mut client, "          trigger: ot", 14);
    assert!(targets.contains(&"other".to_string()), "{targets:?}");
}

#[test]
fn an_unsafe_fix_over_whole_lines_is_offered_but_not_preferred() {
    let dir = tempfile::tempdir().expect("a workspace");
    let text = "wf:\n  type: Workflow\n  jobs:\n    build:\n      retry: 1\n      stages: []\n      retry: 2\n";
    let file = dir.path().join("wf.yml");
    std::fs::write(&file, text).expect("written");
    let mut client = Client::start(dir.path());
    let file_uri = uri(&file);
    let found = client.diagnostics_of(&file_uri);
    let duplicate = found
        .iter()
        .find(|d| d["code"] == "WF002")
        .expect("the duplicate key");
    assert_eq!(duplicate["data"]["fix"]["applicability"], "unsafe");
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": file_uri}, "range": duplicate["range"], "context": {"diagnostics": [duplicate]}}),
    );
    assert_eq!(actions[0]["isPreferred"], false, "{actions}");
    let edit = &actions[0]["edit"]["changes"][&file_uri][0];
    // The earlier `retry: 1` line, its line break included.
    assert_eq!(
        edit["range"],
        json!({"start": {"line": 4, "character": 0}, "end": {"line": 5, "character": 0}}),
        "{actions}"
    );
    assert_eq!(edit["newText"], "");
}

#[test]
fn the_configuration_and_suppressions_decide_what_the_editor_shows() {
    let dir = tempfile::tempdir().expect("a workspace");
    std::fs::write(
        dir.path().join("wfc.toml"),
        "[severity]\nWF101 = \"warning\"\n",
    )
    .expect("written");
    let file = dir.path().join("wf.yml");
    let text = "wf:\n  type: Workflow\n  params:\n    name: str\n  jobs:\n    build:\n      stages:\n        - name: hello\n          ecoh: hi\n        - name: script\n          bash: echo ${{ params.name }}  # wfc: ignore[WF901]\n";
    std::fs::write(&file, text).expect("written");
    let mut client = Client::start(dir.path());
    let file_uri = uri(&file);
    let found = loop {
        let found = client.diagnostics_of(&file_uri);
        if !found.is_empty() {
            break found;
        }
    };
    // WF901 is suppressed on its line; WF101 is a warning (2) by the configuration.
    let codes: Vec<&Value> = found.iter().map(|d| &d["code"]).collect();
    assert_eq!(codes, vec!["WF101"], "{found:?}");
    assert_eq!(found[0]["severity"], 2, "{found:?}");
    // A suppression that suppresses nothing is shown, with its fix.
    let unused = text.replace("ecoh: hi", "echo: hi  # wfc: ignore[WF404]");
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": file_uri, "languageId": "yaml", "version": 1, "text": unused}}),
    );
    let now = client.diagnostics_of(&file_uri);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0]["code"], "WF905", "{now:?}");
    assert_eq!(now[0]["data"]["fix"]["applicability"], "safe", "{now:?}");
}
