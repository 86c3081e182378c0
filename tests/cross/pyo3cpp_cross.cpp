// pyo3cpp_cross — a C++ extension built with clang++ and libc++ through pyo3cpp's public headers
// (include/pyo3cpp + abi/pyo3cpp.h), loaded next to a libpyo3cpp.so built with g++ and libstdc++.
// Nothing C++ crosses between the two: the extension's std::thread, std::string, exceptions and
// vtables are libc++'s; the library's are libstdc++'s; they meet only at the C ABI. This is what
// pybind11 and nanobind cannot do. Exercised by tests/cross/test_cross.py:
//   drop_refs_on_thread(list)  owned Py<T> dropped on a libc++ std::thread, queued in the pool
//   bound_roundtrip(obj)       Bound/Py copy, clone, unbind, bind: refcounts balance
//   cached_object()            a once-cell initialised exactly once across racing threads
//   locked_sum(list)           a consistent snapshot under a critical section
//   raise_value_error(msg), raise_cpp(msg), call_and_translate(f)   exceptions back to Python
//   toolchain()                the compiler and standard library this module was built with
#include <Python.h>

#include <pyo3cpp/pyo3cpp.hpp>  // the umbrella: the supported way in

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// OnceLock needs std::atomic_ref (C++20), which libc++ 14 lacks: there the C ABI's object cell
// (the same runtime underneath) stands in. With a newer libc++ the C++ cell is used.
#if defined(__cpp_lib_atomic_ref) && __has_include(<pyo3cpp/once_lock.hpp>)
#include <pyo3cpp/once_lock.hpp>
#define CROSS_USES_ONCE_LOCK 1
#else
#define CROSS_USES_ONCE_LOCK 0
#endif

using namespace pyo3cpp;

namespace {

// Runs body(py) and turns any C++ exception into the Python exception the caller sees.
template <class F> PyObject *translate(F &&body) noexcept
{
    auto py = Python::assume_attached();
    try {
        return body(py);
    } catch (const PyErr &err) {
        err.restore(py);
    } catch (const std::exception &err) {
        PyErr_SetString(PyExc_RuntimeError, err.what());
    } catch (...) {
        PyErr_SetString(PyExc_SystemError, "unknown C++ exception");
    }
    return nullptr;
}

PyObject *drop_refs_on_thread(PyObject *, PyObject *items)
{
    return translate([&](Python py) -> PyObject * {
        if (!PyList_Check(items)) PyErr::raise(py, PyExc_TypeError, "expected a list");
        std::vector<Py<PyAny>> owned;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); ++i)
            owned.push_back(Py<PyAny>::from_borrowed_ptr(py, PyList_GET_ITEM(items, i)));
        const long before = pyo3cpp_pool_pending();
        long queued = 0;
        detach(py, [&] {
            std::thread([&, refs = std::move(owned)]() mutable {
                refs.clear();  // never attached: each decref goes to the g++-built pool
                queued = pyo3cpp_pool_pending() - before;
            }).join();
        });  // re-attaching drained the pool
        return Py_BuildValue("(ll)", queued, pyo3cpp_pool_pending() - before);
    });
}

PyObject *bound_roundtrip(PyObject *, PyObject *obj)
{
    return translate([&](Python py) -> PyObject * {
        auto first = Bound<PyAny>::from_borrowed_ptr(py, obj);
        Bound<PyAny> copy = first;                    // incref
        Py<PyAny> stored = std::move(copy).unbind();  // steal
        Py<PyAny> clone = stored.clone_ref(py);       // incref
        Bound<PyAny> back = clone.bind(py);           // incref
        if (back.as_ptr() != obj || stored.as_ptr() != obj) PyErr::raise(py, PyExc_AssertionError, "identity lost");
        return std::move(back).into_ptr();  // the caller owns one reference; the rest drop here
    });
}

std::atomic<int> cached_inits{0};

PyObject *make_cached(Python py)
{
    cached_inits.fetch_add(1, std::memory_order_relaxed);
    detach(py, [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });  // widen the race
    return Py_BuildValue("(ss)", "cached", "by clang++/libc++");
}

#if CROSS_USES_ONCE_LOCK
OnceLock<Py<PyAny>> cached_cell("pyo3cpp_cross.cached");
#else
pyo3cpp_object_cell cached_cell = PYO3CPP_OBJECT_CELL_INIT;
#endif

PyObject *cached_object(PyObject *, PyObject *)
{
    return translate([&](Python py) -> PyObject * {
#if CROSS_USES_ONCE_LOCK
        const Py<PyAny> &value = cached_cell.get_or_init(py, [&] { return Py<PyAny>::from_owned_ptr(py, make_cached(py)); });
        return value.clone_ref(py).into_ptr();
#else
        PyObject *value = pyo3cpp_object_cell_get_or_init(
            &cached_cell, [](void *) -> PyObject * { return make_cached(Python::assume_attached()); }, nullptr,
            "pyo3cpp_cross.cached");
        if (value == nullptr) throw PyErr::fetch(py);
        return Bound<PyAny>::from_borrowed_ptr(py, value).into_ptr();
#endif
    });
}

PyObject *cached_init_count(PyObject *, PyObject *) { return PyLong_FromLong(cached_inits.load()); }

// (len, sum) of a list of ints, read under a critical section: a consistent snapshot while
// other threads append. Only lock-free macros inside: on CPython 3.13t a C API call that locks
// the same object (PyList_Append, PyDict_SetItem) would suspend this section.
PyObject *locked_sum(PyObject *, PyObject *list)
{
    return translate([&](Python py) -> PyObject * {
        if (!PyList_Check(list)) PyErr::raise(py, PyExc_TypeError, "locked_sum: expected a list");
        auto l = Bound<PyAny>::from_borrowed_ptr(py, list);
        Py_ssize_t size = 0;
        long long total = 0;
        critical_section(py, l, [&] {
            size = PyList_GET_SIZE(list);
            for (Py_ssize_t i = 0; i < size; ++i) {
                PyObject *item = PyList_GET_ITEM(list, i);
                if (!PyLong_CheckExact(item)) PyErr::raise(py, PyExc_TypeError, "locked_sum: items must be ints");
                total += PyLong_AsLongLong(item);
            }
        });
        return Py_BuildValue("(nL)", size, total);
    });
}

PyObject *raise_value_error(PyObject *, PyObject *message)
{
    return translate([&](Python py) -> PyObject * {
        const char *text = PyUnicode_AsUTF8(message);
        if (text == nullptr) throw PyErr::fetch(py);
        throw PyErr::new_err(py, PyExc_ValueError, std::string("clang++/libc++ says: ") + text);
    });
}

PyObject *raise_cpp(PyObject *, PyObject *message)
{
    return translate([&](Python py) -> PyObject * {
        const char *text = PyUnicode_AsUTF8(message);
        if (text == nullptr) throw PyErr::fetch(py);
        throw std::runtime_error(std::string("std::runtime_error: ") + text);
    });
}

PyObject *call_and_translate(PyObject *, PyObject *callable)
{
    return translate([&](Python py) -> PyObject * {
        PyObject *result = PyObject_CallNoArgs(callable);
        if (result == nullptr) throw PyErr::fetch(py);  // Python -> C++ exception -> Python
        return result;
    });
}

PyObject *toolchain(PyObject *, PyObject *)
{
#ifdef __clang__
    std::string text = "clang " __clang_version__;
#else
    std::string text = "not clang: " __VERSION__;
#endif
#ifdef _LIBCPP_VERSION
    text += " libc++ " + std::to_string(_LIBCPP_VERSION);
#endif
    return Py_BuildValue("(si)", text.c_str(), CROSS_USES_ONCE_LOCK);
}

int exec_module(PyObject *) { return PYO3CPP_CHECK_RUNTIME("pyo3cpp_cross"); }

PyMethodDef methods[] = {
    {"drop_refs_on_thread", drop_refs_on_thread, METH_O, nullptr},
    {"bound_roundtrip", bound_roundtrip, METH_O, nullptr},
    {"cached_object", cached_object, METH_NOARGS, nullptr},
    {"cached_init_count", cached_init_count, METH_NOARGS, nullptr},
    {"locked_sum", locked_sum, METH_O, nullptr},
    {"raise_value_error", raise_value_error, METH_O, nullptr},
    {"raise_cpp", raise_cpp, METH_O, nullptr},
    {"call_and_translate", call_and_translate, METH_O, nullptr},
    {"toolchain", toolchain, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef_Slot slots[] = {{Py_mod_exec, reinterpret_cast<void *>(exec_module)},
#if PY_VERSION_HEX >= 0x030D0000
                            {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
                            {0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "pyo3cpp_cross", "clang++/libc++ against a g++ libpyo3cpp.so",
                          0, methods, slots, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit_pyo3cpp_cross(void) { return PyModuleDef_Init(&module_def); }
