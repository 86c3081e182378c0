// intern.hpp — intern<"literal">(py): an interned Python str made once and cached for good.
//
// What it is for: attribute and method names. Looking up `obj.append` with a str that is
// already interned skips hashing and string building on every call; PyO3's intern! does the
// same. call_method(name, ...) uses it for literal names.
//
// Contract:
//   - One cached interned str per distinct literal per shared object (DSO): the cache is a
//     pyo3cpp_object_cell (abi/pyo3cpp.h) that is an inline variable of the template, so every
//     translation unit of one extension shares it.
//   - The first call builds it with PyUnicode_InternFromString under the cell's exactly-once
//     protocol (concurrent first callers wait detached); every later call is one acquire load
//     of the cached pointer, inline, with no call into libpyo3cpp.
//   - Returns a Borrowed<PyString>: the cell keeps the str alive (interned strings are immortal
//     on 3.12+ anyway). The literal must be valid UTF-8; otherwise PyErr(UnicodeDecodeError)
//     is thrown and the next call retries.
//   - Thread: any attached thread (the Python token proves it).
//   - Interpreter finalisation: the cell forgets its str without a decref (the interpreter
//     that owned it is gone) and becomes empty; after a re-initialisation the next call
//     interns afresh in the new interpreter. Never a decref into a dead interpreter.
//
// Example:
//     auto name = pyo3cpp::intern<"append">(py);                 // Borrowed<PyString>
//     PyObject_CallMethodOneArg(list, name.as_ptr(), item);
//
// Cost after the first call: one acquire load (a plain load on x86-64) and a null test.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/fixed_string.hpp"

namespace pyo3cpp {

namespace detail {
// The cache behind intern<S>: static storage, zero-initialised (PYO3CPP_OBJECT_CELL_INIT), so
// it needs no dynamic initialisation and is usable before main and from any DSO constructor.
template <FixedString S> inline pyo3cpp_object_cell intern_cell = PYO3CPP_OBJECT_CELL_INIT;

// The slow path, out of line so the fast path stays a few instructions.
template <FixedString S> [[gnu::noinline, gnu::cold]] PyObject *intern_slow(Python py)
{
    PyObject *str = pyo3cpp_intern(&intern_cell<S>, S.c_str());
    if (str == nullptr) throw_fetched(py);
    return str;
}
}  // namespace detail

// See the contract at the top of this file.
template <FixedString S> inline Borrowed<PyString> intern(Python py)
{
    PyObject *str = pyo3cpp_object_cell_get(&detail::intern_cell<S>);
    if (__builtin_expect(str == nullptr, 0)) str = detail::intern_slow<S>(py);
    return Borrowed<PyString>::from_ptr(py, str);
}

}  // namespace pyo3cpp
