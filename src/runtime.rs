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

/// The version the library at `path` reports (`OrtGetApiBase()->GetVersionString()`, e.g.
/// `1.24.1`). `ort::info()` is the build string, which names no version in the PyPI wheels.
fn library_version(path: &Path) -> std::result::Result<String, String> {
    type GetApiBase = unsafe extern "system" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: `path` is the ONNX Runtime library ort has just loaded, so dlopen returns the same
    // handle (its refcount keeps it loaded after `library` drops). `OrtGetApiBase` and
    // `GetVersionString` take no arguments; the string is static in the library and is copied
    // before the handle is released.
    unsafe {
        let library = libloading::Library::new(path).map_err(|e| e.to_string())?;
        let get_api_base: libloading::Symbol<'_, GetApiBase> =
            library.get(b"OrtGetApiBase").map_err(|e| e.to_string())?;
        let base = get_api_base();
        if base.is_null() {
            return Err("OrtGetApiBase returned null".into());
        }
        let version = ((*base).GetVersionString)();
        if version.is_null() {
            return Err("GetVersionString returned null".into());
        }
        std::ffi::CStr::from_ptr(version).to_str().map(str::to_owned).map_err(|e| e.to_string())
    }
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
        let version = library_version(&path).unwrap_or_else(|reason| format!("unknown ({reason})"));
        Ok(Loaded { _environment: environment, path, version })
    });
    match loaded {
        Ok(l) => Ok((l.path.clone(), l.version.clone())),
        Err(message) => Err(TierscopeError::Runtime(message.clone())),
    }
}

/// Where the ONNX Runtime library stands in this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeStatus {
    /// Nothing has loaded it yet ([`init`] was not called).
    NotLoaded,
    /// Loaded from `path`, reporting `version`.
    Loaded {
        /// The shared library loaded.
        path: PathBuf,
        /// Its version string (e.g. `1.24.1`).
        version: String,
    },
    /// [`init`] failed (library not found or not loadable); the message says why.
    Failed(String),
}

/// The runtime's state, without loading it.
pub fn status() -> RuntimeStatus {
    match RUNTIME.get() {
        None => RuntimeStatus::NotLoaded,
        Some(Ok(loaded)) => {
            RuntimeStatus::Loaded { path: loaded.path.clone(), version: loaded.version.clone() }
        }
        Some(Err(message)) => RuntimeStatus::Failed(message.clone()),
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
    fn status_reports_what_init_did() {
        // Another test may have loaded the runtime already; either way status agrees with init.
        let outcome = init(&[]);
        match (outcome, status()) {
            (Ok((path, version)), RuntimeStatus::Loaded { path: p, version: v }) => {
                // A release number such as 1.24.1, not the build string.
                assert!(version.split('.').all(|part| part.parse::<u32>().is_ok()), "{version}");
                assert_eq!((path, version), (p, v));
            }
            (Err(err), RuntimeStatus::Failed(message)) => {
                assert_eq!(err.to_string(), TierscopeError::Runtime(message).to_string());
            }
            (outcome, status) => panic!("init gave {outcome:?} but status is {status:?}"),
        }
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
