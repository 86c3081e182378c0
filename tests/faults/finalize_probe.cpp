// finalize_probe.cpp — fault injection across interpreter finalisation, in its own process (a
// finalised interpreter cannot be brought back inside a GoogleTest binary that needs it).
//
// Finalises CPython while the process still holds live Py<T> (on the heap and on a thread that
// is not attached), initialised once-cells (C++ OnceLock, C object cell, intern, import cache)
// and a waiting worker thread; then checks that using all of them afterwards is safe (Py<T> are
// leaked, never decref'd into the dead interpreter; attach refuses instead of hanging), that a
// re-initialised interpreter gets fresh cells, and that nothing is left queued. TAP output.
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/import.hpp>
#include <pyo3cpp/intern.hpp>
#include <pyo3cpp/once_lock.hpp>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace pyo3cpp;

namespace {

int g_count = 0, g_failed = 0;
void check(bool ok, const char *what)
{
    ++g_count;
    if (!ok) ++g_failed;
    std::printf("%s %d - %s\n", ok ? "ok" : "not ok", g_count, what);
    std::fflush(stdout);
}

OnceLock<Py<PyAny>> g_cached("finalize_probe.g_cached");
pyo3cpp_object_cell g_c_cell = PYO3CPP_OBJECT_CELL_INIT;

PyObject *make_list(void *) { return PyList_New(0); }

struct Worker {
    std::mutex m;
    std::condition_variable cv;
    bool finalised = false;
    bool dropped_ok = false, refused_attach = false, not_attached = false;
    std::thread thread;

    void start(Py<PyAny> held)
    {
        thread = std::thread([this, held = std::move(held)]() mutable {
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return finalised; });
            const long pending = pyo3cpp_pool_pending();
            { Py<PyAny> dropped = std::move(held); }  // after finalisation: leaked, not queued
            dropped_ok = pyo3cpp_pool_pending() == pending;
            auto guard = try_attach();
            refused_attach = !guard;
            not_attached = pyo3cpp_is_attached() == 0;
        });
    }
};

// One interpreter lifetime: initialise cells, use them, return the objects they hold.
void use_cells(Python py, PyObject **lock_value, PyObject **c_value)
{
    *lock_value = g_cached.get_or_init(py, [&] {
                              return Py<PyAny>::from_owned_ptr(py, PyDict_New());
                          }).as_ptr();
    *c_value = pyo3cpp_object_cell_get_or_init(&g_c_cell, make_list, nullptr, "g_c_cell");
    (void)intern<"finalize_probe_name">(py);
    (void)import_cached<"math", "pi">(py);
}

}  // namespace

int main()
{
    Py_InitializeEx(0);
    PyThreadState *main_state = PyEval_SaveThread();

    Worker worker;
    Py<PyAny> *heap_py = nullptr;
    PyObject *first_lock_value = nullptr, *first_c_value = nullptr;
    {
        auto g = attach();
        auto py = g.py();
        use_cells(py, &first_lock_value, &first_c_value);
        check(first_lock_value != nullptr && first_c_value != nullptr, "cells initialised");
        heap_py = new Py<PyAny>(Py<PyAny>::from_owned_ptr(py, PyList_New(0)));
        worker.start(Py<PyAny>::from_owned_ptr(py, PyList_New(0)));
    }

    PyEval_RestoreThread(main_state);
    check(Py_FinalizeEx() == 0, "Py_FinalizeEx succeeds with live Py<T>, cells and threads");
    {
        std::lock_guard<std::mutex> lock(worker.m);
        worker.finalised = true;
    }
    worker.cv.notify_all();
    worker.thread.join();
    check(worker.dropped_ok, "a Py<T> dropped on another thread after finalisation is leaked");
    check(worker.refused_attach, "try_attach after finalisation returns an empty guard");
    check(worker.not_attached, "is_attached is 0 after finalisation");

    const long pending = pyo3cpp_pool_pending();
    delete heap_py;  // must neither crash nor queue
    check(pyo3cpp_pool_pending() == pending, "a heap Py<T> deleted after finalisation is leaked");
    bool threw = false;
    try {
        auto g = attach();
    } catch (const std::runtime_error &) {
        threw = true;
    }
    check(threw, "attach after finalisation throws instead of hanging");
    check(pyo3cpp_object_cell_get(&g_c_cell) == nullptr, "C object cell forgot its object");
    check(g_cached.get() == nullptr, "OnceLock forgot its value");

    // A second interpreter: every cell initialises afresh and the library works as new.
    Py_InitializeEx(0);
    main_state = PyEval_SaveThread();
    {
        auto g = attach();
        auto py = g.py();
        PyObject *lock_value = nullptr, *c_value = nullptr;
        use_cells(py, &lock_value, &c_value);
        check(lock_value != nullptr && PyDict_Check(lock_value), "OnceLock re-initialised");
        check(c_value != nullptr && PyList_Check(c_value), "C object cell re-initialised");
        check(Py_REFCNT(c_value) >= 1, "re-initialised cell holds a live object");
        auto obj = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
        Py<PyAny> held = obj.unbind();
        detach(py, [&] { std::thread([h = std::move(held)] {}).join(); });
        check(pyo3cpp_pool_pending() == 0, "deferred pool works and drains in the new interpreter");
        check(Py_REFCNT(obj.as_ptr()) == 1, "refcounts exact in the new interpreter");
        check(!PyErr_Occurred(), "no Python error pending");
    }
    PyEval_RestoreThread(main_state);
    check(Py_FinalizeEx() == 0, "second Py_FinalizeEx succeeds");
    std::printf("1..%d\n", g_count);
    return g_failed == 0 ? 0 : 1;
}
