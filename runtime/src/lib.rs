//! wfc-runtime: the VM that runs compiled plans (not built yet; see the project issues).
