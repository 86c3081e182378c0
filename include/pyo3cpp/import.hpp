// import.hpp — import_cached<"module">(py) and import_cached<"module", "attr">(py): a module, or
// one attribute of it, imported on first use and cached for good.
//
// What it is for: extension code that needs e.g. `decimal.Decimal` or `collections.abc` on a
// hot path, without an import (a dict lookup in sys.modules plus an attribute lookup) per call.
//
// Contract:
//   - One cache per distinct (module, attr) pair of literals per shared object (DSO): a
//     pyo3cpp_object_cell (abi/pyo3cpp.h) that is an inline variable of the template.
//   - The first call imports under the cell's exactly-once protocol (concurrent first callers
//     wait detached); every later call is one acquire load of the cached pointer, inline.
//   - Failure is not cached: a missing module throws PyErr(ModuleNotFoundError, an ImportError),
//     a missing attribute PyErr(AttributeError naming both module and attribute), and the next
//     call tries the import again (e.g. after sys.path changed).
//   - A module whose initialisation imports the same cached (module, attr) on the same thread
//     gets PyErr(RuntimeError naming "module.attr") instead of a deadlock.
//   - Returns a Borrowed<PyAny>: the cell keeps the object alive.
//   - Interpreter finalisation: the cell forgets its object without a decref and becomes
//     empty; after a re-initialisation the next call imports afresh.
//
// Thread: any attached thread (the Python token proves it).
//
// Example:
//     auto decimal = pyo3cpp::import_cached<"decimal", "Decimal">(py);
//     PyObject *d = PyObject_CallOneArg(decimal.as_ptr(), text);
//     auto json = pyo3cpp::import_cached<"json">(py);
//
// Cost after the first call: one acquire load and a null test.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/fixed_string.hpp"

namespace pyo3cpp {

namespace detail {
template <FixedString Module> inline pyo3cpp_object_cell import_module_cell =
    PYO3CPP_OBJECT_CELL_INIT;
template <FixedString Module, FixedString Attr> inline pyo3cpp_object_cell import_attr_cell =
    PYO3CPP_OBJECT_CELL_INIT;

[[gnu::noinline, gnu::cold]] inline PyObject *import_slow(Python py, pyo3cpp_object_cell *cell,
                                                          const char *module, const char *attr)
{
    PyObject *found = pyo3cpp_import_cached(cell, module, attr);
    if (found == nullptr) throw_fetched(py);
    return found;
}
}  // namespace detail

// The module `Module` (import_cached<"os.path">(py) gives the os.path module).
template <FixedString Module> inline Borrowed<PyAny> import_cached(Python py)
{
    PyObject *found = pyo3cpp_object_cell_get(&detail::import_module_cell<Module>);
    if (__builtin_expect(found == nullptr, 0))
        found = detail::import_slow(py, &detail::import_module_cell<Module>, Module.c_str(),
                                    nullptr);
    return Borrowed<PyAny>::from_ptr(py, found);
}

// The attribute `Attr` of module `Module`.
template <FixedString Module, FixedString Attr> inline Borrowed<PyAny> import_cached(Python py)
{
    PyObject *found = pyo3cpp_object_cell_get(&detail::import_attr_cell<Module, Attr>);
    if (__builtin_expect(found == nullptr, 0))
        found = detail::import_slow(py, &detail::import_attr_cell<Module, Attr>, Module.c_str(),
                                    Attr.c_str());
    return Borrowed<PyAny>::from_ptr(py, found);
}

}  // namespace pyo3cpp
