//! tierscope: the Rust core of a cost-routing layer that does not break the product.
//!
//! - [`router`]: batched encoder classification (ONNX Runtime + tokenizers + rayon) with calibrated
//!   probabilities and a long-tail score, and head training without torch.
//! - [`stats`]: stratified sampling statistics for per-tier quality: intervals, designs, budget
//!   allocation, estimators, sequential alarms, drift and planning.
//!
//! Everything outside `python` is pure Rust: `cargo test --no-default-features` runs without Python.

pub mod error;
pub mod router;
pub mod runtime;
pub mod stats;

#[cfg(feature = "python")]
mod python;

pub use error::{Result, TierscopeError};
