//! Build facts for `tierscope._core.build_info()`: the build profile and target, the rustc
//! version, and with the `python` feature the pyo3 version (from Cargo.lock) and the Python ABI
//! the extension targets (from pyo3's build configuration). Nothing here changes what is
//! compiled; a fact that cannot be found is left empty.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    emit("TIERSCOPE_BUILD_PROFILE", &std::env::var("PROFILE").unwrap_or_default());
    emit("TIERSCOPE_BUILD_TARGET", &std::env::var("TARGET").unwrap_or_default());
    emit("TIERSCOPE_RUSTC_VERSION", &rustc_version());
    #[cfg(feature = "python")]
    python::emit_facts();
}

fn emit(name: &str, value: &str) {
    println!("cargo:rustc-env={name}={value}");
}

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_string())
        .unwrap_or_default()
}

#[cfg(feature = "python")]
mod python {
    use super::emit;

    pub fn emit_facts() {
        println!("cargo:rerun-if-changed=Cargo.lock");
        emit("TIERSCOPE_PYO3_VERSION", &locked_version("pyo3").unwrap_or_default());
        let abi = pyo3_build_config::get().target_abi();
        // e.g. "abi3, CPython >= 3.10": one wheel for every CPython from that version on.
        emit(
            "TIERSCOPE_PYTHON_ABI",
            &format!("{}, {} >= {}", abi.kind(), abi.implementation(), abi.version()),
        );
    }

    /// The version of `package` in Cargo.lock (`[[package]] name = "…" version = "…"`).
    fn locked_version(package: &str) -> Option<String> {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).ok()?;
        let name_line = format!("name = \"{package}\"");
        let mut lines = lock.lines();
        lines.find(|line| line.trim() == name_line)?;
        let version = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
        Some(version.to_string())
    }
}
