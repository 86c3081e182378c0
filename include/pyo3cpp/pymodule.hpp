// pymodule.hpp — PyModule: importing modules and using module objects. (Defining a module of
// your own is module.hpp.)
//
//   Bound<PyModule> json = import(py, "json");         // ImportError as PyErr
//   Bound<PyAny> dumps = json.getattr("dumps");
//   mod.add_object("VERSION", "1.0");                  // module.VERSION = "1.0"
//
// Contract: requires attachment; failures throw PyErr. import() goes through the import
// system every call (sys.modules hit after the first); cache the result in a once-cell or
// use pyo3cpp_import_cached for hot paths.
// Cost: one C API call each.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <string>
#include <string_view>

#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyModule> : AnyMethods<Self> {
    // module.<name> = value; value is a Python object or anything IntoPython converts.
    template <class Value> void add_object(const char *name, const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Value>> held(this->token(), value);
        detail::check_int(this->token(), PyModule_AddObjectRef(this->ptr(), name, held.get()));
    }
    // module.__name__.
    detail::bound_t<Self, PyString> name() const
    {
        return detail::bound_t<Self, PyString>::from_owned_ptr(this->token(),
                                                                PyModule_GetNameObject(this->ptr()));
    }
    // module.__dict__ (a strong reference).
    detail::bound_t<Self, PyDict> dict() const
    {
        PyObject *dict = PyModule_GetDict(this->ptr());  // borrowed; the module keeps it
        return detail::bound_t<Self, PyDict>::from_borrowed_ptr(this->token(), dict);
    }
};

// import name (dotted names give the leaf module, like importlib.import_module).
template <class Dep = void> detail::bound_t<Dep, PyModule> import(Python py, const char *name)
{
    return detail::bound_t<Dep, PyModule>::from_owned_ptr(py, PyImport_ImportModule(name));
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
