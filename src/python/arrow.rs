//! Routing texts held in an Arrow string column without building Python `str` objects: the
//! column's offsets and data buffers arrive as numpy views (see `tierscope.routing._inputs`),
//! and the texts are cut from them in Rust with the GIL released.

use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::convert;
use super::gil::detached;
use super::router::{RouteColumns, RouterCore};
use crate::error::{Result, TierscopeError};

/// The texts of an Arrow `string`/`large_string` layout: row `i` is
/// `data[offsets[i]..offsets[i + 1]]`; a row whose `valid[i]` is false (a null) is `""`.
fn texts_from_buffers(offsets: &[i64], data: &[u8], valid: Option<&[bool]>) -> Result<Vec<String>> {
    let n = offsets.len().saturating_sub(1);
    if valid.is_some_and(|v| v.len() != n) {
        return Err(TierscopeError::invalid("valid", format!("one flag per text ({n})")));
    }
    (0..n)
        .map(|i| {
            if valid.is_some_and(|v| !v[i]) {
                return Ok(String::new());
            }
            let (start, end) = (offsets[i], offsets[i + 1]);
            let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
            let bytes = match range {
                Some((s, e)) if s <= e && e <= data.len() => &data[s..e],
                _ => {
                    return Err(TierscopeError::invalid(
                        format!("offsets[{i}]"),
                        format!("ascending offsets within the {}-byte data buffer", data.len()),
                    ))
                }
            };
            std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
                TierscopeError::invalid(format!("texts[{i}]"), "valid UTF-8 (an Arrow string column)")
            })
        })
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_become_texts_and_nulls_become_empty() {
        let data = "héllo!ab".as_bytes();
        let texts = texts_from_buffers(&[0, 6, 7, 9], data, Some(&[true, false, true])).unwrap();
        assert_eq!(texts, vec!["héllo".to_string(), String::new(), "ab".to_string()]);
        assert!(texts_from_buffers(&[0, 12], data, None).unwrap_err().to_string().contains("offsets[0]"));
        assert!(texts_from_buffers(&[0, 2], &[0xff, 0xfe], None)
            .unwrap_err()
            .to_string()
            .contains("texts[0]"));
        assert!(texts_from_buffers(&[0], data, None).unwrap().is_empty());
    }
}
