//! The linter's configuration: `wfc.toml`, or `[tool.wfc]` in `pyproject.toml`,
//! found by walking up from the checked paths.
//!
//! ```toml
//! conf = "conf"                      # what `wfc check` checks when given no path
//! filters = ["my_filter"]            # filters registered in Python
//! cache-dir = ".wfc/cache"           # where the check cache lives
//! select = ["ALL"]                   # codes (WF101), names (unknown-key), prefixes (WF4), ALL
//! ignore = ["WF901"]
//! help-uri = "https://…/codes.md#{code}"
//!
//! [per-file-ignores]
//! "legacy/**" = ["undeclared-param"]
//!
//! [severity]
//! WF902 = "error"
//! ```
//!
//! Every key is read with its place, so a mistake is reported as
//! `wfc.toml:3:1: unknown key …` with a "did you mean".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Code, Severity, did_you_mean};

/// The configuration file names, in the order one folder is searched.
pub const FILE_NAME: &str = "wfc.toml";
pub const PYPROJECT: &str = "pyproject.toml";

/// Top-level keys.
const KEYS: &[&str] = &[
    "conf",
    "filters",
    "cache-dir",
    "select",
    "ignore",
    "per-file-ignores",
    "severity",
    "help-uri",
];

/// Codes that no configuration or suppression hides or demotes: a file that
/// does not parse or is not loaded is not checked at all, and wfc's own
/// failure is always said.
pub const ALWAYS_ON: &[Code] = &[Code::Internal, Code::YamlSyntax, Code::FileTooLarge];

/// Largest configuration file read (a configuration is a few lines).
const MAX_CONFIG: u64 = 1024 * 1024;

/// Where a value came from, for `--show-config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// A line of the configuration file (1-based).
    File(usize),
    /// A command-line option or an environment variable.
    Given(&'static str),
}

/// A list of codes as written, and the codes it means.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub written: Vec<String>,
    pub codes: Vec<Code>,
}

#[derive(Clone, Debug)]
pub struct PerFile {
    pub glob: String,
    matcher: GlobMatcher,
    pub ignore: Selection,
}

/// The configuration in force: the file's values over the defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file read (`None`: no file was found, or `--isolated`).
    pub file: Option<PathBuf>,
    /// The folder relative paths (`conf`, `cache-dir`, per-file globs) start from.
    pub base: PathBuf,
    /// `base` with its links resolved, which per-file globs match files under.
    base_real: Option<PathBuf>,
    pub conf: (Option<PathBuf>, Origin),
    pub filters: (Vec<String>, Origin),
    pub cache_dir: (Option<PathBuf>, Origin),
    /// `None`: every code.
    pub select: (Option<Selection>, Origin),
    pub ignore: (Selection, Origin),
    pub per_file: (Vec<PerFile>, Origin),
    pub severity: (Vec<(Code, Severity)>, Origin),
    pub help_uri: (Option<String>, Origin),
}

/// A configuration that cannot be used: where and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{}{message}{}", path.display(), place(*line, *column), help.as_ref().map(|h| format!("\n  help: {h}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based; 0 when the error is about the whole file.
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
}

fn place(line: usize, column: usize) -> String {
    if line == 0 {
        ": ".to_string()
    } else {
        format!(":{line}:{column}: ")
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::empty(PathBuf::from("."))
    }
}

impl Config {
    fn empty(base: PathBuf) -> Self {
        Self {
            file: None,
            base_real: std::fs::canonicalize(&base).ok(),
            base,
            conf: (None, Origin::Default),
            filters: (Vec::new(), Origin::Default),
            cache_dir: (None, Origin::Default),
            select: (None, Origin::Default),
            ignore: (Selection::default(), Origin::Default),
            per_file: (Vec::new(), Origin::Default),
            severity: (Vec::new(), Origin::Default),
            help_uri: (None, Origin::Default),
        }
    }

    /// Finds the configuration of `starts` (the checked paths; the current
    /// folder when there are none): the nearest `wfc.toml`, or `pyproject.toml`
    /// with a `[tool.wfc]` table, in the folder of each path or above it. Paths
    /// under different configurations are an error (check them separately).
    pub fn discover(starts: &[PathBuf]) -> Result<Config, ConfigError> {
        let mut found: Option<PathBuf> = None;
        let here = [PathBuf::from(".")];
        let starts = if starts.is_empty() { &here[..] } else { starts };
        for start in starts {
            let this = find_file(start);
            match (&found, this) {
                (None, Some(file)) => found = Some(file),
                (Some(first), Some(file)) if *first != file => {
                    return Err(ConfigError {
                        path: file.clone(),
                        line: 0,
                        column: 0,
                        message: format!(
                            "`{}` is under this configuration, but the other paths are under {}",
                            start.display(),
                            first.display()
                        ),
                        help: Some(
                            "check the two projects separately, or name one with `--config`".into(),
                        ),
                    });
                }
                _ => {}
            }
        }
        match found {
            Some(file) => Config::read(&file),
            None => Ok(Config::default()),
        }
    }

    /// Reads one configuration file (`wfc.toml`, or a `pyproject.toml` whose
    /// `[tool.wfc]` is read).
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let error = |message: String| ConfigError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message,
            help: None,
        };
        let bytes = crate::input::read_regular(path, MAX_CONFIG)
            .map_err(|e| error(format!("cannot read the configuration: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| error("the configuration is not UTF-8".to_string()))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let reader = Reader { path, text: &text };
        let root = DeTable::parse(&text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| reader.line_col(s.start));
            ConfigError {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("not valid TOML: {}", e.message().trim()),
                help: None,
            }
        })?;
        let mut config = Config::empty(base);
        config.file = Some(path.to_path_buf());
        let is_pyproject = path.file_name().is_some_and(|n| n == PYPROJECT);
        let table = if is_pyproject {
            let tool = root
                .get_ref()
                .iter()
                .find(|(k, _)| k.get_ref() == "tool")
                .map(|(_, v)| v);
            let wfc = tool.and_then(|t| match t.get_ref() {
                DeValue::Table(t) => t.iter().find(|(k, _)| k.get_ref() == "wfc").map(|(_, v)| v),
                _ => None,
            });
            match wfc {
                Some(v) => reader.table(v, "`[tool.wfc]`")?,
                None => return Ok(config),
            }
        } else {
            root.get_ref()
        };
        reader.fill(&mut config, table)?;
        Ok(config)
    }

    /// Whether findings of `code` are reported in `file` (a path as shown).
    #[must_use]
    pub fn enabled(&self, code: Code, file: &Path) -> bool {
        self.for_file(file).enabled(code)
    }

    /// The codes reported in `file`, decided once for all its findings.
    #[must_use]
    pub fn for_file(&self, file: &Path) -> FileRules {
        let mut on = [true; Code::ALL.len()];
        for (at, code) in Code::ALL.iter().enumerate() {
            let selected = self
                .select
                .0
                .as_ref()
                .is_none_or(|s| s.codes.contains(code));
            on[at] = selected && !self.ignore.0.codes.contains(code);
        }
        if !self.per_file.0.is_empty() {
            let relative = self.relative(file);
            for rule in self
                .per_file
                .0
                .iter()
                .filter(|p| p.matcher.is_match(&relative))
            {
                for &code in &rule.ignore.codes {
                    on[code as usize] = false;
                }
            }
        }
        for &code in ALWAYS_ON {
            on[code as usize] = true;
        }
        FileRules { on }
    }

    /// `file` relative to the configuration's folder, as per-file globs see it.
    fn relative(&self, file: &Path) -> PathBuf {
        match (std::fs::canonicalize(file).ok(), &self.base_real) {
            (Some(file), Some(base)) => file
                .strip_prefix(base)
                .map_or_else(|_| file.clone(), Path::to_path_buf),
            _ => file.strip_prefix("./").unwrap_or(file).to_path_buf(),
        }
    }

    /// The severity findings of `code` get.
    #[must_use]
    pub fn severity_of(&self, code: Code) -> Severity {
        self.severity
            .0
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code.severity(), |(_, s)| *s)
    }

    /// `conf`, relative to where wfc runs.
    #[must_use]
    pub fn conf_path(&self) -> Option<PathBuf> {
        self.conf.0.as_ref().map(|p| self.resolve(p))
    }

    /// `cache-dir`, relative to where wfc runs.
    #[must_use]
    pub fn cache_path(&self) -> Option<PathBuf> {
        self.cache_dir.0.as_ref().map(|p| self.resolve(p))
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() || self.base == Path::new(".") {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// The configuration in force and where each value came from
    /// (`wfc check --show-config`).
    #[must_use]
    pub fn show(&self) -> String {
        let mut out = String::new();
        let file = self
            .file
            .as_ref()
            .map_or_else(|| "none found".to_string(), |f| f.display().to_string());
        let _ = writeln!(out, "configuration: {file}");
        let name = self
            .file
            .as_ref()
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let origin = |o: &Origin| match o {
            Origin::Default => "default".to_string(),
            Origin::File(line) => format!("{name}:{line}"),
            Origin::Given(what) => (*what).to_string(),
        };
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let list = |items: &[String]| {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| quote(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let path = |p: &Option<PathBuf>, default: &str| {
            p.as_ref().map_or_else(
                || format!("(none: {default})"),
                |p| quote(&p.to_string_lossy()),
            )
        };
        let mut line = |key: &str, value: String, o: &Origin| {
            let _ = writeln!(out, "{key:<16} = {value:<40} # {}", origin(o));
        };
        line(
            "conf",
            path(&self.conf.0, "$WORKFLOW_CORE_CONF_PATH, ./conf or ."),
            &self.conf.1,
        );
        line("filters", list(&self.filters.0), &self.filters.1);
        line(
            "cache-dir",
            path(&self.cache_dir.0, "$WFC_CACHE_DIR, else .wfc/cache"),
            &self.cache_dir.1,
        );
        line(
            "select",
            self.select
                .0
                .as_ref()
                .map_or_else(|| "[\"ALL\"]".to_string(), |s| list(&s.written)),
            &self.select.1,
        );
        line("ignore", list(&self.ignore.0.written), &self.ignore.1);
        line(
            "help-uri",
            self.help_uri
                .0
                .as_ref()
                .map_or_else(|| "(none)".to_string(), |u| quote(u)),
            &self.help_uri.1,
        );
        let per_file: Vec<String> = self
            .per_file
            .0
            .iter()
            .map(|p| format!("{} = {}", quote(&p.glob), list(&p.ignore.written)))
            .collect();
        line(
            "per-file-ignores",
            format!("{{{}}}", per_file.join(", ")),
            &self.per_file.1,
        );
        let severity: Vec<String> = self
            .severity
            .0
            .iter()
            .map(|(c, s)| format!("{} = \"{}\"", c.id(), s.as_str()))
            .collect();
        line(
            "severity",
            format!("{{{}}}", severity.join(", ")),
            &self.severity.1,
        );
        let enabled = Code::ALL
            .iter()
            .filter(|c| {
                ALWAYS_ON.contains(c)
                    || (self.select.0.as_ref().is_none_or(|s| s.codes.contains(c))
                        && !self.ignore.0.codes.contains(c))
            })
            .map(|c| c.id())
            .collect::<Vec<_>>();
        let _ = writeln!(
            out,
            "\ncodes reported ({} of {}): {}",
            enabled.len(),
            Code::ALL.len(),
            enabled.join(" ")
        );
        out
    }
}

/// Which codes are reported in one file ([`Config::for_file`]).
#[derive(Clone, Copy, Debug)]
pub struct FileRules {
    on: [bool; Code::ALL.len()],
}

impl FileRules {
    #[must_use]
    pub fn enabled(&self, code: Code) -> bool {
        // `Code::ALL` lists the variants in their order.
        self.on[code as usize]
    }
}

/// The nearest configuration file at or above `start`.
fn find_file(start: &Path) -> Option<PathBuf> {
    let absolute = std::fs::canonicalize(start).ok().or_else(|| {
        // A path that does not exist yet (`--stdin-filename new.yml`): its folder.
        start.parent().and_then(|p| {
            std::fs::canonicalize(if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            })
            .ok()
        })
    })?;
    let dir = if absolute.is_dir() {
        absolute
    } else {
        absolute.parent()?.to_path_buf()
    };
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize).ok();
    for folder in dir.ancestors() {
        let shown = |name: &str| -> PathBuf {
            match cwd.as_deref().and_then(|c| folder.strip_prefix(c).ok()) {
                Some(rest) => rest.join(name),
                None => folder.join(name),
            }
        };
        if folder.join(FILE_NAME).is_file() {
            return Some(shown(FILE_NAME));
        }
        let pyproject = folder.join(PYPROJECT);
        if pyproject.is_file() && has_tool_wfc(&pyproject) {
            return Some(shown(PYPROJECT));
        }
    }
    None
}

/// Whether a `pyproject.toml` has a `[tool.wfc]` table (one that does not
/// parse is read, so that its error is said rather than passed over).
fn has_tool_wfc(path: &Path) -> bool {
    let Ok(bytes) = crate::input::read_regular(path, MAX_CONFIG) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    match DeTable::parse(&text) {
        Ok(root) => root.get_ref().iter().any(|(k, v)| {
            k.get_ref() == "tool"
                && matches!(v.get_ref(), DeValue::Table(t) if t.iter().any(|(k, _)| k.get_ref() == "wfc"))
        }),
        Err(_) => text.contains("[tool.wfc"),
    }
}

/// Reads values out of a parsed file, with places for errors.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

type Item<'i> = Spanned<DeValue<'i>>;

impl Reader<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    fn error(&self, at: usize, message: String, help: Option<String>) -> ConfigError {
        let (line, column) = self.line_col(at);
        ConfigError {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
            help,
        }
    }

    fn table<'v, 'i>(
        &self,
        value: &'v Item<'i>,
        what: &str,
    ) -> Result<&'v DeTable<'i>, ConfigError> {
        match value.get_ref() {
            DeValue::Table(t) => Ok(t),
            _ => Err(self.error(value.span().start, format!("{what} must be a table"), None)),
        }
    }

    fn string(&self, value: &Item<'_>, key: &str) -> Result<String, ConfigError> {
        match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            _ => Err(self.error(
                value.span().start,
                format!("`{key}` must be a string"),
                None,
            )),
        }
    }

    fn strings(&self, value: &Item<'_>, key: &str) -> Result<Vec<Spanned<String>>, ConfigError> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.error(
                value.span().start,
                format!("`{key}` must be a list of strings"),
                Some(format!("write `{key} = [\"…\"]`")),
            ));
        };
        items
            .iter()
            .map(|item| Ok(Spanned::new(item.span(), self.string(item, key)?)))
            .collect()
    }

    /// Codes by id, name, id prefix (`WF4`) or `ALL`.
    fn selection(&self, value: &Item<'_>, key: &str) -> Result<Selection, ConfigError> {
        let mut selection = Selection::default();
        for item in self.strings(value, key)? {
            let text = item.get_ref();
            let codes = codes_of(text);
            if codes.is_empty() {
                let names = Code::ALL.iter().flat_map(|c| [c.id(), c.name()]);
                let help = did_you_mean(text, names).map_or_else(
                    || "codes are listed by `wfc check --explain x`; write an id (`WF101`), a name (`unknown-key`), an id prefix (`WF4`) or `ALL`".to_string(),
                    |c| format!("did you mean `{c}`?"),
                );
                return Err(self.error(
                    item.span().start,
                    format!("`{key}` names `{text}`, which is no code"),
                    Some(help),
                ));
            }
            // `ALL` and prefixes leave these on; naming one is a mistake.
            if key != "select"
                && let Some(code) = Code::lookup(text).filter(|c| ALWAYS_ON.contains(c))
            {
                return Err(self.error(
                    item.span().start,
                    format!("{} {} cannot be ignored", code.id(), code.name()),
                    Some(always_on_help()),
                ));
            }
            selection.written.push(text.clone());
            for code in codes {
                if !selection.codes.contains(&code) {
                    selection.codes.push(code);
                }
            }
        }
        Ok(selection)
    }

    fn fill(&self, config: &mut Config, table: &DeTable<'_>) -> Result<(), ConfigError> {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let at = Origin::File(self.line(key.span().start));
            match name {
                "conf" => config.conf = (Some(PathBuf::from(self.string(value, name)?)), at),
                "cache-dir" => {
                    config.cache_dir = (Some(PathBuf::from(self.string(value, name)?)), at);
                }
                "help-uri" => config.help_uri = (Some(self.string(value, name)?), at),
                "filters" => {
                    let filters = self.strings(value, name)?;
                    config.filters = (filters.into_iter().map(Spanned::into_inner).collect(), at);
                }
                "select" => config.select = (Some(self.selection(value, name)?), at),
                "ignore" => config.ignore = (self.selection(value, name)?, at),
                "per-file-ignores" => {
                    let mut list = Vec::new();
                    for (glob, codes) in self.table(value, "`per-file-ignores`")? {
                        let pattern = glob.get_ref().to_string();
                        let matcher = Glob::new(&pattern)
                            .map_err(|e| {
                                self.error(
                                    glob.span().start,
                                    format!("`{pattern}` is not a glob: {}", e.kind()),
                                    None,
                                )
                            })?
                            .compile_matcher();
                        list.push(PerFile {
                            glob: pattern,
                            matcher,
                            ignore: self.selection(codes, "per-file-ignores")?,
                        });
                    }
                    config.per_file = (list, at);
                }
                "severity" => {
                    let mut list = Vec::new();
                    for (code, level) in self.table(value, "`severity`")? {
                        let text = code.get_ref();
                        let Some(found) = Code::lookup(text) else {
                            let names = Code::ALL.iter().flat_map(|c| [c.id(), c.name()]);
                            return Err(self.error(
                                code.span().start,
                                format!("`severity` names `{text}`, which is no code"),
                                did_you_mean(text, names).map(|c| format!("did you mean `{c}`?")),
                            ));
                        };
                        if ALWAYS_ON.contains(&found) {
                            return Err(self.error(
                                code.span().start,
                                format!(
                                    "the severity of {} {} cannot be changed",
                                    found.id(),
                                    found.name()
                                ),
                                Some(always_on_help()),
                            ));
                        }
                        let severity = match self.string(level, text)?.as_str() {
                            "error" => Severity::Error,
                            "warning" => Severity::Warning,
                            other => {
                                return Err(self.error(
                                    level.span().start,
                                    format!("`{other}` is no severity"),
                                    Some("write \"error\" or \"warning\"".into()),
                                ));
                            }
                        };
                        list.retain(|(c, _)| *c != found);
                        list.push((found, severity));
                    }
                    config.severity = (list, at);
                }
                _ => {
                    let help = did_you_mean(name, KEYS.iter().copied()).map_or_else(
                        || format!("the keys are: {}", KEYS.join(", ")),
                        |k| format!("did you mean `{k}`?"),
                    );
                    return Err(self.error(
                        key.span().start,
                        format!("unknown key `{name}`"),
                        Some(help),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn always_on_help() -> String {
    format!(
        "{} are always reported: a file that does not parse, or is not loaded, is not checked at all",
        ALWAYS_ON
            .iter()
            .map(|c| c.id())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The codes a selector means: `ALL`, an id, a name, or an id prefix (`WF4`).
#[must_use]
pub fn codes_of(text: &str) -> Vec<Code> {
    if text.eq_ignore_ascii_case("ALL") {
        return Code::ALL.to_vec();
    }
    if let Some(code) = Code::lookup(text) {
        return vec![code];
    }
    let upper = text.to_ascii_uppercase();
    if upper.len() > 2 && upper.starts_with("WF") && upper[2..].bytes().all(|b| b.is_ascii_digit())
    {
        return Code::ALL
            .iter()
            .copied()
            .filter(|c| c.id().starts_with(&upper))
            .collect();
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).expect("write");
        Config::read(&path)
    }

    #[test]
    fn codes_index_their_table() {
        for (at, code) in Code::ALL.iter().enumerate() {
            assert_eq!(*code as usize, at);
        }
    }

    #[test]
    fn selectors_take_ids_names_prefixes_and_all() {
        assert_eq!(codes_of("WF101"), vec![Code::UnknownKey]);
        assert_eq!(codes_of("unknown-key"), vec![Code::UnknownKey]);
        assert!(codes_of("WF4").contains(&Code::UndeclaredParam));
        assert!(!codes_of("WF4").contains(&Code::UnknownKey));
        assert_eq!(codes_of("all").len(), Code::ALL.len());
        assert!(codes_of("WF").is_empty());
        assert!(codes_of("nope").is_empty());
    }

    #[test]
    fn an_unknown_key_says_where_and_what_was_meant() {
        let error = read("conf = \"conf\"\nignroe = [\"WF901\"]\n").expect_err("unknown key");
        assert_eq!((error.line, error.column), (2, 1));
        assert_eq!(error.message, "unknown key `ignroe`");
        assert_eq!(error.help.as_deref(), Some("did you mean `ignore`?"));
    }

    #[test]
    fn values_are_read_with_their_lines() {
        let config = read(
            "ignore = [\"template-in-script\"]\n[severity]\nWF902 = \"error\"\n[per-file-ignores]\n\"old/**\" = [\"WF4\"]\n",
        )
        .expect("config");
        assert_eq!(config.ignore.0.codes, vec![Code::TemplateInScript]);
        assert_eq!(config.ignore.1, Origin::File(1));
        assert_eq!(config.severity_of(Code::ConstantCondition), Severity::Error);
        assert_eq!(config.severity.1, Origin::File(2));
        assert!(!config.enabled(Code::TemplateInScript, Path::new("a.yml")));
        assert!(config.enabled(Code::UnknownKey, Path::new("a.yml")));
    }

    #[test]
    fn codes_that_must_be_said_cannot_be_ignored_or_demoted() {
        let error = read("ignore = [\"yaml-syntax\"]\n").expect_err("always on");
        assert!(error.message.contains("cannot be ignored"), "{error}");
        let error = read("[severity]\nWF001 = \"warning\"\n").expect_err("always on");
        assert!(error.message.contains("cannot be changed"), "{error}");
        // `ALL` and prefixes leave them on.
        let config = read("ignore = [\"WF0\"]\n").expect("prefix");
        assert!(config.enabled(Code::YamlSyntax, Path::new("a.yml")));
        assert!(!config.enabled(Code::IgnoredEntry, Path::new("a.yml")));
    }

    #[test]
    fn wrong_types_and_bad_toml_are_errors() {
        let error = read("ignore = \"WF901\"\n").expect_err("not a list");
        assert!(error.message.contains("must be a list"), "{error}");
        let error = read("ignore = [\n").expect_err("not toml");
        assert!(error.message.starts_with("not valid TOML"), "{error}");
        let error = read("[severity]\nWF902 = \"fatal\"\n").expect_err("severity");
        assert_eq!(error.message, "`fatal` is no severity");
    }

    #[test]
    fn pyproject_is_read_only_under_tool_wfc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(PYPROJECT);
        std::fs::write(
            &path,
            "[project]\nname = \"x\"\n[tool.wfc]\nignore = [\"WF901\"]\n",
        )
        .expect("write");
        let config = Config::read(&path).expect("config");
        assert_eq!(config.ignore.0.codes, vec![Code::TemplateInScript]);
        assert_eq!(config.ignore.1, Origin::File(4));
    }
}
