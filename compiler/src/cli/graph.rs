//! `wfc graph NAME`: a workflow's job graph as DOT or Mermaid.

use super::args::{GraphArgs, GraphFormatArg, ReportArgs};
use super::{Done, Error};
use crate::check;
use crate::compile;
use crate::diagnostic::suggestion;
use crate::plan::graph::{self, GraphFormat};

pub(super) fn run(args: &GraphArgs) -> Result<Done, Error> {
    let cache = args.input.cache_file();
    let checked = check::check_paths(&args.input.paths(), &args.input.options(), cache.as_deref())?;
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
            Err(Error::NoWorkflow {
                name: args.name.clone(),
                hint,
            })
        }
        // Said before the findings that explain it; the findings decide the status.
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
            Ok(Done::Findings)
        }
        Some(Ok(plan)) => {
            let format = match args.format {
                GraphFormatArg::Dot => GraphFormat::Dot,
                GraphFormatArg::Mermaid => GraphFormat::Mermaid,
            };
            super::print(&graph::render(&plan, format))?;
            Ok(Done::Clean)
        }
    }
}
