//! `wfr-python` loads the libpython it was built against from that library's own
//! folder (an rpath), as `runtime/wfr-python` does: link arguments of a library's
//! build script do not reach the binaries of the packages that use it.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg-bin=wfr-python=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
