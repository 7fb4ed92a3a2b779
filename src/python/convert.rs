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
use pyo3::Borrowed;

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

/// A scalar (or small list) argument that PyO3 hands over without failing, checked where the
/// argument's name is known: [`Arg::get`] raises `InvalidInputError` naming it.
///
/// PyO3's own conversions raise a bare `OverflowError` (`-1` or `2**70` for a `u64`, without the
/// argument's name) or a `TypeError` (`"0.9"` for an `f64`), and take `True` as the number 1.
/// Taking `Arg<u64>` instead of `u64` makes every such value an `InvalidInputError` from Rust,
/// whatever the caller (the Python façade checks first; this is the defence in depth). A
/// default in `#[pyo3(signature = ...)]` is written `Arg::new(…)`, with an explicit
/// `text_signature` so Python still sees the literal default.
pub(crate) struct Arg<T>(std::result::Result<T, String>);

impl<T: Scalar> Arg<T> {
    /// An argument holding `value` (a signature default).
    pub(crate) const fn new(value: T) -> Self {
        Self(Ok(value))
    }

    /// The value, or an `InvalidInputError` naming `name` and saying what was expected.
    pub(crate) fn get(self, name: &str) -> PyResult<T> {
        self.0.map_err(|got| errors::invalid(name, &format!("{}, got {got}", T::expected())))
    }
}

/// An optional [`Arg`] (`None` passes through).
pub(crate) fn opt_arg<T: Scalar>(arg: Option<Arg<T>>, name: &str) -> PyResult<Option<T>> {
    arg.map(|a| a.get(name)).transpose()
}

impl<'a, 'py, T: Scalar> FromPyObject<'a, 'py> for Arg<T> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let obj: &Bound<'py, PyAny> = &obj;
        Ok(Self(T::convert(obj).ok_or_else(|| short_repr(obj))))
    }
}

/// A value an [`Arg`] can hold: how to convert it (None: refused) and what it expects.
pub(crate) trait Scalar: Sized {
    /// What the argument expects, for the error message.
    fn expected() -> String;
    /// `object` as `Self`; None when it is not one (bools are never numbers).
    fn convert(object: &Bound<'_, PyAny>) -> Option<Self>;
}

/// Python's `bool` and numpy's `bool_`: never accepted as numbers.
fn is_bool(object: &Bound<'_, PyAny>) -> bool {
    object.is_instance_of::<pyo3::types::PyBool>() || matches!(type_name(object).as_str(), "bool_" | "bool")
}

macro_rules! number_scalar {
    ($($ty:ty => $expected:expr),+ $(,)?) => {$(
        impl Scalar for $ty {
            fn expected() -> String {
                $expected.to_owned()
            }
            fn convert(object: &Bound<'_, PyAny>) -> Option<Self> {
                if is_bool(object) || object.is_instance_of::<PyString>() {
                    return None;
                }
                object.extract::<$ty>().ok()
            }
        }
    )+};
}

number_scalar!(
    u32 => "an integer in [0, 4294967295]",
    u64 => "an integer in [0, 18446744073709551615]",
    usize => "an integer in [0, 18446744073709551615]",
    i64 => "a 64-bit integer",
    f64 => "a real number",
);

impl Scalar for String {
    fn expected() -> String {
        "a str".to_owned()
    }
    fn convert(object: &Bound<'_, PyAny>) -> Option<Self> {
        object.cast::<PyString>().ok()?.to_str().ok().map(str::to_owned)
    }
}

impl<T: Scalar> Scalar for Vec<T> {
    fn expected() -> String {
        format!("a list whose items are each {}", T::expected())
    }
    fn convert(object: &Bound<'_, PyAny>) -> Option<Self> {
        let items: Vec<Bound<'_, PyAny>> = if let Ok(list) = object.cast::<PyList>() {
            list.iter().collect()
        } else {
            object.cast::<PyTuple>().ok()?.iter().collect()
        };
        items.iter().map(T::convert).collect()
    }
}

impl<A: Scalar, B: Scalar> Scalar for (A, B) {
    fn expected() -> String {
        format!("a pair ({}, {})", A::expected(), B::expected())
    }
    fn convert(object: &Bound<'_, PyAny>) -> Option<Self> {
        let tuple = object.cast::<PyTuple>().ok()?;
        if tuple.len() != 2 {
            return None;
        }
        Some((A::convert(&tuple.get_item(0).ok()?)?, B::convert(&tuple.get_item(1).ok()?)?))
    }
}

/// `repr(object)`, cut at 80 characters (a broken `__repr__` shows the type name).
fn short_repr(object: &Bound<'_, PyAny>) -> String {
    let shown = object.repr().map(|r| r.to_string()).unwrap_or_else(|_| format!("<{}>", type_name(object)));
    if shown.chars().count() <= 80 {
        shown
    } else {
        shown.chars().take(77).collect::<String>() + "..."
    }
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
