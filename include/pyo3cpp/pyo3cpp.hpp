// pyo3cpp.hpp — the whole C++ API. Include this (after nothing, or after <Python.h>).
//
//   Borrowed<T>, Bound<T>, Py<T>   ownership of Python references   (borrowed/bound/py.hpp)
//   Python, attach, detach         attachment to the interpreter    (python.hpp, attach.hpp)
//   PyErr                          Python exceptions as C++ ones     (error.hpp)
//   TraverseGuard                  debug-checked tp_traverse bodies  (traverse.hpp)
//   typed views: PyAny methods (any.hpp), PyDict (dict.hpp), PyList (list.hpp), PyTuple,
//     PyString, PyBytes, PyInt, PyFloat, PyBool, PyNone, PyType, PyModule (pymodule.hpp),
//     iterators (iterator.hpp); calls (call.hpp); conversions (convert.hpp);
//     strong-reference C API shims (compat.hpp)
//   critical_section, Mutex        locks that never deadlock         (critical_section/mutex.hpp)
//   PYO3CPP_MODULE, ModuleDef      defining an extension module      (module.hpp)
//   Callable<R(A...)>, std::function  callbacks both ways           (callable.hpp)
//   PYO3CPP_CLASS, ClassDef<T>     Python classes from C++ types     (class_policy.hpp, class.hpp,
//                                  class_object.hpp, instance_lock.hpp)
//   Trampoline<T>, Retained<T>     Python overrides of C++ virtuals  (trampoline.hpp)
//   OnceCell, OnceLock             lazily initialised state          (once_cell/once_lock.hpp)
//   intern<"s">, import_cached<>   cached interned names, imports    (intern.hpp, import.hpp)
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/python.hpp"
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/any_impl.hpp"
#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/critical_section.hpp"
#include "pyo3cpp/exclusive_section.hpp"
#include "pyo3cpp/mutex.hpp"
#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/call.hpp"
#include "pyo3cpp/compat.hpp"
#include "pyo3cpp/dict.hpp"
#include "pyo3cpp/list.hpp"
#include "pyo3cpp/tuple.hpp"
#include "pyo3cpp/string.hpp"
#include "pyo3cpp/bytes.hpp"
#include "pyo3cpp/int.hpp"
#include "pyo3cpp/float.hpp"
#include "pyo3cpp/bool.hpp"
#include "pyo3cpp/none.hpp"
#include "pyo3cpp/type.hpp"
#include "pyo3cpp/pymodule.hpp"
#include "pyo3cpp/iterator.hpp"
#include "pyo3cpp/once_cell.hpp"
#include "pyo3cpp/once_lock.hpp"
#include "pyo3cpp/intern.hpp"
#include "pyo3cpp/import.hpp"
#include "pyo3cpp/traverse.hpp"
#include "pyo3cpp/module.hpp"
#include "pyo3cpp/callable.hpp"
#include "pyo3cpp/class_policy.hpp"
#include "pyo3cpp/instance_lock.hpp"
#include "pyo3cpp/class_object.hpp"
#include "pyo3cpp/class.hpp"
#include "pyo3cpp/keep_alive.hpp"
#include "pyo3cpp/buffer.hpp"
#include "pyo3cpp/buffer_convert.hpp"
#include "pyo3cpp/array.hpp"
#include "pyo3cpp/trampoline.hpp"
