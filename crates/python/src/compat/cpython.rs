//! Lists of floats read straight from CPython's objects, where this interpreter's layout is
//! checked to be the one every CPython 3.x release build has.
//!
//! Under the stable ABI (the abi3 wheel) a list's items and a float's value are reached only
//! through `PyList_GetItem` and `PyFloat_AsDouble`: two calls into libpython per element,
//! about two thirds of a `BranchSelector.step` on 500 cached 384-d embeddings. The layouts
//! behind those calls (`PyListObject`'s item array, `PyFloatObject`'s double) have not changed
//! since Python 2, but the limited API does not promise them, so the module probes them once
//! on objects it makes itself ([`probe`]): on an interpreter where anything differs (PyPy,
//! some future CPython), every read goes through the two calls as before. Only exact lists
//! and exact floats take the direct read; subclasses (numpy's `float64`), ints and
//! everything else keep the API's conversion.

use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyList};

/// `PyObject`'s head in a release build: reference count (a union of one machine word since
/// 3.12), then the type.
#[repr(C)]
struct Head {
    _refcnt: isize,
    ty: *mut ffi::PyTypeObject,
}

/// `PyListObject`: the variable-size head, then the item array and its capacity.
#[repr(C)]
struct List {
    head: Head,
    size: ffi::Py_ssize_t,
    items: *mut *mut ffi::PyObject,
    allocated: ffi::Py_ssize_t,
}

/// `PyFloatObject`.
#[repr(C)]
struct Float {
    head: Head,
    value: f64,
}

/// The exact `list` and `float` types, as addresses, once the layout has been checked.
#[derive(Clone, Copy)]
struct Types {
    list: usize,
    float: usize,
}

static TYPES: OnceLock<Option<Types>> = OnceLock::new();

fn type_of(obj: *mut ffi::PyObject) -> usize {
    // SAFETY: only called on live objects after `probe` found `Head` to be their layout.
    unsafe { (*obj.cast::<Head>()).ty as usize }
}

/// Makes a float and a two-item list through the API and reads them back through the
/// layouts above: the direct path is used only when every field is where it should be.
fn probe(py: Python<'_>) -> Option<Types> {
    const VALUE: f64 = -1_234.567_890_123;
    let float = PyFloat::new(py, VALUE);
    let other = PyFloat::new(py, 0.5);
    let list = PyList::new(py, [&float, &other]).ok()?;
    // `tp_basicsize` (opaque under the limited API, so read as `type.__basicsize__`): the
    // reads below stay inside the objects.
    let basic_size = |obj: &Bound<'_, PyAny>| obj.get_type().getattr("__basicsize__").ok()?.extract::<usize>().ok();
    if basic_size(float.as_any())? < size_of::<Float>() || basic_size(list.as_any())? < size_of::<List>() {
        return None;
    }
    let (f, o, l) = (float.as_ptr(), other.as_ptr(), list.as_ptr());
    // SAFETY: all three objects are alive (bound above) and at least as large as the structs
    // read; the GIL is held.
    let found = unsafe {
        let fl = &*f.cast::<Float>();
        let li = &*l.cast::<List>();
        fl.head.ty == ffi::Py_TYPE(f)
            && fl.value.to_bits() == VALUE.to_bits()
            && li.head.ty == ffi::Py_TYPE(l)
            && li.size == 2
            && li.allocated >= 2
            && *li.items == f
            && *li.items.add(1) == o
    };
    found.then(|| Types { list: type_of(l), float: type_of(f) })
}

/// The elements of `list` as f64 when it is an exact list of exact floats on a checked
/// interpreter; `None` sends the caller to the API's conversion (which also names a bad
/// element).
pub fn floats(list: &Bound<'_, PyAny>) -> Option<Vec<f64>> {
    let types = (*TYPES.get_or_init(|| probe(list.py())))?;
    let obj = list.as_ptr();
    if type_of(obj) != types.list {
        return None;
    }
    // SAFETY: `obj` is an exact list (checked above against the probed type) and the GIL is
    // held, so its item array holds `size` live objects and no Python code runs to change it
    // while it is read.
    unsafe {
        let l = &*obj.cast::<List>();
        let items = std::slice::from_raw_parts(l.items, usize::try_from(l.size).ok()?);
        let mut out = Vec::with_capacity(items.len());
        for &item in items {
            if type_of(item) != types.float {
                return None;
            }
            out.push((*item.cast::<Float>()).value);
        }
        Some(out)
    }
}
