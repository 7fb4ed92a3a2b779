//! Safe file access for router directories.
//!
//! `router.json` names the model and tokenizer files, and a router directory may come from
//! anyone: every named path must be a plain relative path that resolves (symlinks followed)
//! inside the router directory, every read is a regular file read with a size cap, and every
//! write goes to a fresh temporary file in the destination renamed over the canonical name, so
//! a pre-existing symlink at that name is replaced, never written through.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, TierscopeError};

/// Largest `model.onnx` read: ONNX protobufs without external data cannot exceed 2 GiB.
pub const MODEL_CAP: u64 = 2 << 30;
/// Largest `tokenizer.json` read (BERT's is ~0.7 MB; the largest multilingual ones ~20 MB).
pub const TOKENIZER_CAP: u64 = 64 << 20;
/// Largest `router.json` read (a head and tail statistics for a 1024-wide encoder are ~30 MB).
pub const CONFIG_CAP: u64 = 64 << 20;

/// Check that `value` (the `router.json` field `field`) is a plain relative path: non-empty,
/// not absolute, no `..` component. Returns the reason when it is not.
pub fn check_relative(field: &str, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err(format!("field `{field}`: expected a file name inside the router directory, got \"\""));
    }
    if value.contains('\0') {
        return Err(format!("field `{field}`: expected a file name, got a name containing NUL"));
    }
    let path = Path::new(value);
    // `\` is a separator on Windows and `C:` a prefix: refuse both everywhere, so a router
    // directory means the same thing on every platform.
    if path.is_absolute() || value.starts_with(['/', '\\']) || value.contains(':') {
        return Err(format!(
            "field `{field}`: expected a relative path inside the router directory, got the absolute path {value:?}"
        ));
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        || value.split(['/', '\\']).any(|part| part == "..")
    {
        return Err(format!(
            "field `{field}`: expected a path inside the router directory, got {value:?} (no `..` components)"
        ));
    }
    Ok(())
}

/// Resolve `value`, the `router.json` field `field`, inside `dir`: a plain relative path whose
/// canonical form (symlinks followed) lies inside the canonical `dir`. `what` names the file in
/// a not-found error.
pub fn resolve_inside(dir: &Path, field: &str, value: &str, what: &str) -> Result<PathBuf> {
    let config = dir.join("router.json");
    check_relative(field, value).map_err(|reason| TierscopeError::model_load(&config, reason))?;
    let root =
        dir.canonicalize().map_err(|e| TierscopeError::model_load(dir, format!("cannot resolve: {e}")))?;
    let joined = root.join(value);
    let resolved = joined.canonicalize().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            TierscopeError::FileNotFound { what: what.into(), path: joined.clone() }
        } else {
            TierscopeError::model_load(&joined, format!("field `{field}`: cannot resolve: {e}"))
        }
    })?;
    if !resolved.starts_with(&root) || resolved == root {
        return Err(TierscopeError::model_load(
            &config,
            format!(
                "field `{field}`: {value:?} resolves to {}, outside the router directory {}",
                resolved.display(),
                root.display()
            ),
        ));
    }
    Ok(resolved)
}

/// Read the regular file `path` (`what` names it in errors), refusing anything larger than `cap`
/// bytes: devices, FIFOs and directories are refused before they are opened, the size is
/// checked on the open handle, and the read itself stops at `cap + 1` bytes, so a file that
/// grows (or lies about its size, as /proc files do) cannot exhaust memory.
pub fn read_bounded(path: &Path, what: &str, cap: u64) -> Result<Vec<u8>> {
    let not_regular =
        |kind: &str| TierscopeError::model_load(path, format!("{what}: expected a regular file, got {kind}"));
    let metadata = std::fs::metadata(path).map_err(|e| open_error(path, what, e))?;
    if !metadata.is_file() {
        // Checked before opening: opening a FIFO for reading blocks until a writer appears.
        return Err(not_regular(file_kind(&metadata)));
    }
    let file = std::fs::File::open(path).map_err(|e| open_error(path, what, e))?;
    let metadata = file.metadata().map_err(|e| open_error(path, what, e))?;
    if !metadata.is_file() {
        return Err(not_regular(file_kind(&metadata)));
    }
    let too_big = |size: String| {
        TierscopeError::model_load(path, format!("{what}: larger than the {cap}-byte limit ({size})"))
    };
    if metadata.len() > cap {
        return Err(too_big(format!("{} bytes", metadata.len())));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| open_error(path, what, e))?;
    if bytes.len() as u64 > cap {
        return Err(too_big("it grew while being read".into()));
    }
    Ok(bytes)
}

fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    if metadata.is_dir() {
        "a directory"
    } else {
        "a device, FIFO or socket"
    }
}

fn open_error(path: &Path, what: &str, e: std::io::Error) -> TierscopeError {
    if e.kind() == std::io::ErrorKind::NotFound {
        TierscopeError::FileNotFound { what: what.into(), path: path.to_path_buf() }
    } else {
        // An unreadable file is a router that cannot be loaded, not a bare I/O failure.
        TierscopeError::model_load(path, format!("{what}: cannot read: {e}"))
    }
}

/// Write `bytes` to `dir/name` atomically: into a new temporary file in `dir` (created
/// exclusively, so no existing file or symlink is followed), then renamed over `name`, which
/// replaces whatever `name` was (a symlink included) without touching what it pointed to.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let target = dir.join(name);
    if target.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Err(TierscopeError::io(
            &target,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a directory is in the way"),
        ));
    }
    let temp =
        dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, &target)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        TierscopeError::io(&target, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tierscope-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_plain_relative_paths_pass() {
        for ok in ["model.onnx", "sub/model.onnx", "./model.onnx"] {
            assert!(check_relative("model.file", ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "../x", "a/../../x", "/etc/passwd", "/proc/self/environ", "..", "a\\..\\b", "C:x", "\\x"]
        {
            let err = check_relative("model.file", bad).unwrap_err();
            assert!(err.contains("`model.file`"), "{bad}: {err}");
        }
    }

    #[test]
    fn symlinks_out_of_the_directory_are_refused() {
        let dir = scratch("symlink");
        let outside = scratch("symlink-outside").join("secret");
        std::fs::write(&outside, b"x").unwrap();
        std::fs::write(dir.join("inside"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.join("inside"), dir.join("inner-link")).unwrap();
        let err = resolve_inside(&dir, "model.file", "link", "model file").unwrap_err().to_string();
        assert!(err.contains("outside the router directory") && err.contains("model.file"), "{err}");
        assert!(resolve_inside(&dir, "model.file", "inner-link", "model file").is_ok());
        let err = resolve_inside(&dir, "model.tokenizer", "missing", "tokenizer").unwrap_err();
        assert!(matches!(err, TierscopeError::FileNotFound { .. }), "{err}");
        let err = resolve_inside(&dir, "model.file", ".", "model file").unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");
    }

    #[test]
    fn reads_are_bounded_and_regular_only() {
        let dir = scratch("bounded");
        std::fs::write(dir.join("small"), b"12345").unwrap();
        assert_eq!(read_bounded(&dir.join("small"), "f", 5).unwrap(), b"12345");
        let err = read_bounded(&dir.join("small"), "f", 4).unwrap_err().to_string();
        assert!(err.contains("limit"), "{err}");
        for special in [Path::new("/dev/zero"), dir.as_path()] {
            let err = read_bounded(special, "model file", MODEL_CAP).unwrap_err();
            assert!(matches!(err, TierscopeError::ModelLoad { .. }), "{err}");
            assert!(err.to_string().contains("regular file"), "{err}");
        }
        // /proc files report size 0 but are regular: the cap still bounds the read.
        if Path::new("/proc/self/environ").exists() {
            let _ = read_bounded(Path::new("/proc/self/environ"), "f", 1 << 20);
        }
    }

    #[test]
    fn atomic_writes_replace_symlinks_instead_of_following_them() {
        let dir = scratch("atomic");
        let outside = scratch("atomic-outside").join("victim");
        std::fs::write(&outside, b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("model.onnx")).unwrap();
        write_atomic(&dir, "model.onnx", b"new").unwrap();
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        assert_eq!(std::fs::read(dir.join("model.onnx")).unwrap(), b"new");
        assert!(!dir.join("model.onnx").symlink_metadata().unwrap().file_type().is_symlink());
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
