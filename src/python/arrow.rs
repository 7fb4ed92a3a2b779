//! Routing texts held in an Arrow string column without building Python `str` objects: the
//! column's offsets and data buffers arrive as numpy views (see `tierscope.routing._inputs`),
//! and the texts are cut from them in Rust with the GIL released.

use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::convert;
use super::gil::detached;
use super::router::{RouteColumns, RouterCore};
use crate::router::inputs::texts_from_buffers;

/// Route the texts of an Arrow string column given as its buffers (`offsets`: `n + 1` int64
/// values, `data`: the UTF-8 bytes, `valid`: optional null mask, true = present).
#[pyfunction]
#[pyo3(signature = (router, offsets, data, valid=None, *, with_embeddings=false))]
fn route_utf8(
    py: Python<'_>,
    router: &RouterCore,
    offsets: PyReadonlyArray1<'_, i64>,
    data: PyReadonlyArray1<'_, u8>,
    valid: Option<PyReadonlyArray1<'_, bool>>,
    with_embeddings: bool,
) -> PyResult<RouteColumns> {
    if offsets.len() == 0 {
        return Err(super::errors::invalid("offsets", "n + 1 offsets (at least one)"));
    }
    let offsets = convert::slice_of(&offsets);
    let data = convert::slice_of(&data);
    let valid = valid.as_ref().map(convert::slice_of);
    let inner = router.inner();
    let out = detached(py, (offsets, data, valid), |(offsets, data, valid)| {
        let texts = texts_from_buffers(&offsets, &data, valid.as_deref())?;
        inner.route_batch(&texts, with_embeddings)
    })?;
    RouteColumns::new(py, out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(route_utf8, m)?)?;
    Ok(())
}
