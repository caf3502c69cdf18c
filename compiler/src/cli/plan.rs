//! `wfc plan show`: a plan file as JSON, for people.

use super::args::PlanCommand;
use super::{Done, Error};
use crate::plan;

pub(super) fn run(command: &PlanCommand) -> Result<Done, Error> {
    match command {
        PlanCommand::Show { file } => {
            let (header, plan) = plan::read(file)?;
            let value = serde_json::json!({ "header": header, "plan": plan });
            let text = serde_json::to_string_pretty(&value)?;
            super::print(&(text + "\n"))?;
            Ok(Done::Clean)
        }
    }
}
