//! Locating and initialising the ONNX Runtime shared library.
//!
//! tierscope links ONNX Runtime dynamically (`ort`'s `load-dynamic`), using the
//! `libonnxruntime.so.<version>` that ships inside the PyPI `onnxruntime` wheel, so nothing is
//! downloaded at build or run time. The library is found, in order:
//! 1. the path in `TIERSCOPE_ORT_DYLIB` (must exist);
//! 2. `onnxruntime/capi/libonnxruntime.so.*` under each directory the caller passes (the Python
//!    façade passes the installed `onnxruntime` package's location), newest version first.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Result, TierscopeError};

/// Environment variable that overrides where the ONNX Runtime library is loaded from.
pub const ORT_DYLIB_ENV: &str = "TIERSCOPE_ORT_DYLIB";

const INSTALL_HINT: &str =
    "install the ONNX Runtime wheel (`pip install onnxruntime`, version 1.24 or newer) \
     or set TIERSCOPE_ORT_DYLIB to the absolute path of libonnxruntime.so";

struct Loaded {
    _environment: ort::environment::Environment,
    path: PathBuf,
    version: String,
}

static RUNTIME: OnceLock<std::result::Result<Loaded, String>> = OnceLock::new();

/// Parse `libonnxruntime.so.1.32.0` (or `.dylib`/`.dll` names with a version) into a sortable key.
fn version_key(file_name: &str) -> Option<Vec<u32>> {
    let rest = file_name.strip_prefix("libonnxruntime.so.")?;
    rest.split('.').map(|part| part.parse().ok()).collect()
}

/// The newest `libonnxruntime.so.<version>` directly inside `dir`, if any.
fn newest_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            version_key(&name).map(|key| (key, entry.path()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

/// Find the ONNX Runtime library: `TIERSCOPE_ORT_DYLIB`, else the newest versioned library in
/// `<dir>/capi/` or `<dir>/onnxruntime/capi/` for each of `search_dirs`.
pub fn find_library(search_dirs: &[PathBuf]) -> Result<PathBuf> {
    if let Some(value) = std::env::var_os(ORT_DYLIB_ENV) {
        let path = PathBuf::from(value);
        if !path.is_file() {
            return Err(TierscopeError::Runtime(format!(
                "{ORT_DYLIB_ENV}={} does not name a file; {INSTALL_HINT}",
                path.display()
            )));
        }
        return std::path::absolute(&path).map_err(|e| TierscopeError::io(&path, e));
    }
    for dir in search_dirs {
        for candidate in [dir.join("capi"), dir.join("onnxruntime").join("capi")] {
            if let Some(found) = newest_in(&candidate) {
                return std::path::absolute(&found).map_err(|e| TierscopeError::io(&found, e));
            }
        }
    }
    let searched: Vec<String> = search_dirs.iter().map(|d| d.display().to_string()).collect();
    Err(TierscopeError::Runtime(format!(
        "libonnxruntime.so.<version> not found (searched {ORT_DYLIB_ENV} and [{}]); {INSTALL_HINT}",
        searched.join(", ")
    )))
}

/// Load ONNX Runtime once per process. Later calls return the first outcome, success or failure.
/// Returns the library path and its version string.
pub fn init(search_dirs: &[PathBuf]) -> Result<(PathBuf, String)> {
    let loaded = RUNTIME.get_or_init(|| {
        let path = find_library(search_dirs).map_err(|e| e.to_string())?;
        let builder = ort::init_from(&path)
            .map_err(|e| format!("cannot load {}: {e}; {INSTALL_HINT}", path.display()))?;
        let environment = builder
            .with_name("tierscope")
            .build()
            .map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))?;
        let version = ort::info().split(',').next().unwrap_or("").to_string();
        Ok(Loaded { _environment: environment, path, version })
    });
    match loaded {
        Ok(l) => Ok((l.path.clone(), l.version.clone())),
        Err(message) => Err(TierscopeError::Runtime(message.clone())),
    }
}

/// The loaded ONNX Runtime environment; [`init`] must have succeeded first.
pub(crate) fn environment() -> Result<&'static ort::environment::Environment> {
    match RUNTIME.get() {
        Some(Ok(loaded)) => Ok(&loaded._environment),
        Some(Err(message)) => Err(TierscopeError::Runtime(message.clone())),
        None => init(&[]).and_then(|_| environment()),
    }
}

/// The number of CPU cores available to this process (cgroup/affinity aware).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_key_orders_versions_numerically() {
        assert!(version_key("libonnxruntime.so.1.32.0") > version_key("libonnxruntime.so.1.9.0"));
        assert_eq!(version_key("libonnxruntime.so"), None);
        assert_eq!(version_key("libonnxruntime_providers_shared.so"), None);
    }

    #[test]
    fn newest_library_is_picked_by_pattern() {
        let dir = std::env::temp_dir().join(format!("tierscope-rt-{}", std::process::id()));
        let capi = dir.join("onnxruntime").join("capi");
        std::fs::create_dir_all(&capi).unwrap();
        for name in
            ["libonnxruntime.so.1.9.0", "libonnxruntime.so.1.24.1", "libonnxruntime_providers_shared.so"]
        {
            std::fs::write(capi.join(name), b"").unwrap();
        }
        let found = newest_in(&capi).unwrap();
        assert!(found.ends_with("libonnxruntime.so.1.24.1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
