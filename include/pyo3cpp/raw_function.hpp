// raw_function.hpp — def_raw<&fn>: a function whose C entry point is generated at compile time
// for `fn`, with CPython's own calling conventions and no binding layer at all.
//
//   Borrowed<PyAny> heappop(Python py, Borrowed<PyAny> heap);
//   m.def_raw<&heappop>("heappop", "heappop($module, heap, /)\n--\n\nPop the smallest item.");
//
// Contract: fn is a function (or a captureless lambda) known at compile time; `__self__` is the
// module (as with a PyMethodDef table), and the calling convention follows fn's parameters
// after `Python` [, Borrowed<PyModule> module]:
//   ()                                                     METH_NOARGS
//   (Borrowed<PyAny> arg)                                  METH_O
//   (const Borrowed<PyAny> *args, Py_ssize_t nargs)        METH_FASTCALL
//   (const Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames)
//                                                          METH_FASTCALL | METH_KEYWORDS
// CPython itself checks what the convention implies (METH_O: "f() takes exactly one argument
// (0 given)"; no keywords unless METH_KEYWORDS). Results and exceptions as for def(). The doc is
// used as given: start it with "name($module, a, /)\n--\n\n" for a __text_signature__.
// Thread: any attached thread, concurrently on free-threaded builds.
// Cost: fn's own work plus the result conversion; a try/catch that costs nothing unless
// something throws. The interpreter's call specialisations apply (it is a plain built-in).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/function.hpp"

namespace pyo3cpp::detail {

// ----------------------------------------------------- def_raw<&fn>: compile-time raw entries

// fn's parameters after `Python`: an optional leading Borrowed<PyModule>, then one of the four
// calling conventions (header comment).
template <class List> struct raw_params {
    static constexpr bool takes_token = false, takes_module = false;
    using rest = List;
};
template <class... Rest> struct raw_params<type_list<Python, Rest...>> {
    static constexpr bool takes_token = true, takes_module = false;
    using rest = type_list<Rest...>;
};
template <class... Rest> struct raw_params<type_list<Python, Borrowed<PyModule>, Rest...>> {
    static constexpr bool takes_token = true, takes_module = true;
    using rest = type_list<Rest...>;
};

template <class List> inline constexpr int raw_flags = 0;  // 0: not a raw signature
template <> inline constexpr int raw_flags<type_list<>> = METH_NOARGS;
template <> inline constexpr int raw_flags<type_list<Borrowed<PyAny>>> = METH_O;
template <>
inline constexpr int raw_flags<type_list<const Borrowed<PyAny> *, Py_ssize_t>> = METH_FASTCALL;
template <>
inline constexpr int raw_flags<type_list<const Borrowed<PyAny> *, Py_ssize_t, Borrowed<PyAny>>> =
    METH_FASTCALL | METH_KEYWORDS;

// The C functions CPython calls for def_raw<Fn>: one per Fn, instantiated at compile time, so a
// call is CPython's dispatch straight into Fn (inlined here), with exceptions translated.
template <auto Fn> struct StaticRawEntry {
    using params = raw_params<typename callable_traits<decltype(Fn)>::args>;
    static constexpr int flags = raw_flags<typename params::rest>;
    static_assert(params::takes_token && flags != 0,
                  "pyo3cpp::ModuleDef::def_raw<fn>: fn must take (Python [, Borrowed<PyModule>]) "
                  "then (), (Borrowed<PyAny>), (const Borrowed<PyAny> *, Py_ssize_t) or (const "
                  "Borrowed<PyAny> *, Py_ssize_t, Borrowed<PyAny> kwnames)");

    template <class... A> static PyObject *run(PyObject *module, A... args)
    {
        static constexpr auto fn = Fn;
        Python py = Python::assume_attached();
        try {
            if constexpr (params::takes_module)
                return call_and_convert(py, fn, py,
                                        Borrowed<PyAny>::from_ptr(py, module).cast_unchecked<PyModule>(),
                                        args...);
            else
                return call_and_convert(py, fn, py, args...);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }
    // Borrowed<PyAny> is layout-identical to PyObject* (static_asserts in borrowed.hpp).
    static const Borrowed<PyAny> *view(PyObject *const *args) noexcept
    {
        return reinterpret_cast<const Borrowed<PyAny> *>(args);
    }
    static PyObject *no_args(PyObject *module, PyObject *) { return run(module); }
    static PyObject *one_arg(PyObject *module, PyObject *arg)
    {
        return run(module, Borrowed<PyAny>::from_ptr(Python::assume_attached(), arg));
    }
    static PyObject *fastcall(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
    {
        return run(module, view(args), nargs);
    }
    static PyObject *fastcall_keywords(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                       PyObject *kwnames)
    {
        return run(module, view(args), nargs,
                   Borrowed<PyAny>::from_ptr(Python::assume_attached(), kwnames));
    }

    // ml_meth for this convention (CPython casts it back according to ml_flags).
    static PyCFunction method() noexcept
    {
        if constexpr (flags == METH_NOARGS)
            return &no_args;
        else if constexpr (flags == METH_O)
            return &one_arg;
        else if constexpr (flags == METH_FASTCALL)
            return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(&fastcall));
        else
            return reinterpret_cast<PyCFunction>(
                reinterpret_cast<void (*)(void)>(&fastcall_keywords));
    }
};

}  // namespace pyo3cpp::detail
