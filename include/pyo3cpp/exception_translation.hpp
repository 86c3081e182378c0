// exception_translation.hpp — turning the C++ exception being handled into the Python exception
// a bound function raises.
//
//   try { ... } PYO3CPP_CATCH_ALL { translate_current_exception(py); return nullptr; }
//
// The table, tried in this order:
//   1. translators registered with register_exception_translator (newest first): a module's
//      custom exceptions (ModuleDef::exception<E>) register one each;
//   2. PyErr -> itself; std::bad_alloc -> MemoryError; std::out_of_range -> IndexError;
//      std::invalid_argument, std::domain_error -> ValueError; std::overflow_error ->
//      OverflowError; other std::exception -> RuntimeError(what()); anything else -> SystemError.
// Chaining: a C++ exception thrown with std::throw_with_nested (so that it carries the
// exception it was handling, for instance a PyErr from Python code it called) becomes a Python
// exception whose __cause__ is the translation of the nested one: `raise Outer from inner`
// (rethrowing the PyErr being handled that way stays that one exception, never its own cause).
// Thread: any attached thread. Cost: nothing until something throws; then one rethrow per
// translator tried.
// The registry is per shared object (each extension module has its own): a module's translators
// apply to the functions of the extensions they were registered in.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

#include "pyo3cpp/compat.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/forced_unwind.hpp"

namespace pyo3cpp {

// A translator is called inside a catch block: it rethrows (`throw;`), catches the C++ types it
// knows, sets a Python exception and returns true; for anything else it returns false. It must
// not let an exception escape.
using ExceptionTranslator = bool (*)(Python py) noexcept;

namespace detail {

struct TranslatorNode {
    ExceptionTranslator translate;
    TranslatorNode *next;
};
inline std::atomic<TranslatorNode *> g_translators{nullptr};

// PyErr_SetString with a message that may not be valid UTF-8 (what() of a C++ exception).
inline void set_error_message(PyObject *type, const char *message) noexcept
{
    PyObject *text = PyUnicode_DecodeUTF8(message, static_cast<Py_ssize_t>(std::strlen(message)),
                                          "replace");
    if (text == nullptr) return;  // MemoryError is set
    PyErr_SetObject(type, text);
    Py_DECREF(text);
}

inline void translate_builtin(Python py) noexcept
{
    try {
        throw;
    } catch (const PyErr &err) {
        err.restore(py);
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
    } catch (const std::out_of_range &e) {
        set_error_message(PyExc_IndexError, e.what());
    } catch (const std::invalid_argument &e) {
        set_error_message(PyExc_ValueError, e.what());
    } catch (const std::domain_error &e) {
        set_error_message(PyExc_ValueError, e.what());
    } catch (const std::overflow_error &e) {
        set_error_message(PyExc_OverflowError, e.what());
    } catch (const std::exception &e) {
        set_error_message(PyExc_RuntimeError, e.what());
    } catch (...) {  // callers have let a forced unwind through already (PYO3CPP_CATCH_ALL)
        PyErr_SetString(PyExc_SystemError, "unknown C++ exception");
    }
}

inline void translate_one(Python py) noexcept
{
    for (TranslatorNode *node = g_translators.load(std::memory_order_acquire); node != nullptr;
         node = node->next)
        if (node->translate(py)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_SystemError, "an exception translator set no exception");
            return;
        }
    translate_builtin(py);
}

}  // namespace detail

// Adds a translator (see above), tried before those registered earlier. Call it while defining
// a module; translators are never removed.
inline void register_exception_translator(ExceptionTranslator translate)
{
    auto *node = new detail::TranslatorNode{translate, nullptr};
    detail::TranslatorNode *head = detail::g_translators.load(std::memory_order_relaxed);
    do {
        node->next = head;
    } while (!detail::g_translators.compare_exchange_weak(head, node, std::memory_order_release,
                                                          std::memory_order_relaxed));
}

// Call inside a catch block: sets the Python exception that corresponds to the C++ exception
// being handled (the table above). Then return NULL / -1 to CPython.
inline void translate_current_exception(Python py) noexcept
{
    detail::translate_one(py);
    std::exception_ptr nested;
    try {
        throw;
    } catch (const std::nested_exception &outer) {
        nested = outer.nested_ptr();
    } catch (...) {
    }
    if (!nested) return;
    PyObject *outer = compat::take_raised_exception();
    try {
        std::rethrow_exception(nested);
    } catch (...) {
        translate_current_exception(py);  // the nested one may carry its own cause
    }
    PyObject *cause = compat::take_raised_exception();
    if (outer == nullptr) {  // translation failed (MemoryError, ...): keep what is there
        compat::set_raised_exception(cause);
        return;
    }
    if (cause == outer) {  // throw_with_nested(e) of the PyErr e being handled: one exception
        Py_DECREF(cause);
        compat::set_raised_exception(outer);
        return;
    }
    if (cause != nullptr) {
        Py_INCREF(cause);
        PyException_SetContext(outer, cause);  // both steal
        PyException_SetCause(outer, cause);   // and sets __suppress_context__, as `from` does
    }
    compat::set_raised_exception(outer);
}

}  // namespace pyo3cpp
