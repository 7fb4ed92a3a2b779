//! Argument conversion shared by every binding: numpy inputs read in place, integer codes,
//! lists of texts; and [`result_class!`], the one way a core result struct becomes a Python
//! object.
//!
//! # Zero-copy inputs
//!
//! Float arrays arrive as [`F64Array`] (a read-only borrow through rust-numpy's borrow checker).
//! [`f64_slice`] hands the core the array's own buffer when it is C-contiguous and copies it
//! (once) only when it is not; the slice then goes into the closure given to
//! [`super::gil::detached`], which runs with the GIL released. The Python façade makes every
//! input a contiguous `float64` array (`np.ascontiguousarray`, itself a no-op on one), so large
//! inputs are never copied on the way in. Integer codes are narrowed from `int64` to the core's
//! `u32` ([`crate::stats::codes`], which checks the range): the one conversion they need, done
//! once, inside the GIL-released closure.
//!
//! Mutating an input array from another thread while a call reads it is undefined: the GIL is
//! released, nothing stops the other thread, and the core may read a half-written array (a
//! data race). numpy's borrow flags only guard against other Rust code taking a mutable borrow.

use std::borrow::Cow;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::errors;
pub(crate) use crate::stats::codes;

/// A read-only `float64` numpy array argument.
pub(crate) type F64Array<'py> = PyReadonlyArray1<'py, f64>;
/// A read-only `int64` numpy array argument (integer codes, counts).
pub(crate) type I64Array<'py> = PyReadonlyArray1<'py, i64>;

/// The elements of a one-dimensional array of any numpy dtype: its own buffer when it is
/// contiguous, else a copy.
pub(crate) fn slice_of<'a, T: numpy::Element + Copy>(array: &'a PyReadonlyArray1<'_, T>) -> Cow<'a, [T]> {
    match array.as_slice() {
        Ok(slice) => Cow::Borrowed(slice),
        Err(_) => Cow::Owned(array.as_array().to_vec()),
    }
}

/// The elements of `array`: its own buffer when it is contiguous, else a copy.
pub(crate) fn f64_slice<'a>(array: &'a F64Array<'_>) -> Cow<'a, [f64]> {
    slice_of(array)
}

/// [`f64_slice`] of an optional array.
pub(crate) fn opt_f64_slice<'a>(array: &'a Option<F64Array<'_>>) -> Option<Cow<'a, [f64]>> {
    array.as_ref().map(f64_slice)
}

/// The elements of an `int64` array: its own buffer when it is contiguous, else a copy.
pub(crate) fn i64_slice<'a>(array: &'a I64Array<'_>) -> Cow<'a, [i64]> {
    match array.as_slice() {
        Ok(slice) => Cow::Borrowed(slice),
        Err(_) => Cow::Owned(array.as_array().to_vec()),
    }
}

/// Copy a Python list/tuple of `str` into Rust, naming the first bad item.
pub(crate) fn texts(texts: &Bound<'_, PyAny>, argument: &str) -> PyResult<Vec<String>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(list) = texts.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = texts.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return Err(errors::invalid(argument, &format!("a list of str, got {}", type_name(texts))));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.cast::<PyString>() {
            Ok(s) => s.to_str().map(str::to_owned).map_err(|_| {
                errors::invalid(
                    &format!("{argument}[{i}]"),
                    "valid Unicode text (lone surrogates cannot be encoded)",
                )
            }),
            Err(_) => {
                Err(errors::invalid(&format!("{argument}[{i}]"), &format!("a str, got {}", type_name(item))))
            }
        })
        .collect()
}

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

/// Declare a frozen Python result class whose read-only attributes mirror a core result struct
/// field for field, and its `From` conversion. The core struct is destructured without `..`,
/// so a field added in the core does not compile here until the class mirrors it. Nested core
/// structs convert through their own result class (`.into()`).
macro_rules! result_class {
    (
        $(#[$meta:meta])*
        $class:ident from $core:ident { $($field:ident: $ty:ty),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[pyo3::pyclass(frozen, get_all, module = "tierscope._core")]
        #[derive(Clone)]
        pub(crate) struct $class {
            $($field: $ty),+
        }

        impl From<$core> for $class {
            fn from(value: $core) -> Self {
                let $core { $($field),+ } = value;
                Self { $($field: $field.into()),+ }
            }
        }
    };
}
pub(crate) use result_class;
