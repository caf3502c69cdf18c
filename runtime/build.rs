//! With the `python` feature: the `wfr` binary (and the tests) load the libpython
//! they were built against, from its own folder (an rpath), and know that
//! interpreter's home, so no environment variable is needed to run them.
//!
//! Always: the git commit `wfr --version` says (`WFC_BUILD_COMMIT`). This script
//! is `runtime/wfr-python`'s too, whose sources are `runtime/src`.

use std::path::Path;

include!("../plan/build/commit.rs");

fn main() {
    // The sources, so that `-dirty` follows them (these lines replace cargo's
    // default of running the script again when any file of the package changes).
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in [
        manifest.join("src"),
        manifest.join("../src"),
        manifest.join("main.rs"),
    ] {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    commit();
    #[cfg(feature = "python")]
    python();
}

#[cfg(feature = "python")]
fn python() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    let home = config.executable().and_then(|python| {
        let out = std::process::Command::new(python)
            .args(["-c", "import sys; print(sys.base_prefix)"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    if let Some(home) = home {
        println!("cargo:rustc-env=WFR_PYTHON_HOME={home}");
    }
    println!("cargo:rustc-env=WFR_PYTHON_VERSION={}", config.version());
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
