// type.hpp — PyType: typed view of a Python type object.
//
//   Bound<PyType> t = obj.get_type();
//   std::string n = t.name().to_string();         // "dict"
//   if (t.is_subclass(base)) ...                   // issubclass(t, base)
//
// Contract: requires attachment; failures throw PyErr.
// Cost: one C API call each.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyType> : AnyMethods<Self> {
    // type.__name__ and type.__qualname__.
    detail::bound_t<Self, PyString> name() const
    {
        return detail::bound_t<Self, PyString>::from_owned_ptr(this->token(), PyType_GetName(type()));
    }
    detail::bound_t<Self, PyString> qualname() const
    {
        return detail::bound_t<Self, PyString>::from_owned_ptr(this->token(),
                                                                PyType_GetQualName(type()));
    }
    // issubclass(self, base): base is a type or a tuple of types (TypeError otherwise).
    template <PythonObject Base> bool is_subclass(const Base &base) const
    {
        return detail::check_int(this->token(), PyObject_IsSubclass(this->ptr(), base.as_ptr())) == 1;
    }
    // The type object as CPython's struct, borrowed.
    PyTypeObject *type() const noexcept { return reinterpret_cast<PyTypeObject *>(this->ptr()); }
};

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
