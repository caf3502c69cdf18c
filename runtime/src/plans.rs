//! Finding plans by workflow name: a folder of compiled plans (`.wfc/plans`), each
//! loaded once per process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wfc_plan::{self as plan, Plan, PlanError};

/// Why a workflow (a trigger's target) has no plan to run.
#[derive(Debug, thiserror::Error)]
pub enum NoPlan {
    #[error(
        "no plan for workflow {} in {}: is the workflow defined, and compiled with `wfc compile`?",
        wfc_plan::pytext::repr_str(name),
        dir.display()
    )]
    Missing { name: String, dir: PathBuf },
    /// Its plan file is there, but cannot be used.
    #[error(transparent)]
    Unusable(#[from] PlanError),
}

pub struct PlanStore {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<Plan>>>,
}

impl PlanStore {
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The plan of workflow `name`.
    pub fn get(&self, name: &str) -> Result<Arc<Plan>, NoPlan> {
        if let Some(plan) = self.loaded.lock().ok().and_then(|m| m.get(name).cloned()) {
            return Ok(plan);
        }
        let path = self.dir.join(plan::file_name(name));
        if !path.exists() {
            return Err(NoPlan::Missing {
                name: name.to_string(),
                dir: self.dir.clone(),
            });
        }
        let (_, plan) = plan::read(&path)?;
        let plan = Arc::new(plan);
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(name.to_string(), Arc::clone(&plan));
        }
        Ok(plan)
    }

    /// Adds an already loaded plan.
    pub fn insert(&self, plan: Arc<Plan>) {
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(plan.name.clone(), plan);
        }
    }
}
