// string.hpp — PyString: typed view of a Python str, with UTF-8 in and out.
//
//   Bound<PyString> s = new_string(py, "héllo");        // UnicodeDecodeError for invalid UTF-8
//   std::string_view v = s.to_string_view();            // valid while `s` lives
//   std::string copy = s.to_string();
//   Bound<PyString> key = intern_string(py, "name");    // the interned (shared) str
//
// Contract: requires attachment; failures throw PyErr. A str holding lone surrogates has no
// UTF-8 form: to_string/to_string_view raise UnicodeEncodeError. to_string_view points into
// the UTF-8 buffer CPython caches inside the str object: it is valid exactly as long as that
// object is alive (keep the Bound, not just the view).
// Thread: any attached thread; str objects are immutable (the UTF-8 cache is filled
// thread-safely by CPython 3.13t).
// Cost: to_string_view is free after the first call on a given object (the cache); new_string
// decodes and allocates once.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <string>
#include <string_view>

#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyString> : AnyMethods<Self> {
    // The UTF-8 text, borrowed from the str object (see the lifetime rule above).
    std::string_view to_string_view() const
    {
        Py_ssize_t size = 0;
        const char *utf8 = PyUnicode_AsUTF8AndSize(this->ptr(), &size);
        if (utf8 == nullptr) throw_fetched(this->token());
        return std::string_view(utf8, static_cast<std::size_t>(size));
    }
    // The UTF-8 text, copied.
    std::string to_string() const { return std::string(to_string_view()); }
    // Length in code points (len(s)). Never fails.
    std::size_t len() const noexcept { return static_cast<std::size_t>(PyUnicode_GetLength(this->ptr())); }
};

// A new str decoded strictly from UTF-8; UnicodeDecodeError when `utf8` is not valid UTF-8.
template <class Dep = void> detail::bound_t<Dep, PyString> new_string(Python py, std::string_view utf8)
{
    return detail::bound_t<Dep, PyString>::from_owned_ptr(
        py, PyUnicode_DecodeUTF8(utf8.data(), static_cast<Py_ssize_t>(utf8.size()), "strict"));
}

// The interned str with this text (equal strings share one object). For names used once per
// program prefer a compile-time cached name (call_method<"name">, getattr<"name">).
template <class Dep = void> detail::bound_t<Dep, PyString> intern_string(Python py, std::string_view utf8)
{
    PyObject *text = PyUnicode_DecodeUTF8(utf8.data(), static_cast<Py_ssize_t>(utf8.size()), "strict");
    if (text == nullptr) throw_fetched(py);
    PyUnicode_InternInPlace(&text);  // replaces `text` by the interned object, references kept right
    return detail::bound_t<Dep, PyString>::from_owned_ptr_unchecked(py, text);
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
