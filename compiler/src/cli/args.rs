//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// wfc: compiler for ddeutil-workflow YAML workflows.
#[derive(Debug, Parser)]
#[command(name = "wfc", version, about, propagate_version = true)]
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
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders to check [default: $WORKFLOW_CORE_CONF_PATH, else ./conf, else .]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,

    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,

    /// Print what a diagnostic code means (e.g. WF101 or unknown-key) and exit.
    #[arg(long, value_name = "CODE")]
    pub explain: Option<String>,

    /// When to colour human output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// Do not read or write the check cache (`.wfc/cache/check.bin`, or under
    /// `$WFC_CACHE_DIR`), which lets unchanged files skip parsing.
    #[arg(long)]
    pub no_cache: bool,

    /// A filter registered in Python with `@custom_filter` (repeatable).
    #[arg(long = "filter", value_name = "NAME")]
    pub filters: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Github,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}
