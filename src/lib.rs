//! tierscope: the Rust core of a cost-routing layer that does not break the product.
//!
//! - [`router`]: batched encoder classification (ONNX Runtime + tokenizers + rayon) with calibrated
//!   probabilities and a long-tail score, and head training without torch.
//! - [`stats`]: stratified sampling statistics for per-tier quality: intervals, designs, budget
//!   allocation, estimators, sequential alarms, drift and planning.
//! - [`pool`]: the rayon worker pools every parallel computation runs on (per process, rebuilt
//!   after `fork()`; rayon's global pool is never used).
//! - [`cpu`]: the x86-64 instruction-set class (AVX2, AVX-512, VNNI, AMX) recorded with models and
//!   benchmarks.
//!
//! Everything outside `python` is pure Rust: `cargo test --no-default-features` runs without Python.

pub mod cpu;
pub mod error;
pub mod pool;
pub mod router;
pub mod runtime;
pub mod stats;

#[cfg(feature = "python")]
mod python;

pub use error::{Result, TierscopeError};
