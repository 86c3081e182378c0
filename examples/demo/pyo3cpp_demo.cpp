// pyo3cpp_demo — the smallest real extension: owned references that cross threads.
//
//   >>> import pyo3cpp_demo
//   >>> pyo3cpp_demo.drop_on_foreign_thread([object() for _ in range(1000)])
//   (1000, 1000)   # references queued by a thread Python never created, then drained
#include <Python.h>

#include <pyo3cpp/pyo3cpp.hpp>

#include <thread>
#include <vector>

using namespace pyo3cpp;

namespace {

// Takes every item of `items`, moves the owned references to a std::thread that is not
// attached, drops them there, then re-attaches to drain the pool. Returns (queued, drained).
PyObject *drop_on_foreign_thread(PyObject *, PyObject *items_arg)
{
    auto py = Python::assume_attached();
    try {
        auto items = Borrowed<PyAny>::from_ptr(py, items_arg).cast<PyList>();
        std::vector<Py<PyAny>> owned;
        const Py_ssize_t n = PyList_GET_SIZE(items.as_ptr());
        for (Py_ssize_t i = 0; i < n; ++i)
            owned.push_back(Py<PyAny>::from_borrowed_ptr(py, PyList_GET_ITEM(items.as_ptr(), i)));
        const long before = pyo3cpp_pool_pending();
        long queued = 0;
        detach(py, [&] {
            std::thread([&, refs = std::move(owned)]() mutable {
                refs.clear();  // not attached: every decref is queued in the pool
                queued = pyo3cpp_pool_pending() - before;
            }).join();
        });  // re-attaching drained the pool
        const long drained = queued - (pyo3cpp_pool_pending() - before);
        return Py_BuildValue("(ll)", queued, drained);
    } catch (const PyErr &err) {
        err.restore(py);
        return nullptr;
    }
}

PyObject *runtime_python(PyObject *, PyObject *)
{
    int major = 0, minor = 0, free_threaded = 0;
    pyo3cpp_runtime_python(&major, &minor, &free_threaded);
    return Py_BuildValue("(iiO)", major, minor, free_threaded ? Py_True : Py_False);
}

int exec_module(PyObject *module)
{
    (void)module;
    return PYO3CPP_CHECK_RUNTIME("pyo3cpp_demo");
}

PyMethodDef methods[] = {
    {"drop_on_foreign_thread", drop_on_foreign_thread, METH_O,
     "Drop owned references of the list's items on a non-Python thread; return (queued, drained)."},
    {"runtime_python", runtime_python, METH_NOARGS,
     "(major, minor, free_threaded) of the CPython the loaded libpyo3cpp.so was built for."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef_Slot slots[] = {
    {Py_mod_exec, reinterpret_cast<void *>(exec_module)},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "pyo3cpp_demo",
                          "pyo3cpp's smallest real extension.", 0, methods, slots,
                          nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit_pyo3cpp_demo(void) { return PyModuleDef_Init(&module_def); }
