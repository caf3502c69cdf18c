//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// wfc: compiler for ddeutil-workflow YAML workflows.
#[derive(Debug, Parser)]
#[command(name = "wfc", version = super::VERSION.as_str(), about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check workflow files and report every problem found.
    ///
    /// Exit status: 0 when clean (warnings alone are clean unless --deny-warnings),
    /// 1 when there are findings, 2 on usage or I/O errors.
    Check(CheckArgs),
    /// Compile workflows to plan files (one per workflow), skipping those that are
    /// up to date. Workflows with errors get no plan.
    ///
    /// Exit status: 0 when every workflow compiled, 1 when some have errors, 2 on
    /// usage or I/O errors.
    Compile(CompileArgs),
    /// Inspect plan files.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Print a workflow's job graph, stages nested in their jobs.
    Graph(GraphArgs),
    /// Print the JSON Schema (draft 2020-12) of a workflow file, for editors:
    /// `wfc schema > wfc.schema.json`, then `# yaml-language-server: $schema=wfc.schema.json`
    /// at the top of a workflow file.
    Schema,
    /// Serve the Language Server Protocol on stdin/stdout, for editors: every
    /// `wfc check` finding as you type, quick fixes, hover and go to definition.
    Lsp {
        /// The workspace (default: the editor's, else $WORKFLOW_CORE_CONF_PATH,
        /// ./conf or .).
        path: Option<std::path::PathBuf>,
    },
    /// Print the shell completion script of wfc.
    ///
    /// For example `wfc completions bash > ~/.local/share/bash-completion/completions/wfc`
    /// (README, "Shell completions and man pages").
    Completions(super::dist::CompletionsArgs),
    /// Print wfc's man page, or write it and one per subcommand into a folder.
    ///
    /// For example `wfc man --out ~/.local/share/man/man1`, then `man wfc-check`.
    Man(super::dist::ManArgs),
}

/// Which files, and what the checks need to know.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files or folders [default: $WORKFLOW_CORE_CONF_PATH, else ./conf, else .]
    pub paths: Vec<PathBuf>,

    /// A filter registered in Python with `@custom_filter` (repeatable; added to
    /// the configuration's `filters`).
    #[arg(long = "filter", value_name = "NAME")]
    pub filters: Vec<String>,

    /// Do not read or write the check cache (`.wfc/cache/check.bin` in the project's
    /// root, or under `$WFC_CACHE_DIR` or the configuration's `cache-dir`), which lets unchanged files skip parsing;
    /// `wfc compile` also rewrites every plan, up to date or not.
    #[arg(long)]
    pub no_cache: bool,
}

/// How findings are printed.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format of findings.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,

    /// When to colour human output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub report: ReportArgs,

    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,

    /// Import the project's task packages with python3 ($WFC_PYTHON) and check
    /// every Call stage's function, tag and arguments, and the filters templates
    /// use, against what they register.
    #[arg(long)]
    pub resolve_calls: bool,

    /// Print what a diagnostic code means (e.g. WF101 or unknown-key) and exit.
    #[arg(long, value_name = "CODE")]
    pub explain: Option<String>,

    #[command(flatten)]
    pub lint: LintArgs,

    #[command(flatten)]
    pub fixing: FixArgs,

    /// The path stdin (`wfc check -`) stands for, in messages and for the
    /// configuration; it replaces that file among the workflows checked.
    #[arg(long, value_name = "PATH")]
    pub stdin_filename: Option<PathBuf>,

    /// Check again whenever a workflow file changes (unchanged files are not
    /// parsed again). Stop with Ctrl-C.
    #[arg(long, conflicts_with_all = ["fix", "diff", "show_config"])]
    pub watch: bool,
}

/// `--fix` and `--diff`.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// Apply the safe fixes (`--unsafe-fixes`: the unsafe ones too), then report
    /// what remains. Exit status 0 only when no error remains. With `-`, the
    /// fixed text goes to stdout and the findings to stderr.
    #[arg(long)]
    pub fix: bool,

    /// Print the fixes as a unified diff instead of applying them (exit status
    /// 1 when there is one).
    #[arg(long, conflicts_with = "fix")]
    pub diff: bool,

    /// With `--fix` or `--diff`: apply the fixes that may change what a
    /// workflow does too.
    #[arg(long)]
    pub unsafe_fixes: bool,
}

/// The configuration (`wfc.toml`, `[tool.wfc]`) and what it decides.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Read this configuration file instead of looking for one.
    #[arg(long, value_name = "FILE", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,

    /// Read no configuration file.
    #[arg(long)]
    pub isolated: bool,

    /// Print the configuration in force, and where each value came from, and exit.
    #[arg(long)]
    pub show_config: bool,

    /// Show every finding, suppressed by a `# wfc: ignore[…]` comment or not.
    #[arg(long)]
    pub no_suppress: bool,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub report: ReportArgs,

    #[command(flatten)]
    pub lint: LintArgs,

    /// Where to write plans.
    #[arg(
        short = 'o',
        long = "out",
        value_name = "DIR",
        default_value = ".wfc/plans"
    )]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Print a plan file as JSON (its header and the plan).
    Show {
        /// The `.wfp` file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The workflow's name.
    pub name: String,

    #[command(flatten)]
    pub input: InputArgs,

    /// Graph language.
    #[arg(long, value_enum, default_value_t = GraphFormatArg::Dot)]
    pub format: GraphFormatArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Github,
    Sarif,
    Junit,
    Gitlab,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormatArg {
    Dot,
    Mermaid,
}
