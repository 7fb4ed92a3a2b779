//! Stratified sampling statistics for per-tier quality.
