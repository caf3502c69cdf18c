//! `wfc graph NAME`: a workflow's job graph as DOT or Mermaid.

use super::args::{GraphArgs, GraphFormatArg, ReportArgs};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check;
use crate::compile;
use crate::diagnostic::suggestion;
use crate::plan::graph::{self, GraphFormat};

pub(super) fn run(args: &GraphArgs) -> u8 {
    let cache = args.input.cache_file();
    let checked =
        match check::check_paths(&args.input.paths(), &args.input.options(), cache.as_deref()) {
            Ok(checked) => checked,
            Err(error) => {
                crate::errln!("wfc: error: {error}");
                return EXIT_USAGE;
            }
        };
    match compile::lower_one(&checked, &args.name) {
        None => {
            let names = checked
                .workflows
                .iter()
                .flatten()
                .map(|w| w.name.value.as_str());
            let hint = suggestion(&args.name, names)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            crate::errln!("wfc: error: no workflow is named `{}`{hint}", args.name);
            EXIT_USAGE
        }
        Some(Err(errors)) => {
            crate::errln!(
                "wfc: error: workflow `{}` has errors; fix them first:",
                args.name
            );
            let report = ReportArgs {
                format: super::args::FormatArg::Human,
                color: super::args::ColorArg::Auto,
            };
            let _ = super::report(&report, &checked.sources, &errors);
            EXIT_FINDINGS
        }
        Some(Ok(plan)) => {
            let format = match args.format {
                GraphFormatArg::Dot => GraphFormat::Dot,
                GraphFormatArg::Mermaid => GraphFormat::Mermaid,
            };
            match super::print(&graph::render(&plan, format)) {
                Ok(()) => EXIT_OK,
                Err(status) => status,
            }
        }
    }
}
