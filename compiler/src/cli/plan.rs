//! `wfc plan show`: a plan file as JSON, for people.

use super::args::PlanCommand;
use super::{EXIT_OK, EXIT_USAGE};
use crate::plan;

pub(super) fn run(command: &PlanCommand) -> u8 {
    match command {
        PlanCommand::Show { file } => match plan::read(file) {
            Ok((header, plan)) => {
                let value = serde_json::json!({ "header": header, "plan": plan });
                match serde_json::to_string_pretty(&value) {
                    Ok(text) => match super::print(&(text + "\n")) {
                        Ok(()) => EXIT_OK,
                        Err(status) => status,
                    },
                    Err(error) => {
                        crate::errln!("wfc: error: {error}");
                        EXIT_USAGE
                    }
                }
            }
            Err(error) => {
                crate::errln!("wfc: error: {error}");
                EXIT_USAGE
            }
        },
    }
}
