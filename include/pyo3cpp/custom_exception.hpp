// custom_exception.hpp — a Python exception class declared by a module, raised for a C++
// exception type.
//
//   struct ParseError : std::runtime_error { using std::runtime_error::runtime_error; };
//   struct SyntaxProblem : ParseError { using ParseError::ParseError; };
//
//   PYO3CPP_MODULE(mymod, m) {
//       m.exception<ParseError>("ParseError", PyExc_ValueError, "Input could not be parsed.");
//       m.exception<SyntaxProblem, ParseError>("SyntaxProblem");   // subclass of mymod.ParseError
//       m.def("parse", parse);            // throw ParseError("line 3") -> mymod.ParseError
//   }
//   raise from C++ too:  throw PyErr::new_err(py, exception_type<ParseError>(py).as_ptr(), "...");
//
// Contract:
//   - The class is created at the module's first exec (PyErr_NewExceptionWithDoc), named
//     "<module>.<Name>" so that __module__, __qualname__, repr and pickling are right, and added
//     to the module. One class per C++ type per interpreter: a second module declaring the same
//     C++ type reuses it (the first declaration's name and base win).
//   - A C++ exception of type E (or derived from it) thrown by any function of the defining
//     extension becomes that class, with what() as its message (non-UTF-8 bytes replaced).
//     Declare a base before its subclasses: translators are tried newest first, so the most
//     derived C++ type wins.
//   - Chaining: throw it with std::throw_with_nested inside a catch block and the Python
//     exception's __cause__ is the one being handled (a PyErr from Python code, or another C++
//     exception, translated): `raise ParseError(...) from original`.
// Thread: definition-time registration; the translator runs on any attached thread.
// Cost: none until E is thrown; then one rethrow per translator tried.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>
#include <exception>
#include <string>
#include <type_traits>
#include <typeinfo>

#include "pyo3cpp/exception_translation.hpp"
#include "pyo3cpp/once_lock.hpp"
#include "pyo3cpp/py.hpp"

namespace pyo3cpp {

namespace detail {

template <class E> struct ExceptionBinding {
    static inline OnceLock<Py<PyAny>> type{"custom exception class"};
    static inline std::atomic<bool> registered{false};

    static bool translate(Python) noexcept
    {
        const Py<PyAny> *cls = type.get();
        if (cls == nullptr) return false;
        try {
            throw;
        } catch (const E &e) {
            if constexpr (std::is_base_of_v<std::exception, E>)
                set_error_message(cls->as_ptr(), e.what());
            else
                PyErr_SetNone(cls->as_ptr());
            return true;
        } catch (...) {
            return false;
        }
    }

    static void register_translator()
    {
        if (!registered.exchange(true)) register_exception_translator(&translate);
    }

    // The class, made on first use: "<module>.<name>" deriving from `base`.
    static Borrowed<PyAny> create(Python py, const std::string &qualified_name, const char *doc,
                                  PyObject *base)
    {
        const Py<PyAny> &cls = type.get_or_init(py, [&] {
            return Bound<PyAny>::from_owned_ptr(
                       py, PyErr_NewExceptionWithDoc(qualified_name.c_str(), doc, base, nullptr))
                .unbind();
        });
        return cls.bind_borrowed(py);
    }
};

}  // namespace detail

// The Python class declared for C++ exception type E (ModuleDef::exception<E>), once the module
// has been imported; TypeError before that.
template <class E> Borrowed<PyAny> exception_type(Python py)
{
    const Py<PyAny> *cls = detail::ExceptionBinding<E>::type.get();
    if (cls == nullptr)
        throw PyErr::new_err(py, PyExc_TypeError,
                             "no Python exception class is declared for this C++ exception type "
                             "(ModuleDef::exception<E>) or its module is not imported yet");
    return cls->bind_borrowed(py);
}

}  // namespace pyo3cpp
