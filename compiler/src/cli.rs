//! The `wfc` command line: argument parsing and one module per subcommand.

mod args;
mod check;
mod compile;
pub mod dist;
mod graph;
mod plan;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;

use clap::{CommandFactory as _, Parser as _};

use crate::diagnostic::{Code, Diagnostic};
use crate::render::{self, Color, Format};
use crate::source::Sources;
use crate::syntax::discover::{self, DiscoverError};

/// What `wfc --version` says after `wfc` (see [`dist::version`]).
pub static VERSION: LazyLock<String> = LazyLock::new(|| dist::version(env!("WFC_BUILD_COMMIT")));

/// Exit status when the input was checked and is clean.
pub const EXIT_OK: u8 = 0;
/// Exit status when the input has errors (or warnings under `--deny-warnings`).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

/// How a command that did its work came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// Nothing that fails the input.
    Clean,
    /// Findings that fail the input (errors, or warnings under
    /// `--deny-warnings`), or workflows left without a plan because of them.
    Findings,
    /// `wfc compile` could not write some plans (each is said as it fails).
    PlansNotWritten,
}

/// Why a command stopped short. [`main`] says it once, as `wfc: error: …`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line does not parse, or asks for `--help` or `--version`
    /// (clap prints it, in its own words).
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// A path to load cannot be read: missing, a FIFO, unreadable.
    #[error(transparent)]
    Input(#[from] DiscoverError),
    /// `--resolve-calls` got no answer from Python.
    #[error(transparent)]
    Registry(#[from] crate::registry::QueryError),
    /// `--explain` of a code that does not exist; the message lists those that do.
    #[error("unknown code `{0}`; codes are:{codes}", codes = code_list())]
    UnknownCode(String),
    /// `wfc graph` of a name no workflow has (`hint`: a "did you mean").
    #[error("no workflow is named `{name}`{hint}")]
    NoWorkflow { name: String, hint: String },
    /// `wfc plan show` of a file that is not a usable plan.
    #[error(transparent)]
    Plan(#[from] wfc_plan::PlanError),
    /// `wfc plan show`: the plan cannot be turned into JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("cannot write the report: {0}")]
    Report(std::io::Error),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    /// `wfc lsp` lost its client.
    #[error(transparent)]
    Lsp(#[from] crate::lsp::LspError),
    /// The configuration file cannot be used.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Options that do not go together, said in words.
    #[error("{0}")]
    Usage(String),
    /// `wfc completions`, `wfc man` cannot write.
    #[error(transparent)]
    Dist(#[from] dist::DistError),
    #[error("cannot read stdin: {0}")]
    Stdin(std::io::Error),
    /// `--fix` cannot write a fixed file (the file is left as it was).
    #[error("cannot write the fixed {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    /// `--watch` cannot watch the paths.
    #[error("cannot watch {}: {error}", path.display())]
    Watch { path: PathBuf, error: String },
}

/// Every code, one per line (after the line that asks for them).
fn code_list() -> String {
    use std::fmt::Write as _;
    let mut list = String::new();
    for c in Code::ALL {
        let _ = write!(list, "\n  {} {:<24} {}", c.id(), c.name(), c.summary());
    }
    list
}

/// The exit status of a command: the one place statuses are chosen (README,
/// "Exit status").
#[must_use]
pub fn exit_code(result: &Result<Done, Error>) -> u8 {
    match result {
        Ok(Done::Clean) => EXIT_OK,
        Ok(Done::Findings) => EXIT_FINDINGS,
        Ok(Done::PlansNotWritten) => EXIT_USAGE,
        // `--help`, `--version`.
        Err(Error::Args(error)) if !error.use_stderr() => EXIT_OK,
        Err(
            Error::Args(_)
            | Error::Input(_)
            | Error::Registry(_)
            | Error::UnknownCode(_)
            | Error::NoWorkflow { .. }
            | Error::Plan(_)
            | Error::Json(_)
            | Error::Report(_)
            | Error::Stdout(_)
            | Error::Lsp(_)
            | Error::Config(_)
            | Error::Usage(_)
            | Error::Dist(_)
            | Error::Stdin(_)
            | Error::Write { .. }
            | Error::Watch { .. },
        ) => EXIT_USAGE,
    }
}

/// Runs `wfc` with the process arguments.
#[must_use]
pub fn main() -> ExitCode {
    let result = run();
    match &result {
        Ok(_) => {}
        Err(Error::Args(error)) => {
            let _ = error.print();
        }
        Err(error) => crate::errln!("wfc: error: {error}"),
    }
    ExitCode::from(exit_code(&result))
}

fn run() -> Result<Done, Error> {
    let cli = args::Cli::try_parse()?;
    match cli.command {
        args::Command::Check(args) => check::run(&args),
        args::Command::Compile(args) => compile::run(&args),
        args::Command::Plan(command) => plan::run(&command),
        args::Command::Graph(args) => graph::run(&args),
        args::Command::Lsp { path } => {
            crate::lsp::serve_stdio(path)?;
            Ok(Done::Clean)
        }
        args::Command::Schema => {
            let mut text =
                serde_json::to_string_pretty(&crate::schema::schema()).unwrap_or_default();
            text.push('\n');
            print(&text)?;
            Ok(Done::Clean)
        }
        args::Command::Completions(args) => {
            dist::completions(args::Cli::command(), "wfc", VERSION.as_str(), &args)?;
            Ok(Done::Clean)
        }
        args::Command::Man(args) => {
            dist::man(args::Cli::command(), "wfc", &args)?;
            Ok(Done::Clean)
        }
    }
}

impl args::InputArgs {
    /// The paths to load: the given ones, else the defaults.
    fn paths(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            discover::default_paths()
        } else {
            self.paths.clone()
        }
    }

    fn options(&self) -> crate::check::Options {
        crate::check::Options {
            extra_filters: self.filters.clone(),
        }
    }

    /// Where the check cache lives: `$WFC_CACHE_DIR/check.bin`, else
    /// `.wfc/cache/check.bin` in the project's root (see
    /// [`crate::state::project_root`]); `None` with `--no-cache`.
    fn cache_file(&self) -> Option<PathBuf> {
        self.cache_file_in(None, &self.paths())
    }

    /// [`Self::cache_file`], with the configuration's `cache-dir` (which
    /// `$WFC_CACHE_DIR` overrides) and the paths checked.
    fn cache_file_in(&self, configured: Option<PathBuf>, paths: &[PathBuf]) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        let dir = std::env::var_os("WFC_CACHE_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or(configured)
            .unwrap_or_else(|| {
                crate::state::project_root(paths)
                    .join(crate::state::STATE_DIR)
                    .join("cache")
            });
        Some(dir.join("check.bin"))
    }
}

/// How findings are printed beyond their format and colour.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Reporting<'a> {
    /// SARIF's `helpUri` template (the configuration's `help-uri`).
    pub help_uri: Option<&'a str>,
    /// `--deny-warnings` (JUnit reports warnings as failures then).
    pub deny_warnings: bool,
    /// To stderr (`wfc check - --fix`, whose stdout is the fixed text).
    pub stderr: bool,
}

/// Prints findings to stdout in the chosen format.
fn report(
    args: &args::ReportArgs,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> Result<(), Error> {
    report_with(args, sources, diagnostics, Reporting::default())
}

/// [`report`], as `how` says.
fn report_with(
    args: &args::ReportArgs,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    how: Reporting<'_>,
) -> Result<(), Error> {
    let format = format_of(args.format);
    let terminal = if how.stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let color = match args.color {
        args::ColorArg::Always => Color::Always,
        args::ColorArg::Never => Color::Never,
        args::ColorArg::Auto if terminal && std::env::var_os("NO_COLOR").is_none() => Color::Always,
        args::ColorArg::Auto => Color::Never,
    };
    let options = render::Options {
        color,
        help_uri: how.help_uri.map(str::to_string),
        deny_warnings: how.deny_warnings,
    };
    if how.stderr {
        let mut err = std::io::stderr().lock();
        return render::write(&mut err, format, sources, diagnostics, &options)
            .map_err(Error::Report);
    }
    crate::output::stdout_with(|out| render::write(out, format, sources, diagnostics, &options))
        .map_err(Error::Report)
}

fn format_of(format: args::FormatArg) -> Format {
    match format {
        args::FormatArg::Human => Format::Human,
        args::FormatArg::Json => Format::Json,
        args::FormatArg::Github => Format::Github,
        args::FormatArg::Sarif => Format::Sarif,
        args::FormatArg::Junit => Format::Junit,
        args::FormatArg::Gitlab => Format::Gitlab,
    }
}

/// Prints `text` on stdout (a closed pipe ends it quietly).
fn print(text: &str) -> Result<(), Error> {
    crate::output::stdout(text).map_err(Error::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    /// Every outcome and every error maps to the status README gives it.
    #[test]
    fn exit_codes_are_the_documented_ones() {
        use clap::error::ErrorKind;
        let path = PathBuf::from("conf");
        let cases: Vec<(Result<Done, Error>, u8)> = vec![
            (Ok(Done::Clean), 0),
            (Ok(Done::Findings), 1),
            (Ok(Done::PlansNotWritten), 2),
            (Err(clap::Error::new(ErrorKind::DisplayHelp).into()), 0),
            (Err(clap::Error::new(ErrorKind::DisplayVersion).into()), 0),
            (Err(clap::Error::new(ErrorKind::UnknownArgument).into()), 2),
            (
                Err(DiscoverError {
                    path: path.clone(),
                    message: "no such file or directory".into(),
                }
                .into()),
                2,
            ),
            (
                Err(crate::registry::QueryError::Import {
                    python: "python3".into(),
                    stderr: String::new(),
                }
                .into()),
                2,
            ),
            (Err(Error::UnknownCode("WF999".into())), 2),
            (
                Err(Error::NoWorkflow {
                    name: "x".into(),
                    hint: String::new(),
                }),
                2,
            ),
            (Err(wfc_plan::PlanError::NotAPlan { path }.into()), 2),
            (
                Err(serde_json::from_str::<u8>("x")
                    .expect_err("not JSON")
                    .into()),
                2,
            ),
            (Err(Error::Report(io())), 2),
            (Err(Error::Stdout(io())), 2),
        ];
        for (result, code) in &cases {
            assert_eq!(exit_code(result), *code, "{result:?}");
        }
    }

    #[test]
    fn an_unknown_code_lists_every_code_on_its_own_line() {
        let text = Error::UnknownCode("WF999".into()).to_string();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("unknown code `WF999`; codes are:"));
        assert_eq!(lines.count(), Code::ALL.len());
    }
}
