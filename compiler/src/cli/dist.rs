//! What installs `wfc`, `wfr` and `wfr-python` beside the binaries: shell
//! completions (`completions`), man pages (`man`), and the `--version` they say.
//! Shared: `wfr` (and `wfr-python`) takes [`CompletionsArgs`] and [`ManArgs`]
//! and calls [`completions`] and [`man`] with its own command.
//!
//! Completions and pages are for the name the binary is invoked as
//! ([`invoked_name`]): `wfr-python completions bash` completes `wfr-python`.

use std::path::{Path, PathBuf};

pub use clap_complete::Shell;

/// `completions SHELL`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script of.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `man [--out DIR]`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write the command's page and one per subcommand (`wfc.1`, `wfc-check.1`,
    /// …) into this folder (made if missing), instead of printing the command's
    /// page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Why `completions` or `man` did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("cannot write the man pages into {}: {error}", dir.display())]
    ManPages { dir: PathBuf, error: std::io::Error },
}

/// What `--version` says after the name: the package's version, the commit it
/// was built from (`-dirty` when built with changes not committed, `unknown`
/// when built outside git without `$WFC_GIT_COMMIT`) and the plan format it
/// writes and reads: `0.1.0 (commit 1a2b3c4d5e6f, plan format 5)`.
#[must_use]
pub fn version(commit: &str) -> String {
    format!(
        "{} (commit {commit}, plan format {})",
        env!("CARGO_PKG_VERSION"),
        wfc_plan::FORMAT_VERSION
    )
}

/// The name this process was invoked as (its file name, without `.exe`), else
/// `default`.
#[must_use]
fn invoked_name(default: &str) -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .and_then(|name| name.to_str())
                .map(|name| name.strip_suffix(".exe").unwrap_or(name).to_string())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// `command` under the name `name`, with no `help` subcommand (its page and
/// completions would only repeat `--help`).
fn named(command: clap::Command, name: &str) -> clap::Command {
    command
        .bin_name(name.to_string())
        .display_name(name.to_string())
        .disable_help_subcommand(true)
}

/// Prints the completion script of `command` (named `root` in its
/// definition, whose `--version` says `version`), invoked as
/// [`invoked_name`], for `args.shell`.
pub fn completions(
    command: clap::Command,
    root: &'static str,
    version: &'static str,
    args: &CompletionsArgs,
) -> Result<(), DistError> {
    let name = invoked_name(root);
    let mut command = named(visible(command, root, version), &name);
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, &name, &mut script);
    wfc_plan::output::stdout_with(|out| out.write_all(&script)).map_err(DistError::Stdout)
}

/// `command` without its hidden subcommands (`wfr guard`): clap_complete
/// offers hidden items as well (clap-rs/clap#1335), and clap cannot remove a
/// subcommand, so the top level is made again. Hidden options of subcommands
/// (`--run-id`) are still offered.
fn visible(command: clap::Command, root: &'static str, version: &'static str) -> clap::Command {
    let mut top = clap::Command::new(root)
        .version(version)
        .propagate_version(command.is_propagate_version_set())
        .args(
            command
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .cloned(),
        )
        .subcommands(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .cloned(),
        );
    if let Some(about) = command.get_about() {
        top = top.about(about.clone());
    }
    top
}

/// Prints the man page of `command`, or writes it and one page per subcommand into `--out`; invoked as [`invoked_name`] (else
/// `root`). Hidden subcommands get no page.
pub fn man(command: clap::Command, root: &str, args: &ManArgs) -> Result<(), DistError> {
    let command = named(command, &invoked_name(root));
    if let Some(dir) = &args.out {
        let failed = |error| DistError::ManPages {
            dir: dir.clone(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        return clap_mangen::generate_to(command, dir).map_err(failed);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(DistError::Stdout)?;
    wfc_plan::output::stdout_with(|out| out.write_all(&page)).map_err(DistError::Stdout)
}
