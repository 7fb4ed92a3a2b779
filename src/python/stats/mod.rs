//! Bindings for `tierscope.stats`, one file per module of [`crate::stats`] it binds.
//!
//! Each function converts its arguments ([`crate::python::convert`]: numpy arrays read in
//! place, codes narrowed), runs the core with the GIL released through
//! [`crate::python::gil::detached`], and returns the core's result as a frozen result class
//! (`Stats*`, declared with [`crate::python::convert::result_class!`]) or numpy arrays. Every
//! check of the arguments' values (ranges, lengths, consistency) is in the core. The stateful
//! classes (aggregate, monitor, CUSUM) are `frozen` with their state in a `Mutex`, locked only
//! with the GIL released (getters: [`crate::python::gil::read`]), so threads may share one
//! object; updates validate before they change it. Names carry a `stats_` prefix (classes a
//! `Stats` prefix) because `_core` registration is flat.

mod aggregate;
mod allocation;
mod design;
mod drift;
mod estimators;
mod gaps;
mod intervals;
mod planning;
mod ppi;
mod sequential;
mod simulate;
mod special;
mod summary;

use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    special::register(m)?;
    intervals::register(m)?;
    design::register(m)?;
    allocation::register(m)?;
    estimators::register(m)?;
    aggregate::register(m)?;
    gaps::register(m)?;
    sequential::register(m)?;
    simulate::register(m)?;
    drift::register(m)?;
    planning::register(m)?;
    summary::register(m)?;
    ppi::register(m)?;
    Ok(())
}
