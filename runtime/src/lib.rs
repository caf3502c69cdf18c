//! wfc-runtime: the VM that runs compiled plans.

pub mod eval;
pub mod params;
pub mod value;
