//! `wfc check`: configure, load, check, suppress, fix, render.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::args::CheckArgs;
use super::{Done, Error};
use crate::check::{self, Checked, Overlay};
use crate::config::{Config, Origin};
use crate::diagnostic::{Code, Diagnostic};
use crate::fix;
use crate::registry;
use crate::source::SourceFile;
use crate::span::FileId;
use crate::suppress::{self, Policy};

/// Most bytes read from stdin (a workflow file's bound).
const MAX_STDIN: u64 = crate::input::MAX_WORKFLOW_FILE;

/// The path findings of stdin are shown under when no `--stdin-filename` is given.
const STDIN_NAME: &str = "<stdin>";

pub(super) fn run(args: &CheckArgs) -> Result<Done, Error> {
    if let Some(code) = &args.explain {
        return explain(code);
    }
    let session = Session::new(args)?;
    if args.lint.show_config {
        super::print(&session.show_config())?;
        return Ok(Done::Clean);
    }
    if args.watch {
        return super::watch::run(args, &session);
    }
    session.once(args)
}

/// What one `wfc check` works with: its configuration, paths and options.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub config: Config,
    pub paths: Vec<PathBuf>,
    pub options: check::Options,
    pub cache: Option<PathBuf>,
    pub stdin: Option<Overlay>,
    pub no_suppress: bool,
}

impl Session {
    pub(super) fn new(args: &CheckArgs) -> Result<Session, Error> {
        Self::of(
            &args.input,
            &args.lint,
            args.stdin_filename.as_ref(),
            args.watch,
        )
    }

    /// The session of `wfc compile` or `wfc check`: the configuration found
    /// for the paths, the paths (the configuration's `conf` when none are
    /// given), filters and cache.
    pub(super) fn of(
        input: &super::args::InputArgs,
        lint: &super::args::LintArgs,
        stdin_filename: Option<&PathBuf>,
        watch: bool,
    ) -> Result<Session, Error> {
        let dash = Path::new("-");
        let reads_stdin = input.paths.iter().any(|p| p == dash);
        if stdin_filename.is_some() && !reads_stdin {
            return Err(Error::Usage(
                "`--stdin-filename` names what stdin stands for, but stdin is not read: add `-` to the paths".into(),
            ));
        }
        if reads_stdin && watch {
            return Err(Error::Usage(
                "`--watch` cannot watch stdin: name the files or folders".into(),
            ));
        }
        let given: Vec<PathBuf> = input
            .paths
            .iter()
            .filter(|p| p.as_path() != dash)
            .cloned()
            .collect();
        let mut starts = given.clone();
        starts.extend(stdin_filename.into_iter().cloned());
        let config = if lint.isolated {
            Config::default()
        } else if let Some(file) = &lint.config {
            Config::read(file)?
        } else {
            Config::discover(&starts)?
        };
        let paths = if !given.is_empty() {
            given
        } else if let Some(conf) = config.conf_path() {
            vec![conf]
        } else {
            crate::syntax::discover::default_paths()
        };
        let stdin = if reads_stdin {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .take(MAX_STDIN + 1)
                .read_to_end(&mut bytes)
                .map_err(Error::Stdin)?;
            if bytes.len() as u64 > MAX_STDIN {
                return Err(Error::Usage(format!(
                    "stdin holds more than {MAX_STDIN} bytes, more than a workflow file may"
                )));
            }
            let path = stdin_filename
                .cloned()
                .unwrap_or_else(|| PathBuf::from(STDIN_NAME));
            Some(Overlay {
                path: path
                    .strip_prefix("./")
                    .map_or(path.clone(), Path::to_path_buf),
                bytes,
            })
        } else {
            None
        };
        let mut options = input.options();
        for filter in &config.filters.0 {
            if !options.extra_filters.contains(filter) {
                options.extra_filters.push(filter.clone());
            }
        }
        let cache = input.cache_file_in(config.cache_path(), &paths);
        Ok(Session {
            config,
            paths,
            options,
            cache,
            stdin,
            no_suppress: lint.no_suppress,
        })
    }

    /// The same session with its check cache at `file`.
    pub(super) fn with_cache(&self, file: PathBuf) -> Session {
        Session {
            cache: Some(file),
            ..self.clone()
        }
    }

    fn show_config(&self) -> String {
        let mut text = self.config.show();
        let extra: Vec<&String> = self
            .options
            .extra_filters
            .iter()
            .filter(|f| !self.config.filters.0.contains(f))
            .collect();
        if !extra.is_empty() {
            let _ = writeln!(
                text,
                "filters given with --filter: {}",
                extra
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let paths: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        let from = match (&self.config.conf, self.paths.len()) {
            ((Some(_), Origin::File(_)), _) => "conf",
            _ => "the command line or the defaults",
        };
        let _ = writeln!(text, "paths checked: {} (from {from})", paths.join(", "));
        let _ = writeln!(
            text,
            "check cache: {}",
            self.cache
                .as_ref()
                .map_or_else(|| "off".to_string(), |c| c.display().to_string())
        );
        text
    }

    /// How `wfc check` prints findings in this session.
    pub(super) fn reporting(&self, args: &CheckArgs, stderr: bool) -> super::Reporting<'_> {
        super::Reporting {
            help_uri: self.config.help_uri.0.as_deref(),
            deny_warnings: args.deny_warnings,
            stderr,
        }
    }

    pub(super) fn policy(&self) -> Policy<'_> {
        Policy {
            config: Some(&self.config),
            no_suppress: self.no_suppress,
        }
    }

    /// Loads and checks the paths (with `--resolve-calls`, against Python too).
    pub(super) fn check(&self, resolve_calls: bool) -> Result<Checked, Error> {
        let cache = self.cache.as_deref();
        let mut checked = check::check_paths_with(
            &self.paths,
            &self.options,
            cache,
            false,
            self.stdin.as_ref(),
        )?;
        if resolve_calls {
            let found = registry::query(&checked, &self.paths)?;
            if let Some(error) = found.filter_error() {
                crate::errln!("wfc: warning: cannot load the filter modules: {error}");
            }
            // Filters registered in Python are known now: check again (the cache
            // makes this cheap) if a template uses one.
            let unknown_filter = checked
                .diagnostics
                .iter()
                .any(|d| d.code == Code::UnknownFilter);
            if unknown_filter && !found.filters().is_empty() {
                let mut options = self.options.clone();
                options
                    .extra_filters
                    .extend(found.filters().iter().cloned());
                checked = check::check_paths_with(
                    &self.paths,
                    &options,
                    cache,
                    false,
                    self.stdin.as_ref(),
                )?;
            }
            let mut all = crate::diagnostic::Diagnostics::default();
            all.extend(std::mem::take(&mut checked.diagnostics));
            all.extend(registry::check_calls(&checked, &found));
            checked.diagnostics = all.into_sorted();
        }
        Ok(checked)
    }

    /// The findings to show: configured, suppressed, and only stdin's when
    /// stdin is read.
    pub(super) fn shown(&self, checked: &Checked) -> Vec<Diagnostic> {
        let mut shown = suppress::apply(
            self.policy(),
            &checked.sources,
            &checked.suppressions,
            checked.diagnostics.clone(),
        );
        if let Some(file) = self.stdin_file(checked) {
            shown.retain(|d| d.span.file == file);
        }
        shown
    }

    fn stdin_file(&self, checked: &Checked) -> Option<FileId> {
        let overlay = self.stdin.as_ref()?;
        (0..checked.sources.len())
            .map(crate::project::file_id)
            .find(|&f| checked.sources.path(f) == overlay.path)
    }

    fn once(&self, args: &CheckArgs) -> Result<Done, Error> {
        let checked = self.check(args.resolve_calls)?;
        if args.fixing.fix || args.fixing.diff {
            return self.fix(args, &checked);
        }
        let shown = self.shown(&checked);
        super::report_with(
            &args.report,
            &checked.sources,
            &shown,
            self.reporting(args, false),
        )?;
        Ok(status(&shown, args.deny_warnings))
    }

    /// `--fix` and `--diff`.
    fn fix(&self, args: &CheckArgs, checked: &Checked) -> Result<Done, Error> {
        let shown = self.shown(checked);
        let mut files: Vec<FileId> = shown
            .iter()
            .filter(|d| {
                d.fix
                    .as_ref()
                    .is_some_and(|f| fix::allowed(f, args.fixing.unsafe_fixes))
            })
            .map(|d| d.span.file)
            .collect();
        files.dedup();
        let mut changed = 0;
        let mut applied = 0;
        let mut stdin_text = None;
        for file in files {
            let source = checked.sources.get(file);
            let mut recheck = |text: &str| self.recheck(checked, file, text);
            let outcome = fix::fix_text(&source.text, args.fixing.unsafe_fixes, &mut recheck);
            let path = crate::render::shown_path(&source.path);
            for refused in &outcome.refused {
                crate::errln!(
                    "wfc: {path}:{}: not fixed: {} {} ({}): {}",
                    refused.line,
                    refused.code.id(),
                    refused.code.name(),
                    refused.fix,
                    refused.reason
                );
            }
            if !outcome.changed(&source.text) {
                continue;
            }
            changed += 1;
            applied += outcome.applied.len();
            let is_stdin = self.stdin_file(checked) == Some(file);
            if args.fixing.diff {
                super::print(&fix::unified_diff(&path, &source.text, &outcome.text))?;
            } else if is_stdin {
                stdin_text = Some(outcome.text);
            } else {
                write_fixed(&source.path, &source.text, &outcome.text).map_err(|error| {
                    Error::Write {
                        path: source.path.clone(),
                        error,
                    }
                })?;
            }
        }
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        if args.fixing.diff {
            if changed > 0 {
                crate::errln!(
                    "wfc: {applied} fix{} in {changed} file{} (`wfc check --fix{}` applies {})",
                    if applied == 1 { "" } else { "es" },
                    plural(changed),
                    if args.fixing.unsafe_fixes {
                        " --unsafe-fixes"
                    } else {
                        ""
                    },
                    if applied == 1 { "it" } else { "them" }
                );
            }
            return Ok(if changed > 0 {
                Done::Findings
            } else {
                Done::Clean
            });
        }
        // What remains, from the files as they are now.
        let mut after = self.rechecked(args, stdin_text.as_deref())?;
        if let Some(text) = stdin_text.or_else(|| {
            self.stdin
                .as_ref()
                .map(|o| String::from_utf8_lossy(&o.bytes).into_owned())
        }) {
            super::print(&text)?;
            super::report_with(
                &args.report,
                &after.0.sources,
                &after.1,
                self.reporting(args, true),
            )?;
        } else {
            super::report_with(
                &args.report,
                &after.0.sources,
                &after.1,
                self.reporting(args, false),
            )?;
        }
        if applied > 0 {
            crate::errln!(
                "wfc: fixed {applied} finding{} in {changed} file{}",
                plural(applied),
                plural(changed)
            );
        }
        Ok(status(&std::mem::take(&mut after.1), args.deny_warnings))
    }

    /// The project checked again after fixing (stdin: its fixed text).
    fn rechecked(
        &self,
        args: &CheckArgs,
        stdin: Option<&str>,
    ) -> Result<(Checked, Vec<Diagnostic>), Error> {
        let session;
        let this = match (stdin, &self.stdin) {
            (Some(text), Some(overlay)) => {
                session = Session {
                    stdin: Some(Overlay {
                        path: overlay.path.clone(),
                        bytes: text.as_bytes().to_vec(),
                    }),
                    ..self.clone()
                };
                &session
            }
            _ => self,
        };
        let checked = this.check(args.resolve_calls)?;
        let shown = this.shown(&checked);
        Ok((checked, shown))
    }

    /// The findings of `file` with `text` in place of its content, as they are
    /// shown, in the spans of `text` (the cross-file checks see the other files
    /// as they were).
    fn recheck(&self, checked: &Checked, file: FileId, text: &str) -> Vec<Diagnostic> {
        let path = checked.sources.path(file).to_path_buf();
        let source = SourceFile::new(path, text.to_string());
        let (model, mut diagnostics, suppressions) =
            crate::project::load_file_with_suppressions(file, &source, None);
        let report = check::check_file(&source, &model, &self.options);
        diagnostics.extend(report.diagnostics);
        crate::diagnostic::drop_broken_fixes(text, &mut diagnostics);
        let mut summaries: Vec<&check::summary::WorkflowSummary> = checked
            .workflows
            .iter()
            .enumerate()
            .filter(|(i, _)| crate::project::file_id(*i) != file)
            .flat_map(|(_, w)| w)
            .collect();
        summaries.extend(&report.workflows);
        diagnostics.extend(
            check::check_across(&summaries)
                .into_iter()
                .filter(|d| d.span.file == file),
        );
        suppress::apply_file(self.policy(), &source, &suppressions, diagnostics)
    }
}

/// Whether the shown findings fail the check.
fn status(shown: &[Diagnostic], deny_warnings: bool) -> Done {
    if shown.iter().any(|d| d.is_error() || deny_warnings) {
        Done::Findings
    } else {
        Done::Clean
    }
}

/// Writes a fixed file in place of `path`: through a symbolic link to its
/// target, with the file's permissions, atomically; refused when the file
/// changed since it was read.
fn write_fixed(path: &Path, read: &str, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let target = std::fs::canonicalize(path)?;
    let now = std::fs::read(&target)?;
    if now != read.as_bytes() {
        return Err(std::io::Error::other(
            "the file changed while it was being fixed; run `wfc check --fix` again",
        ));
    }
    let permissions = std::fs::metadata(&target)?.permissions();
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file_mut().write_all(text.as_bytes())?;
    tmp.as_file_mut().sync_all()?;
    std::fs::set_permissions(tmp.path(), permissions)?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

fn explain(code: &str) -> Result<Done, Error> {
    let Some(code) = Code::lookup(code) else {
        return Err(Error::UnknownCode(code.to_string()));
    };
    let text = format!(
        "{} {} ({})\n\n{}\n\n{}\n",
        code.id(),
        code.name(),
        code.severity().as_str(),
        code.summary(),
        code.explanation()
    );
    super::print(&text)?;
    Ok(Done::Clean)
}
