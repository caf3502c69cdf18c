//! The machine formats of `wfc check`, read back as their consumers read them:
//! JSON (versioned), JUnit XML, GitLab Code Quality and SARIF, on files with an
//! error that has a safe fix, an error without one, a warning and a clean file;
//! the fix count of the human summary; `docs/codes.md` against the code table.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{stdout, write};

fn wfc_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wfc"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFC_CACHE_DIR")
        .env_remove("WFC_HELP_URI")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run wfc")
}

fn wfc(args: &[&str], cwd: &Path) -> Output {
    wfc_env(args, cwd, &[])
}

/// `ecoh` (WF101, a safe fix to `echo`) and an undeclared param (WF404, no fix).
const ERRORS: &str = "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, ecoh: hi}\n        - {name: b, echo: \"${{ params.x }}\"}\n";
/// A constant condition (WF902, a warning).
const WARNING: &str =
    "wf-warn:\n  type: Workflow\n  jobs:\n    j:\n      if: true\n      stages: []\n";
const CLEAN: &str =
    "clean:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n";
/// An unknown key whose message holds every character XML escapes.
const MARKUP: &str = "wf-x:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi, \"<a&b>'\\\"\\e\": 1}\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", ERRORS);
    write(dir.path(), "conf/b.yml", WARNING);
    write(dir.path(), "conf/c.yml", CLEAN);
    dir
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[test]
fn json_findings_carry_names_help_labels_and_fixes() {
    let dir = project();
    let out = wfc(
        &["check", "--no-cache", "--format", "json", "conf"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["version"], 1);
    let findings = report["findings"].as_array().expect("findings");
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert_eq!(codes, ["WF101", "WF404", "WF902"]);

    let unknown = &findings[0];
    assert_eq!(unknown["name"], "unknown-key");
    assert_eq!(unknown["severity"], "error");
    assert_eq!(unknown["help"], "did you mean `echo`?");
    assert_eq!(unknown["labels"], Value::Array(vec![]));
    assert_eq!(unknown["notes"], Value::Array(vec![]));
    let fix = &unknown["fix"];
    assert_eq!(fix["message"], "replace `ecoh` with `echo`");
    assert_eq!(fix["applicability"], "safe");
    let edits = fix["edits"].as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    let edit = &edits[0];
    assert_eq!(edit["file"], "conf/a.yml");
    assert_eq!(edit["replacement"], "echo");
    let at = |key: &str| usize::try_from(edit[key].as_u64().expect(key)).expect("usize");
    assert_eq!(
        (at("line"), at("column"), at("end_line"), at("end_column")),
        (6, 21, 6, 25)
    );
    // The byte offsets are where the word is in the file.
    assert_eq!(&ERRORS[at("offset")..at("end_offset")], "ecoh");
    assert_eq!(unknown["offset"], edit["offset"]);

    assert_eq!(findings[1]["name"], "undeclared-param");
    assert_eq!(findings[1]["fix"], Value::Null);
    assert_eq!(findings[2]["severity"], "warning");

    // A clean run is an empty list, still versioned.
    let out = wfc(
        &["check", "--no-cache", "--format", "json", "conf/c.yml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        json(&out),
        serde_json::json!({"version": 1, "findings": []})
    );
}

#[test]
fn json_findings_carry_secondary_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "a.yml",
        "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, id: s, echo: a}\n        - {name: b, id: s, echo: b}\n",
    );
    let out = wfc(
        &["check", "--no-cache", "--format", "json", "a.yml"],
        dir.path(),
    );
    let report = json(&out);
    let duplicate = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "WF203")
        .unwrap_or_else(|| panic!("WF203: {report}"));
    let label = &duplicate["labels"][0];
    assert_eq!(label["file"], "a.yml", "{duplicate}");
    assert!(label["line"].as_u64().is_some(), "{duplicate}");
    assert!(label["message"].as_str().is_some(), "{duplicate}");
}

// ---- JUnit ----

/// An element of a parsed XML document.
#[derive(Debug, Default)]
pub struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Whether `c` may appear in an XML 1.0 document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Decodes entity and character references; `Err` for a bare `&` or `<`.
fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with('<') {
            return Err(format!("`<` in text: {text:?}"));
        }
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| format!("unterminated reference in {text:?}"))?;
        let name = &rest[i + 1..i + end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16)
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse()
                } else {
                    return Err(format!("unknown entity `{name}`"));
                };
                code.ok()
                    .and_then(char::from_u32)
                    .filter(|c| xml_char(*c))
                    .ok_or_else(|| format!("bad character reference `{name}`"))?
            }
        };
        out.push(c);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses the XML that the JUnit format writes (a declaration, elements,
/// attributes, text), failing on anything that is not well-formed XML 1.0.
fn parse_xml(xml: &str) -> Result<Element, String> {
    if let Some(c) = xml.chars().find(|c| !xml_char(*c)) {
        return Err(format!("character {c:?} is not allowed in XML"));
    }
    let mut rest = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .ok_or("no XML declaration")?;
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let Some(open) = rest.find('<') else {
            if !rest.trim().is_empty() {
                return Err(format!("text after the root: {rest:?}"));
            }
            break;
        };
        let text = unescape(&rest[..open])?;
        if stack.len() == 1 && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        stack.last_mut().ok_or("no element")?.text.push_str(&text);
        rest = &rest[open + 1..];
        let close = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let done = stack.pop().ok_or("unbalanced")?;
            if done.name != name || stack.is_empty() {
                return Err(format!("`</{name}>` closes `<{}>`", done.name));
            }
            stack.last_mut().ok_or("unbalanced")?.children.push(done);
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(tag) => (tag, true),
            None => (tag, false),
        };
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let mut element = Element {
            name: tag[..name_end].to_string(),
            ..Element::default()
        };
        if element.name.is_empty()
            || !element
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!("bad tag `{tag}`"));
        }
        let mut attrs = tag[name_end..].trim_start();
        while !attrs.is_empty() {
            let eq = attrs
                .find("=\"")
                .ok_or_else(|| format!("bad attribute in `{tag}`"))?;
            let name = attrs[..eq].to_string();
            let value_end = attrs[eq + 2..]
                .find('"')
                .ok_or_else(|| format!("unterminated attribute in `{tag}`"))?;
            let raw = &attrs[eq + 2..eq + 2 + value_end];
            if raw.contains(['\n', '\t', '\r']) {
                return Err(format!("a raw line break or tab in attribute `{name}`"));
            }
            if element.attributes.iter().any(|(n, _)| *n == name) {
                return Err(format!("attribute `{name}` twice"));
            }
            element.attributes.push((name, unescape(raw)?));
            attrs = attrs[eq + 2 + value_end + 1..].trim_start();
        }
        if stack.len() == 1 && !stack[0].children.is_empty() {
            return Err("two root elements".into());
        }
        if empty {
            stack.last_mut().ok_or("unbalanced")?.children.push(element);
        } else {
            stack.push(element);
        }
    }
    if stack.len() != 1 {
        return Err("unclosed elements".into());
    }
    let mut document = stack.pop().ok_or("empty")?;
    if document.children.len() != 1 {
        return Err("no root element".into());
    }
    Ok(document.children.remove(0))
}

/// Asserts `xml` is well-formed JUnit XML; returns its root.
#[track_caller]
pub(crate) fn junit(xml: &str) -> Element {
    let root = parse_xml(xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    assert_eq!(root.name, "testsuites", "{xml}");
    // Counts add up.
    let count = |e: &Element, what: &str| -> usize {
        e.attribute(what)
            .unwrap_or_else(|| panic!("{} has no {what}", e.name))
            .parse()
            .expect("a count")
    };
    let mut tests = 0;
    let mut failures = 0;
    for suite in root.all("testsuite") {
        let cases: Vec<&Element> = suite.all("testcase").collect();
        let failed = cases
            .iter()
            .filter(|c| c.all("failure").count() > 0)
            .count();
        assert_eq!(count(suite, "tests"), cases.len(), "{xml}");
        assert_eq!(count(suite, "failures"), failed, "{xml}");
        tests += cases.len();
        failures += failed;
    }
    assert_eq!(count(&root, "tests"), tests, "{xml}");
    assert_eq!(count(&root, "failures"), failures, "{xml}");
    root
}

#[test]
fn junit_has_a_suite_per_file_and_fails_on_errors() {
    let dir = project();
    write(dir.path(), "conf/d.yml", MARKUP);
    let out = wfc(
        &["check", "--no-cache", "--format", "junit", "conf"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let root = junit(&text);
    let suites: Vec<&Element> = root.all("testsuite").collect();
    let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    assert_eq!(
        names,
        ["conf/a.yml", "conf/b.yml", "conf/c.yml", "conf/d.yml"],
        "{text}"
    );
    // Errors fail, with the whole finding in the failure's text.
    let a: Vec<&Element> = suites[0].all("testcase").collect();
    assert_eq!(a.len(), 2);
    assert_eq!(
        a[0].attribute("name"),
        Some("WF101 unknown-key: unknown key `ecoh` in an empty stage")
    );
    assert_eq!(a[0].attribute("line"), Some("6"));
    assert_eq!(a[0].attribute("file"), Some("conf/a.yml"));
    let failure = a[0].all("failure").next().expect("a failure");
    assert_eq!(failure.attribute("type"), Some("WF101 unknown-key"));
    assert!(
        failure.text.starts_with("conf/a.yml:6:21: error WF101"),
        "{text}"
    );
    assert!(
        failure.text.contains("\nhelp: did you mean `echo`?"),
        "{text}"
    );
    assert!(
        failure
            .text
            .contains("\nfix (safe): replace `ecoh` with `echo`"),
        "{text}"
    );
    // A warning passes, and says what it is.
    let b: Vec<&Element> = suites[1].all("testcase").collect();
    assert_eq!(b[0].all("failure").count(), 0, "{text}");
    assert!(
        b[0].all("system-out")
            .next()
            .expect("output")
            .text
            .contains("warning WF902")
    );
    // A clean file is one passing test.
    let c: Vec<&Element> = suites[2].all("testcase").collect();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].attribute("name"), Some("no findings"));
    assert!(c[0].children.is_empty());
    // Markup in a message comes back as it was; the escape character as its picture.
    let d = suites[3].all("testcase").next().expect("a test");
    let name = d.attribute("name").expect("name");
    assert!(name.contains("<a&b>'\"\u{241b}"), "{name}");
}

#[test]
fn junit_of_a_clean_run_passes() {
    let dir = project();
    let out = wfc(
        &["check", "--no-cache", "--format", "junit", "conf/c.yml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let root = junit(&stdout(&out));
    assert_eq!(root.attribute("tests"), Some("1"));
    assert_eq!(root.attribute("failures"), Some("0"));
    // Warnings alone pass too, as they do not fail `wfc check`.
    let out = wfc(
        &["check", "--no-cache", "--format", "junit", "conf/b.yml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(junit(&stdout(&out)).attribute("failures"), Some("0"));
}

#[test]
fn the_xml_check_refuses_broken_xml() {
    for bad in [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b></a></b>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"<\"/>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>&</a>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>\u{1b}</a>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a/><b/>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>",
    ] {
        assert!(parse_xml(bad).is_err(), "{bad}");
    }
}

// ---- GitLab Code Quality ----

fn gitlab(dir: &Path) -> Vec<Value> {
    let out = wfc(&["check", "--no-cache", "--format", "gitlab", "conf"], dir);
    json(&out).as_array().expect("an array of issues").clone()
}

#[test]
fn gitlab_issues_have_the_documented_fields() {
    let dir = project();
    let issues = gitlab(dir.path());
    assert_eq!(issues.len(), 3);
    let first = &issues[0];
    assert_eq!(
        first["description"],
        "WF101 unknown-key: unknown key `ecoh` in an empty stage"
    );
    assert_eq!(first["check_name"], "WF101 unknown-key");
    assert_eq!(first["severity"], "major");
    assert_eq!(first["location"]["path"], "conf/a.yml");
    assert_eq!(first["location"]["lines"]["begin"], 6);
    assert_eq!(first["location"]["lines"]["end"], 6);
    assert_eq!(issues[2]["severity"], "minor");
    let fingerprints: std::collections::HashSet<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().expect("fingerprint"))
        .collect();
    assert_eq!(fingerprints.len(), 3, "fingerprints are unique");
}

#[test]
fn gitlab_fingerprints_survive_edits_elsewhere() {
    let dir = project();
    let before = gitlab(dir.path());
    // Lines added above the findings move them, but they are the same findings.
    write(
        dir.path(),
        "conf/a.yml",
        &format!("# a comment\n\n{ERRORS}"),
    );
    let after = gitlab(dir.path());
    assert_eq!(after[0]["location"]["lines"]["begin"], 8);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["fingerprint"], a["fingerprint"]);
    }
    // Two findings alike in code, path, message and line text differ.
    let twice = "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, ecoh: hi}\n        - {name: a, ecoh: hi}\n";
    write(dir.path(), "conf/a.yml", twice);
    let issues = gitlab(dir.path());
    let unknown: Vec<&Value> = issues
        .iter()
        .filter(|i| i["check_name"] == "WF101 unknown-key")
        .collect();
    assert_eq!(unknown.len(), 2);
    assert_ne!(unknown[0]["fingerprint"], unknown[1]["fingerprint"]);
}

// ---- SARIF ----

#[test]
fn sarif_rules_have_help_and_results_have_fixes() {
    let dir = project();
    let out = wfc(
        &["check", "--no-cache", "--format", "sarif", "conf"],
        dir.path(),
    );
    let log = json(&out);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for rule in rules {
        assert!(rule["id"].is_string() && rule["name"].is_string(), "{rule}");
        assert!(rule["shortDescription"]["text"].is_string(), "{rule}");
        assert!(rule["help"]["text"].is_string(), "{rule}");
        assert!(rule["help"]["markdown"].is_string(), "{rule}");
        assert!(rule.get("helpUri").is_none(), "no URI unless asked: {rule}");
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for result in results {
        let index = usize::try_from(result["ruleIndex"].as_u64().expect("index")).expect("usize");
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(result["message"]["text"].is_string());
        assert!(result["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
    }
    let fix = &results[0]["fixes"][0];
    assert_eq!(fix["description"]["text"], "replace `ecoh` with `echo`");
    let change = &fix["artifactChanges"][0];
    assert_eq!(change["artifactLocation"]["uri"], "conf/a.yml");
    let replacement = &change["replacements"][0];
    let region = &replacement["deletedRegion"];
    assert_eq!(
        [
            &region["startLine"],
            &region["startColumn"],
            &region["endLine"],
            &region["endColumn"],
        ],
        [6, 21, 6, 25]
    );
    let offset = usize::try_from(region["byteOffset"].as_u64().expect("offset")).expect("usize");
    let length = usize::try_from(region["byteLength"].as_u64().expect("length")).expect("usize");
    assert_eq!(&ERRORS[offset..offset + length], "ecoh");
    assert_eq!(replacement["insertedContent"]["text"], "echo");
    assert!(results[1].get("fixes").is_none());
}

#[test]
fn sarif_help_uri_comes_from_the_environment() {
    let dir = project();
    let out = wfc_env(
        &["check", "--no-cache", "--format", "sarif", "conf"],
        dir.path(),
        &[(
            "WFC_HELP_URI",
            "https://git.example.com/wfc/docs/codes.md#{name}?c={code}",
        )],
    );
    let log = json(&out);
    let rule = &log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "WF101")
        .expect("WF101")
        .clone();
    assert_eq!(
        rule["helpUri"],
        "https://git.example.com/wfc/docs/codes.md#unknown-key?c=WF101"
    );
}

// ---- human ----

#[test]
fn the_human_summary_counts_fixable_findings() {
    let dir = project();
    let out = wfc(&["check", "--no-cache", "conf"], dir.path());
    let text = stdout(&out);
    assert!(
        text.ends_with("2 errors and 1 warning, 1 fixable with `wfc check --fix`\n"),
        "{text}"
    );
    // No fix, no mention.
    let out = wfc(&["check", "--no-cache", "conf/b.yml"], dir.path());
    assert!(
        stdout(&out).ends_with("0 errors and 1 warning\n"),
        "{}",
        stdout(&out)
    );
}

// ---- docs/codes.md ----

#[test]
fn codes_doc_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/codes.md");
    let expected = wfc_compiler::render::codes_markdown();
    if std::env::var_os("WFC_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/codes.md");
        return;
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "docs/codes.md does not match the code table (compiler/src/diagnostic/code.rs); \
         regenerate it with:\n  WFC_BLESS=1 cargo test -p wfc-compiler --test check formats::codes_doc"
    );
    for code in wfc_compiler::diagnostic::Code::ALL {
        let anchor = format!("<a id=\"{}\"></a>", code.id().to_ascii_lowercase());
        assert!(found.contains(&anchor), "{anchor}");
    }
}
